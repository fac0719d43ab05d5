"""Kernel launcher for the grading sandbox: ``python -m autograder.sandbox.launch CONFIGS CONNECTION_FILE``.

Runs outside the sandbox (as the grader's user): reads the kernel's launch config, creates
its cgroups, then starts ipykernel inside bubblewrap with rlimits, and waits for it.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

NOBODY = "65534"


def bwrap_command(config: dict, connection_file: str) -> list[str]:
    """The bubblewrap command line that runs the kernel inside the sandbox."""
    limits = config["limits"]
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--uid", NOBODY, "--gid", NOBODY]
    # Mounts apply in order: the private /tmp first, so that binds of paths under /tmp (a
    # checkout or virtualenv there, the working and socket directories) land on top of it.
    cmd += ["--proc", "/proc", "--dev", "/dev", "--size", str(limits["tmp_mb"] * 2**20), "--tmpfs", "/tmp"]
    for path in config["read_only"]:
        cmd += ["--ro-bind", path, path]
    cmd += ["--bind", config["workdir"], config["workdir"], "--bind", config["sockets"], config["sockets"]]
    cmd += ["--chdir", config["workdir"], "--clearenv"]
    env = {
        "PATH": f"{Path(config['python']).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": config["workdir"],
        "TMPDIR": "/tmp",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        **config["env"],
    }
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd + ["--", config["python"], "-m", "ipykernel_launcher", "-f", connection_file]


def _enter_limits(config: dict) -> None:
    """Runs in the child before exec: join the cgroups and set rlimits."""
    limits = config["limits"]
    for controller, path in config["cgroups"].items():
        with open(Path(path) / "cgroup.procs", "w") as handle:
            handle.write(str(os.getpid()))
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_s"], limits["cpu_s"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mb"] * 2**20,) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def create_cgroups(config: dict) -> None:
    """Create the kernel's memory and pids cgroups with their limits."""
    limits = config["limits"]
    settings = {
        "memory": {"memory.limit_in_bytes": str(limits["memory_mb"] * 2**20)},
        "pids": {"pids.max": str(limits["pids"])},
    }
    for controller, path in config["cgroups"].items():
        folder = Path(path)
        folder.mkdir(exist_ok=True)
        for name, value in settings[controller].items():
            (folder / name).write_text(value)
    memsw = Path(config["cgroups"].get("memory", "/nonexistent")) / "memory.memsw.limit_in_bytes"
    if memsw.exists():
        try:
            memsw.write_text(str(limits["memory_mb"] * 2**20))
        except OSError:
            pass  # no swap accounting on this host


def main(argv: list[str]) -> int:
    """Launch one sandboxed kernel and wait for it to end."""
    configs, connection_file = Path(argv[0]), argv[1]
    config = json.loads((configs / f"{Path(connection_file).parent.name}.json").read_text())
    os.chmod(connection_file, 0o644)  # the kernel's user must read its connection file
    create_cgroups(config)
    log = open(configs / f"{Path(connection_file).parent.name}.log", "ab")  # kernel stderr, for diagnosis
    child = subprocess.Popen(
        bwrap_command(config, connection_file),
        preexec_fn=lambda: _enter_limits(config),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        return child.wait()
    except KeyboardInterrupt:  # interrupts travel as messages; ignore a stray SIGINT here
        return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
