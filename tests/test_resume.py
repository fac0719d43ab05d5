"""Grading is idempotent and resumable: SIGKILL the grader mid-run, rerun, nothing is lost."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.record.gradebook import load_state, total_score
from autograder.grade import GradeOptions, grade_lab
from autograder.review.restore import grade_id_of
from autograder.sandbox.sandbox import unavailable_reason

ANSWERS = {"q1-double": "def double(x):\n    return 2 * x", "q2-square": "def square(x):\n    return x * x"}


def _class(course, folder, n: int) -> dict[str, float]:
    """Write ``n`` submissions alternating full, half and blank answers; return expected scores."""
    release = nbformat.read(course.release_notebook(course.labs[0]), as_version=4)
    expected = {}
    for i in range(n):
        nb = nbformat.from_dict(release)
        kind = i % 3
        for cell in nb.cells:
            gid = grade_id_of(cell)
            if gid == "q1-double" and kind in (0, 1):
                cell.source = ANSWERS[gid]
            if gid == "q2-square" and kind == 0:
                cell.source = ANSWERS[gid]
        nb.cells.append(nbformat.v4.new_code_cell(f"student_number = {i}"))  # distinct content
        nbformat.write(nb, folder / f"s{i:02d}.ipynb")
        expected[f"s{i:02d}"] = (5.0, 2.0, 0.0)[kind]
    return expected


def _options(**kwargs) -> GradeOptions:
    return GradeOptions(progress=False, allow_unsandboxed=unavailable_reason() is not None, **kwargs)


def _scratch() -> set:
    """The grader's scratch folders in the temporary directory (sandboxes, working directories)."""
    tmp = Path(tempfile.gettempdir())
    return set(tmp.glob("course-sandbox-*")) | set(tmp.glob("grade-*"))


MARK = f"RESUME_TEST_MARK={os.getpid()}".encode()


def _orphans() -> list[int]:
    """Kernel launchers started by this test's grader (they inherit its marked environment)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
                environ = open(f"/proc/{entry}/environ", "rb").read()
            except OSError:
                continue
            if b"autograder.sandbox.launch" in cmdline and MARK in environ.split(b"\0"):
                found.append(int(entry))
    return found


def test_sigkill_mid_run_then_resume_loses_nothing(toy_course, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    expected = _class(toy_course, folder, 8)
    db = f"sqlite:///{toy_course.root / 'grading' / 'gradebook.db'}"
    command = [sys.executable, "-m", "autograder.cli", "--root", str(toy_course.root), "grade", "lab01_toy", str(folder), "--workers", "1", "--quiet"]
    if unavailable_reason() is not None:
        command.append("--unsafe-no-sandbox")
    log = open(tmp_path / "grader.log", "w")
    before = _scratch()
    env = {**os.environ, MARK.decode().split("=")[0]: MARK.decode().split("=")[1]}
    grader = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    deadline = time.monotonic() + 300
    graded: dict = {}
    while time.monotonic() < deadline and grader.poll() is None:
        time.sleep(0.3)
        try:
            graded = load_state(db, toy_course.id, "lab01_toy")
        except Exception:
            graded = {}  # the gradebook is still being created
        if len(graded) >= 2:
            break
    assert grader.poll() is None, f"the grader finished before it could be killed: {(tmp_path / 'grader.log').read_text()}"
    os.killpg(grader.pid, signal.SIGKILL)
    grader.wait(30)
    survived = load_state(db, toy_course.id, "lab01_toy")
    assert 2 <= len(survived) < 8, f"{len(survived)} graded before the kill"
    # The kernel that was running is orphaned: its launcher notices and stops it.
    deadline = time.monotonic() + 20
    while _orphans() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _orphans(), "a kernel outlived the grader that was killed"
    for path in _scratch() - before:  # what a SIGKILLed grader could not clean up itself
        shutil.rmtree(path, ignore_errors=True)

    report = grade_lab(toy_course, toy_course.labs[0], folder, _options(workers=2))
    assert sorted(report.skipped) == sorted(survived), "completed submissions must not be regraded"
    assert {r.student: r.auto_score for r in report.results} == expected
    for student, score in expected.items():
        assert total_score(db, toy_course.id, "lab01_toy", student) == (score, 6.0)
    assert len(load_state(db, toy_course.id, "lab01_toy")) == 8


def test_rerun_skips_unchanged_and_force_regrades(toy_course, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    expected = _class(toy_course, folder, 3)
    first = grade_lab(toy_course, toy_course.labs[0], folder, _options(workers=1))
    assert first.skipped == []
    (folder / "s02.ipynb").write_bytes((folder / "s00.ipynb").read_bytes())  # s02 resubmits a full answer
    second = grade_lab(toy_course, toy_course.labs[0], folder, _options(workers=1))
    assert sorted(second.skipped) == ["s00", "s01"]
    assert {r.student: r.auto_score for r in second.results} == {**expected, "s02": 5.0}
    forced = grade_lab(toy_course, toy_course.labs[0], folder, _options(workers=1, force=True))
    assert forced.skipped == []
