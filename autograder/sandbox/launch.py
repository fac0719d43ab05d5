"""Kernel launcher for the grading sandbox: ``python -m autograder.sandbox.launch CONFIGS CONNECTION_FILE``.

Runs outside the sandbox (as the grader's user): reads the kernel's launch config, creates
its cgroups, then starts ipykernel inside bubblewrap with rlimits, and waits for it.

When the grader runs as root, bubblewrap runs without a user namespace (root may mount
without one) and a tiny bootstrap inside the sandbox drops to the host's uid/gid 65534
before any student code runs, so the kernel has *nobody's* file access on the host: a
user namespace created by root would map the kernel's uid to the host's root. Otherwise a
user namespace maps the kernel's uid 65534 to the (unprivileged) grader's user.

bubblewrap itself starts with a minimal environment (``/proc/1/environ`` in the sandbox is
its environment), and the kernel with ``--clearenv`` plus the grading settings only.
The working directory is a size-capped tmpfs, filled with the lab's data files from a
read-only copy by the bootstrap; ``/tmp`` is a size-capped tmpfs too.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

NOBODY = "65534"
SEED = "/run/course-seed"  # read-only view of the prepared working directory, copied into the tmpfs

# Runs inside the sandbox before the kernel: drop root (privileged mode), make the tmpfs
# working directory the kernel's, copy the lab's data files into it, exec the kernel.
BOOTSTRAP = """\
import os, shutil, sys
seed, workdir, connection_file = sys.argv[1:4]
nobody = 65534
if os.getuid() == 0:
    os.chown(workdir, nobody, nobody)
    os.setgroups([])
    os.setresgid(nobody, nobody, nobody)
    os.setresuid(nobody, nobody, nobody)
    if os.getuid() == 0 or os.geteuid() == 0:
        sys.exit("the sandbox could not drop root")
shutil.copytree(seed, workdir, dirs_exist_ok=True, copy_function=shutil.copyfile)
os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file])
"""


def bubblewrap_env() -> dict[str, str]:
    """The environment bubblewrap itself starts with (visible in the sandbox as /proc/1/environ)."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def bwrap_command(config: dict, connection_file: str, privileged: bool | None = None) -> list[str]:
    """The bubblewrap command line that runs the kernel inside the sandbox.

    ``privileged`` (default: running as root) leaves out the user namespace: the bootstrap
    then drops to the host's uid 65534 itself.
    """
    if privileged is None:
        privileged = os.geteuid() == 0
    limits = config["limits"]
    cmd = ["bwrap"]
    if privileged:
        cmd += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    else:
        cmd += ["--unshare-all", "--uid", NOBODY, "--gid", NOBODY]
    cmd += ["--die-with-parent", "--new-session"]
    # Mounts apply in order: the private /tmp first, so that binds of paths under /tmp (a
    # checkout or virtualenv there, the working and socket directories) land on top of it.
    cmd += ["--proc", "/proc", "--dev", "/dev", "--size", str(limits["tmp_mb"] * 2**20), "--perms", "1777", "--tmpfs", "/tmp"]
    targets = [*config["read_only"], config["workdir"], SEED, config["sockets"]]
    for folder in _parents(targets, skip=("/tmp", "/proc", "/dev")):
        cmd += ["--perms", "0755", "--dir", folder]  # else bubblewrap makes them 0700, closed to the kernel's user
    for path in config["read_only"]:
        cmd += ["--ro-bind", path, path]
    workdir_mb = limits.get("workdir_mb", limits["tmp_mb"])
    cmd += ["--size", str(workdir_mb * 2**20), "--perms", "0777", "--tmpfs", config["workdir"]]
    cmd += ["--ro-bind", config["workdir"], SEED, "--bind", config["sockets"], config["sockets"]]
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
    return cmd + ["--", config["python"], "-I", "-c", BOOTSTRAP, SEED, config["workdir"], connection_file]


def _parents(targets: list[str], skip: tuple[str, ...]) -> list[str]:
    """Folders above the mount targets that bubblewrap would create, outermost first."""
    wanted = {str(Path(t)) for t in targets}
    found: set[str] = set()
    for target in wanted:
        for parent in Path(target).parents:
            folder = str(parent)
            if folder == "/" or folder in skip or folder in wanted:
                continue
            if any(folder.startswith(other.rstrip("/") + "/") for other in wanted):
                continue  # inside another mount: it exists there already
            found.add(folder)
    return sorted(found, key=lambda f: (f.count("/"), f))


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
    grader = os.getppid()  # the process that started this kernel; if it dies, so does the kernel
    config = json.loads((configs / f"{Path(connection_file).parent.name}.json").read_text())
    os.chmod(connection_file, 0o644)  # the kernel's user must read its connection file
    create_cgroups(config)
    log = open(configs / f"{Path(connection_file).parent.name}.log", "ab")  # kernel stderr, for diagnosis
    child = subprocess.Popen(
        bwrap_command(config, connection_file),
        env=bubblewrap_env(),
        preexec_fn=lambda: _enter_limits(config),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    return _wait_while_parent_lives(child, grader, config)


def _wait_while_parent_lives(child: subprocess.Popen, grader: int, config: dict, poll_s: float = 0.5) -> int:
    """Wait for the kernel; if the grader that started it dies (killed with SIGKILL, say), stop the
    kernel and empty its cgroups instead of leaving it running as an orphan."""
    while True:
        try:
            return child.wait(timeout=poll_s)
        except subprocess.TimeoutExpired:
            if os.getppid() != grader:
                child.kill()  # bwrap is the sandbox's PID 1: everything inside goes with it
                for path in config.get("cgroups", {}).values():
                    from autograder.sandbox.sandbox import remove_cgroup

                    remove_cgroup(Path(path))
                return child.wait()
        except KeyboardInterrupt:  # interrupts travel as messages; ignore a stray SIGINT here
            continue


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
