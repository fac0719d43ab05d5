"""A sandbox that gives nothing away, and limits that do not depend on the machine's load.

Each test runs a tiny notebook in a real sandboxed kernel (about a second each) and checks one
guarantee of docs/grading.md's sandbox section.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.sandbox import sandbox as sandbox_module
from autograder.sandbox.execute import Limits, execute_notebook, grading_env
from autograder.sandbox.sandbox import Sandbox, SandboxLimits, unavailable_reason

REASON = unavailable_reason()
needs_sandbox = pytest.mark.skipif(REASON is not None and not os.environ.get("CI"), reason=f"no sandbox here: {REASON}")


def _nb(*sources: str):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    return nb


def _text(cell) -> str:
    return "".join(str(o.get("text", "")) + str(o.get("evalue", "")) + str(o.get("ename", "")) for o in cell.outputs)


@pytest.fixture
def sandbox():
    box = Sandbox(SandboxLimits(memory_mb=1024, pids=64, cpu_s=60, tmp_mb=8, workdir_mb=8), grading_env(Limits()))
    yield box
    box.close()


@needs_sandbox
def test_the_kernel_sees_nothing_of_the_graders_environment(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_SECRET_CANARY", "instructor-only-4711")
    probe = (
        "import os, glob\n"
        "seen = []\n"
        "for path in ['/proc/1/environ', '/proc/self/environ', *glob.glob('/proc/[0-9]*/environ')]:\n"
        "    try:\n"
        "        seen.append(open(path, 'rb').read().decode('utf-8', 'replace'))\n"
        "    except OSError:\n"
        "        pass\n"
        "seen.append(repr(dict(os.environ)))\n"
        "print('LEAK' if any('4711' in s or 'CANARY' in s for s in seen) else 'CLEAN', len(seen))\n"
        "print(sorted(os.environ))"
    )
    outcome = execute_notebook(_nb(probe), tmp_path, sandbox=sandbox)
    assert outcome.completed, outcome.problem
    text = _text(outcome.notebook.cells[0])
    assert text.startswith("CLEAN"), text
    assert "COURSE_FAST" in text and "HOSTNAME" not in text and "VIRTUAL_ENV" not in text


@needs_sandbox
def test_the_kernel_is_not_the_hosts_root(sandbox, tmp_path, monkeypatch):
    secret_dir = Path(tempfile.mkdtemp(prefix="course-root-only-"))
    try:
        os.chmod(secret_dir, 0o755)
        secret = secret_dir / "key.txt"
        secret.write_text("instructor key")
        os.chmod(secret, 0o600)  # owned by the grader's user (root here), readable by it alone
        original = sandbox_module._read_only_paths
        monkeypatch.setattr(sandbox_module, "_read_only_paths", lambda: [*original(), str(secret_dir)])
        probe = (
            "import os\n"
            "print('uid', os.getuid(), os.geteuid())\n"
            f"for path in [{str(secret)!r}, '/etc/shadow']:\n"
            "    try:\n"
            "        print('READ', path, open(path).read()[:20])\n"
            "    except OSError as error:\n"
            "        print('DENIED', path, type(error).__name__)"
        )
        outcome = execute_notebook(_nb(probe), tmp_path, sandbox=sandbox)
    finally:
        secret.unlink()
        secret_dir.rmdir()
    assert outcome.completed, outcome.problem
    text = _text(outcome.notebook.cells[0])
    assert "READ" not in text and text.count("DENIED") == 2, text
    assert "uid 65534 65534" in text


@needs_sandbox
def test_disk_writes_are_capped_with_a_clear_message(sandbox, tmp_path):
    (tmp_path / "numbers.txt").write_text("1 2 3")
    outcome = execute_notebook(
        _nb(
            "print(open('numbers.txt').read())\nopen('numbers.txt', 'a').write(' 4')\nprint(open('numbers.txt').read())",
            "open('fill-cwd.bin', 'wb').write(b'x' * (20 * 2**20))",
            "open('/tmp/fill-tmp.bin', 'wb').write(b'x' * (20 * 2**20))",
            "print('still running')",
        ),
        tmp_path,
        sandbox=sandbox,
    )
    assert outcome.completed, outcome.problem
    first, cwd, tmp, last = outcome.notebook.cells
    assert "1 2 3 4" in _text(first)  # the lab's data files are there, and writable
    assert "No space left on device" in _text(cwd) and "No space left on device" in _text(tmp)
    assert "still running" in _text(last)
    assert any("size-capped" in notice for notice in outcome.notices), outcome.notices
    assert not (tmp_path / "fill-cwd.bin").exists()  # nothing reached the grader's disk


def test_total_output_per_notebook_is_capped(tmp_path):
    chunk = "print('y' * 700_000)"
    limits = Limits(max_output_bytes=1 << 20, max_notebook_output_bytes=2 << 20)
    outcome = execute_notebook(_nb(chunk, chunk, chunk, chunk, chunk, "print('small')"), tmp_path, limits)
    assert outcome.completed, outcome.problem
    kept = sum(len(o.get("text", "")) for cell in outcome.notebook.cells for o in cell.outputs)
    assert kept <= 2 << 20
    assert "whole notebook was discarded by the grader" in _text(outcome.notebook.cells[3])
    assert any("2 MiB for the whole notebook" in notice for notice in outcome.notices), outcome.notices


@needs_sandbox
def test_a_cell_that_ignores_sigint_is_killed_at_its_timeout(sandbox, tmp_path):
    stubborn = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    start = time.monotonic()
    outcome = execute_notebook(
        _nb("x = 41\nprint('before', x + 1)", stubborn, "print('after')"),
        tmp_path,
        Limits(cell_timeout_s=2, interrupt_grace_s=2, notebook_timeout_s=120),
        sandbox=sandbox,
    )
    elapsed = time.monotonic() - start
    assert elapsed < 20, f"took {elapsed:.0f} s: the kernel was not killed at the cell's limit"
    assert not outcome.completed and "ignored the interrupt" in outcome.problem
    assert "before 42" in _text(outcome.notebook.cells[0])
    assert outcome.notebook.cells[2].execution_count is None


def test_a_slow_cell_runs_on_and_is_flagged_for_a_rerun(tmp_path):
    outcome = execute_notebook(
        _nb("import time\ntime.sleep(2.5)\nprint('done')", "print('next')"),
        tmp_path,
        Limits(cell_timeout_s=30, cell_normal_s=1),
    )
    assert outcome.completed and "done" in _text(outcome.notebook.cells[0])
    assert any("cell 1 ran" in n and "idle machine" in n for n in outcome.notices), outcome.notices


def test_kernels_get_a_fixed_thread_count_whatever_the_workers(tmp_path):
    from autograder.cli import build_parser
    from autograder.grade import with_threads

    assert Limits().threads == 1
    assert {with_threads(Limits(), workers).threads for workers in (1, 2, 64)} == {1}
    assert with_threads(Limits(threads=3), 1).threads == 3
    args = build_parser().parse_args(["grade", "lab01", "folder", "--threads", "2"])
    assert args.threads == 2 and args.cell_timeout >= 600
    outcome = execute_notebook(_nb("import os\nprint(os.environ['OMP_NUM_THREADS'])"), tmp_path, with_threads(Limits(), 1))
    assert _text(outcome.notebook.cells[0]).strip() == "1"


@needs_sandbox
def test_private_data_files_still_reach_the_kernel(sandbox, tmp_path):
    (tmp_path / "sub").mkdir(mode=0o700)
    (tmp_path / "sub" / "data.txt").write_text("42")
    os.chmod(tmp_path / "sub" / "data.txt", 0o600)
    outcome = execute_notebook(_nb("print(open('sub/data.txt').read())"), tmp_path, sandbox=sandbox)
    assert outcome.completed, outcome.problem
    assert _text(outcome.notebook.cells[0]).strip() == "42"
