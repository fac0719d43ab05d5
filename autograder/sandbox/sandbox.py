"""A sandboxed Jupyter kernel for untrusted submissions (bubblewrap + cgroup v1 + rlimits).

Each kernel runs as an unprivileged user in new namespaces (no network, own PIDs) and sees
a read-only system, Python environment, ``course_utils`` and data cache, a private /tmp,
and one writable directory: its own scratch working directory, which holds only the lab's
data files. Memory and process counts are capped by per-kernel cgroups, CPU time, file size
and open files by rlimits. The kernel talks to the grader over Unix sockets (``ipc``
transport) in a private 0700 directory, since TCP cannot cross the network namespace.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

KERNEL_NAME = "course-sandbox"
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one sandboxed kernel."""

    memory_mb: int = 4096
    pids: int = 256  # counts threads too: DataLoader workers and BLAS need some
    cpu_s: int = 1800
    file_mb: int = 512
    tmp_mb: int = 512  # the private /tmp (a tmpfs; its pages count against memory_mb)
    workdir_mb: int = 1024  # the working directory (a tmpfs too)
    open_files: int = 1024


def _own_cgroup(controller: str) -> Path | None:
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(","):
                return CGROUP_ROOT / controller / path.lstrip("/")
    except OSError:
        return None
    return None


def unavailable_reason() -> str | None:
    """Why this machine cannot run sandboxed kernels, or None when it can."""
    if not sys.platform.startswith("linux"):
        return f"sandboxed grading needs Linux (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    for controller in ("memory", "pids"):
        parent = _own_cgroup(controller)
        if parent is None or not os.access(parent, os.W_OK):
            return f"cannot create {controller} cgroups here (cgroup v1 at {CGROUP_ROOT}/{controller}, writable, is needed)"
    probe = subprocess.run(
        ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--", "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {probe.stderr.strip() or probe.returncode}"
    return None


def _read_only_paths() -> list[str]:
    paths = {"/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", sys.prefix, sys.base_prefix}
    paths.add(str(Path(sys.executable).resolve().parent.parent))
    import course_utils

    paths.add(str(Path(course_utils.__file__).resolve().parent))
    from course_utils.data.cache import cache_dir

    paths.add(str(cache_dir()))
    return sorted(p for p in paths if Path(p).exists())


class Sandbox:
    """A private directory holding the sandbox kernelspec, its sockets and per-kernel configs."""

    def __init__(self, limits: SandboxLimits = SandboxLimits(), env: dict[str, str] | None = None) -> None:
        self.limits = limits
        self.env = dict(env or {})
        self.root = Path(tempfile.mkdtemp(prefix="course-sandbox-"))
        os.chmod(self.root, 0o700)
        spec_dir = self.root / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        self.configs = self.root / "configs"  # readable by the grader only
        self.configs.mkdir()
        spec = {
            "argv": [sys.executable, "-m", "autograder.sandbox.launch", str(self.configs), "{connection_file}"],
            "display_name": "Course sandbox",
            "language": "python",
            "interrupt_mode": "message",
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")

    @property
    def kernel_dirs(self) -> list[str]:
        """Where jupyter_client should look for the sandbox kernelspec."""
        return [str(self.root / "kernels")]

    def prepare(self, workdir: Path) -> tuple[Path, dict]:
        """Create a socket directory and the launch config for a kernel working in ``workdir``.

        Returns the connection file path (inside the kernel's socket directory) and the config.
        """
        token = uuid.uuid4().hex[:12]
        sockets = self.root / f"k-{token}"
        sockets.mkdir(mode=0o777)
        os.chmod(sockets, 0o777)  # the kernel runs as another user and must create its sockets here
        os.chmod(workdir, 0o777)
        for path in workdir.rglob("*"):  # the lab's data files: the kernel's user copies them in
            if not path.is_symlink():
                os.chmod(path, path.stat().st_mode | (0o555 if path.is_dir() else 0o444))
        connection_file = sockets / "connection.json"
        config = {
            "workdir": str(workdir),
            "sockets": str(sockets),
            "read_only": _read_only_paths(),
            "python": sys.executable,
            "env": self.env,
            "limits": asdict(self.limits),
            "cgroups": {c: str(p / f"course-{token}") for c in ("memory", "pids") if (p := _own_cgroup(c))},
        }
        (self.configs / f"{sockets.name}.json").write_text(json.dumps(config), encoding="utf-8")
        return connection_file, config

    def cleanup_kernel(self, config: dict) -> None:
        """Remove a finished kernel's cgroups and socket directory."""
        for path in config.get("cgroups", {}).values():
            remove_cgroup(Path(path))
        shutil.rmtree(config["sockets"], ignore_errors=True)
        (self.configs / f"{Path(config['sockets']).name}.json").unlink(missing_ok=True)
        (self.configs / f"{Path(config['sockets']).name}.log").unlink(missing_ok=True)

    def close(self) -> None:
        """Delete the sandbox's private directory."""
        shutil.rmtree(self.root, ignore_errors=True)


def remove_cgroup(path: Path, wait_s: float = 5.0) -> None:
    """Kill what is left in a cgroup and remove it (best effort, bounded wait)."""
    if not path.exists():
        return
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
        except OSError:
            pids = []
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        try:
            path.rmdir()
            return
        except OSError:
            time.sleep(0.05)
