"""One student's files or record never cost the class: links refused, duplicates reported,
broken records isolated in feedback and export, and a stopped grader leaves nothing running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from autograder.grade import GradeOptions, grade_lab
from autograder.layout import default_db_url, report_json, submitted_dir
from autograder.record.gradebook import load_state, total_score
from autograder.review.restore import grade_id_of
from autograder.sandbox.sandbox import unavailable_reason

ANSWERS = {"q1-double": "def double(x):\n    return 2 * x", "q2-square": "def square(x):\n    return x * x"}
REASON = unavailable_reason()
needs_sandbox = pytest.mark.skipif(REASON is not None and not os.environ.get("CI"), reason=f"no sandbox here: {REASON}")


def _submission(course, answered: tuple[str, ...] = (), extra: str | None = None):
    nb = nbformat.read(course.release_notebook(course.labs[0]), as_version=4)
    for cell in nb.cells:
        if grade_id_of(cell) in answered:
            cell.source = ANSWERS[grade_id_of(cell)]
    if extra is not None:
        nb.cells.append(nbformat.v4.new_code_cell(extra))
    return nb


def _options(**kwargs) -> GradeOptions:
    return GradeOptions(progress=False, allow_unsandboxed=REASON is not None, **kwargs)


def test_links_are_refused_and_duplicates_graded_newest_and_reported(toy_course, tmp_path):
    lab = toy_course.labs[0]
    folder = tmp_path / "class"
    folder.mkdir()
    nbformat.write(_submission(toy_course, ("q1-double", "q2-square")), folder / "alice.ipynb")
    solutions = toy_course.source_notebook(lab)
    (folder / "mallory.ipynb").symlink_to(solutions)
    (folder / "trudy").symlink_to(solutions.parent, target_is_directory=True)
    nbformat.write(_submission(toy_course), folder / "Bob.ipynb")  # blank, older
    nbformat.write(_submission(toy_course, ("q1-double", "q2-square")), folder / "bob.ipynb")  # full, newer
    os.utime(folder / "Bob.ipynb", (1_000_000, 1_000_000))
    report = grade_lab(toy_course, lab, folder, _options(workers=1))
    by = {r.student: r for r in report.results}
    assert sorted(by) == ["Bob", "alice", "mallory", "trudy"]
    db = default_db_url(toy_course)
    for student in ("mallory", "trudy"):
        assert by[student].status == "rejected" and "symbolic link" in by[student].message
        assert total_score(db, toy_course.id, lab.id, student) == (0.0, 6.0)
    assert by["Bob"].auto_score == 5 and by["alice"].auto_score == 5
    (note,) = [f for f in by["Bob"].flags if "more than one submission" in f]
    assert "graded bob.ipynb" in note and "ignored Bob.ipynb" in note
    assert not (submitted_dir(toy_course) / "mallory").exists()  # the link was never followed or copied


def _grade_class(course, tmp_path, n: int = 3):
    folder = tmp_path / "class"
    folder.mkdir()
    for i in range(n):
        nbformat.write(_submission(course, ("q1-double",), extra=f"student = {i}"), folder / f"s{i}.ipynb")
    report = grade_lab(course, course.labs[0], folder, _options(workers=1))
    assert [r.auto_score for r in report.results] == [2.0] * n
    return default_db_url(course)


class Recursive:
    def __str__(self) -> str:
        return str(self)


def test_one_broken_record_never_stops_feedback_or_export(toy_course, tmp_path, monkeypatch):
    from autograder.feedback import pages
    from autograder.record import export

    lab = toy_course.labs[0]
    db = _grade_class(toy_course, tmp_path)
    # s1's record: lone surrogates and huge text in the grading report and its submitted notebook.
    path = report_json(toy_course, lab)
    entries = json.loads(path.read_text())
    for entry in entries:
        if entry["student"] == "s1":
            entry["message"] = "\udc80 broken " + "x" * 3_000_000
            entry["status"] = "stopped"
            entry["flags"] = ["\ud800 flag", {"nested": [[["deep"]]]}]
            for score in entry["scores"]:
                score["message"] = "bad \udcff message"
    path.write_text(json.dumps(entries), encoding="utf-8")  # JSON escapes keep the lone surrogates
    copy = submitted_dir(toy_course) / "s1" / lab.id / lab.notebook
    raw = json.loads(copy.read_text())
    for cell in raw["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "q1-double":
            cell["source"] = "def double(x):\n    return 2 * x  # \udc80 odd"
    copy.write_text(json.dumps(raw), encoding="utf-8")

    written = pages.write_feedback(toy_course, lab, db)
    assert len(written.pages) == 3
    for page in written.pages:
        text = page.read_text(encoding="utf-8")
        assert "s1" in str(page) or "broken" not in text
    big = next(p for p in written.pages if "s1" in p.parts).read_text(encoding="utf-8")
    assert len(big) < 200_000 and "more characters cut" in big

    exported = export.export_marks(toy_course, db, tmp_path / "out", identifier="idnumber")
    rows = list(__import__("csv").DictReader(exported.full_csv.open(encoding="utf-8")))
    assert [r["student_id"] for r in rows] == ["s0", "s1", "s2"]
    assert all(r[f"{lab.id}_final"] == "2" for r in rows)
    assert len(rows[1][f"{lab.id}_status"]) <= 4100

    # A record whose text recurses when printed: that student alone gets a plain page / an empty cell.
    original = pages.lab_results

    def with_recursion(*args, **kwargs):
        results = original(*args, **kwargs)
        results["s2"].message = Recursive()
        results["s2"].status = "stopped"  # the page shows the message of a stopped run
        return results

    monkeypatch.setattr(pages, "lab_results", with_recursion)
    monkeypatch.setattr(export, "lab_results", with_recursion)
    written = pages.write_feedback(toy_course, lab, db)
    assert len(written.pages) == 3 and any(p.startswith("s2:") for p in written.problems), written.problems
    exported = export.export_marks(toy_course, db, tmp_path / "out2", identifier="idnumber")
    rows = {r["student_id"]: r for r in __import__("csv").DictReader(exported.full_csv.open(encoding="utf-8"))}
    assert rows["s0"][f"{lab.id}_final"] == "2" and rows["s1"][f"{lab.id}_final"] == "2"
    assert any("s2" in w for w in exported.warnings)


def _procs_with(marker: str) -> list[int]:
    """Processes whose command line or environment holds ``marker`` (other than this one)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read()
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            continue
        if marker.encode() in cmdline.replace(b"\0", b" ") or marker.encode() in environ:
            found.append(int(entry))
    return found


@needs_sandbox
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_the_grader_stops_its_workers_and_kernels_and_a_rerun_resumes(toy_course, tmp_path, signum):
    folder = tmp_path / "class"
    folder.mkdir()
    sleeper = "sleep 1234.5"  # a marker no one else runs
    started = "import subprocess, time\nsubprocess.Popen(['sleep', '1234.5'])\ntime.sleep(2)"
    names = [f"stop{int(signum)}x{i}" for i in range(4)]  # distinctive: their working dirs are /tmp/grade-<name>-*
    for i, name in enumerate(names):
        nbformat.write(_submission(toy_course, ("q1-double",), extra=f"{started}\nstudent = {i}"), folder / f"{name}.ipynb")
    marker = f"COURSE_TEST_RUN_{os.getpid()}_{signum}"
    db = default_db_url(toy_course)
    command = [sys.executable, "-m", "autograder.cli", "--root", str(toy_course.root), "grade", "lab01_toy", str(folder), "--workers", "2", "--quiet"]
    log = open(tmp_path / "grader.log", "w")
    sandboxes_before = set(Path(tempfile.gettempdir()).glob("course-sandbox-*"))
    grader = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, marker: "1"})
    deadline = time.monotonic() + 240
    graded: dict = {}
    while time.monotonic() < deadline and grader.poll() is None:
        time.sleep(0.3)
        try:
            graded = load_state(db, toy_course.id, "lab01_toy")
        except Exception:
            graded = {}
        if len(graded) >= 1 and _procs_with(sleeper):
            break
    assert grader.poll() is None, f"the grader finished before it could be stopped: {(tmp_path / 'grader.log').read_text()}"
    assert _procs_with(sleeper), "no kernel was running when the grader was stopped"
    stopped_at = time.monotonic()
    grader.send_signal(signum)  # the CLI process alone, not its process group
    assert grader.wait(60) == 130, (tmp_path / "grader.log").read_text()
    time.sleep(1)
    assert time.monotonic() - stopped_at < 40
    assert _procs_with(sleeper) == [], "a kernel's process survived the grader"
    assert _procs_with(marker) == [], "a worker or kernel launcher survived the grader"
    assert not [p for name in names for p in Path(tempfile.gettempdir()).glob(f"grade-{name}-*")], "a working directory was left"
    left = [p for p in set(Path(tempfile.gettempdir()).glob("course-sandbox-*")) - sandboxes_before if not any((p / "configs").iterdir())]
    assert not left, f"sandbox directories were left: {left}"  # (others' running graders hold configs in theirs)
    survived = load_state(db, toy_course.id, "lab01_toy")
    assert 1 <= len(survived) < len(names)

    report = grade_lab(toy_course, toy_course.labs[0], folder, _options(workers=2))
    assert sorted(report.skipped) == sorted(survived), "completed submissions must not be regraded"
    assert [r.auto_score for r in report.results] == [2.0] * len(names)
    assert _procs_with(sleeper) == []
