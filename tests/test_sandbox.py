import warnings

import pytest

from autograder import grade as grade_module
from autograder.grade import GradeOptions, SandboxUnavailable, choose_sandbox
from autograder.sandbox.sandbox import SandboxLimits
from autograder.sandbox.launch import bwrap_command


def test_bwrap_command_isolates_everything_but_the_workdir():
    config = {
        "workdir": "/tmp/w",
        "sockets": "/tmp/s",
        "read_only": ["/usr", "/venv"],
        "python": "/venv/bin/python",
        "env": {"COURSE_FAST": "1"},
        "limits": {"tmp_mb": 64},
    }
    unprivileged = bwrap_command(config, "/tmp/s/connection.json", privileged=False)
    assert unprivileged[:2] == ["bwrap", "--unshare-all"] and "--uid 65534 --gid 65534" in " ".join(unprivileged)
    cmd = bwrap_command(config, "/tmp/s/connection.json", privileged=True)
    joined = " ".join(cmd)
    # As root: no user namespace (it would map the kernel to the host's root); the bootstrap drops to 65534.
    assert "--unshare-user" not in cmd and "--unshare-all" not in cmd and "--uid" not in cmd
    assert all(f"--unshare-{ns}" in cmd for ns in ("pid", "net", "ipc", "uts"))
    assert "--die-with-parent" in cmd and "--clearenv" in cmd
    assert "--ro-bind /usr /usr" in joined and "--ro-bind /venv /venv" in joined
    assert "--tmpfs /tmp/w" in joined and "--ro-bind /tmp/w /run/course-seed" in joined and "--chdir /tmp/w" in joined
    assert "--setenv COURSE_FAST 1" in joined
    assert cmd[-3:] == ["/run/course-seed", "/tmp/w", "/tmp/s/connection.json"] and "setresuid" in cmd[-4]


def test_no_sandbox_means_refusal_unless_explicitly_allowed(monkeypatch):
    monkeypatch.setattr(grade_module, "unavailable_reason", lambda: "bubblewrap is not installed")
    with pytest.raises(SandboxUnavailable, match="--unsafe-no-sandbox"):
        choose_sandbox(GradeOptions())
    with pytest.warns(UserWarning, match="WITHOUT A SANDBOX"):
        assert choose_sandbox(GradeOptions(allow_unsandboxed=True)) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert choose_sandbox(GradeOptions(sandbox=None)) is None  # trusted code: no sandbox asked for


def test_sandbox_chosen_when_available(monkeypatch):
    monkeypatch.setattr(grade_module, "unavailable_reason", lambda: None)
    limits = SandboxLimits(memory_mb=123)
    assert choose_sandbox(GradeOptions(sandbox=limits)) == limits


def test_the_private_tmp_is_mounted_before_binds_that_may_live_under_it():
    config = {
        "workdir": "/tmp/w",
        "sockets": "/tmp/s",
        "read_only": ["/tmp/checkout/.venv"],
        "python": "/tmp/checkout/.venv/bin/python",
        "env": {},
        "limits": {"tmp_mb": 64},
    }
    cmd = bwrap_command(config, "/tmp/s/connection.json")
    tmpfs = cmd.index("--tmpfs")
    assert tmpfs < cmd.index("/tmp/checkout/.venv") and tmpfs < cmd.index("/tmp/w")
