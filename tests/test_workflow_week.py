"""A week of the course on the toy lab, through the ``course`` command: roster -> collect a Moodle
zip (late, duplicate, unmatched and empty entries) -> grade -> manual grading in nbgrader's
formgrader (a real Jupyter server) -> feedback -> marks export."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import html
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import nbformat
import pytest
from toy_course import LAB_ID, NOTEBOOK, make_course, source_notebook
from workflow_helpers import fresh_gradebook

from autograder.authoring.build import build
from autograder.cli import main
from autograder.course import load_course
from autograder.record.gradebook import open_gradebook
from autograder.authoring.leaks import normalise, notebook_secrets, secret_lines

REPO = Path(__file__).resolve().parents[1]
DUE = dt.datetime(2026, 10, 10, 17, 0, tzinfo=dt.timezone.utc)
ROSTER = """id,first_name,last_name,email
s001,Ana,García,ana@uni.example
s002,Bob,Smith,bob@uni.example
s003,Chloé,Dubois,chloe@uni.example
s004,Dan,Lee,dan@uni.example
s005,Eve,Kim,eve@uni.example
s006,Fay,Wong,fay@uni.example
"""
# Correct answers written differently from the reference, so that no student's page can
# legitimately contain the reference solution's text.
GOOD = {
    "q1-double": "def double(x):\n    return x + x",
    "q2-square": "def square(x):\n    return x ** 2",
    "q3-written": "Equal signs multiply to a positive number, and 0 * 0 = 0.",
}


def _answers(release: nbformat.NotebookNode, answers: dict[str, str]) -> str:
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nbformat.writes(nb)


def _moodle_zip(path: Path, release: nbformat.NotebookNode) -> None:
    unanswered_written = {k: v for k, v in GOOD.items() if k != "q3-written"}
    entries = [
        ("Ana Garcia_1001_assignsubmission_file_/lab01_toy.ipynb", _answers(release, GOOD), DUE - dt.timedelta(hours=5)),
        # 26 hours late: two started days at 10% of 6 points each.
        ("Bob Smith_1002_assignsubmission_file_/Lab 1 final.ipynb", _answers(release, {"q1-double": "def double(x):\n    return x + 2", "q2-square": GOOD["q2-square"]}), DUE + dt.timedelta(hours=26)),
        # Two Moodle entries for one student: the newer one is graded, the older kept aside.
        ("Chloe Dubois_1003_assignsubmission_file_/lab01_toy.ipynb", nbformat.writes(release), DUE - dt.timedelta(days=2)),
        ("chloé DUBOIS_1013_assignsubmission_file_/lab01_toy.ipynb", _answers(release, unanswered_written), DUE - dt.timedelta(hours=1)),
        ("Dan Lee_1004_assignsubmission_file_/lab01_toy.ipynb", "", DUE - dt.timedelta(hours=3)),
        # Ten minutes late: inside the 15-minute grace period.
        ("Fay Wong_1006_assignsubmission_file_/lab01_toy.ipynb", _answers(release, unanswered_written), DUE + dt.timedelta(minutes=10)),
        ("Mallory Nobody_1099_assignsubmission_file_/lab01_toy.ipynb", _answers(release, GOOD), DUE - dt.timedelta(hours=2)),
        ("Fay Wong_1006_assignsubmission_onlinetext_onlinetext.html", "<p>see file</p>", DUE),
    ]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text, when in entries:
            archive.writestr(zipfile.ZipInfo(name, date_time=when.timetuple()[:6]), text)


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    """The toy course after importing the roster, collecting a Moodle zip and grading it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_DATA", str(tmp_path_factory.mktemp("data")))
        patch.setenv("COURSE_OFFLINE", "1")
        root = make_course(tmp_path_factory.mktemp("week") / "toy")
        with open(root / "course.toml", "a", encoding="utf-8") as handle:
            handle.write(f'due = "{DUE.isoformat()}"\ngrace_minutes = 15\nlate_penalty_per_day = 0.1\nlate_penalty_cap = 0.5\n')
        course = load_course(root)
        build(course)
        fresh_gradebook(root)
        (root / "roster.csv").write_text(ROSTER, encoding="utf-8")
        release = nbformat.read(course.release_notebook(course.labs[0]), as_version=4)
        _moodle_zip(root / "moodle.zip", release)
        args = ["--root", str(root)]
        outputs = {}
        start = time.monotonic()
        for step, argv in [
            ("roster", ["roster", "import", str(root / "roster.csv")]),
            ("collect", ["collect", "1", str(root / "moodle.zip"), "--timezone", "UTC"]),
            ("grade", ["grade", "1", str(root / "grading" / "submitted"), "--quiet", "--workers", "2"]),
        ]:
            code, text = _run_cli(args + argv)
            outputs[step] = (code, text)
        outputs["seconds"] = time.monotonic() - start
        yield course, outputs


def _run_cli(argv: list[str]) -> tuple[int, str]:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(argv)
    return code, buffer.getvalue()


def _collect_log(course) -> dict:
    lines = (course.root / "grading" / "collect-log" / f"{LAB_ID}.jsonl").read_text().splitlines()
    return json.loads(lines[-1])


def test_collect_files_everyone_and_reports_every_anomaly(week):
    course, outputs = week
    assert outputs["roster"][0] == 0 and "6 students added" in outputs["roster"][1]
    code, text = outputs["collect"]
    assert code == 1  # anomalies to look at
    log = _collect_log(course)
    by_entry = {o["entry"]: o for o in log["outcomes"]}
    assert log["kind"] == "moodle-zip"
    assert by_entry["Mallory Nobody_1099"]["action"] == "unmatched"
    assert by_entry["Chloe Dubois_1003"]["action"] == "duplicate" and by_entry["Chloe Dubois_1003"]["student"] == "s003"
    assert "duplicate" in by_entry["chloé DUBOIS_1013"]["flags"] and by_entry["chloé DUBOIS_1013"]["action"] == "collected"
    assert "empty" in by_entry["Dan Lee_1004"]["flags"]
    assert "late" in by_entry["Bob Smith_1002"]["flags"] and "renamed" in by_entry["Bob Smith_1002"]["flags"]
    assert "in-grace" in by_entry["Fay Wong_1006"]["flags"] and "late" not in by_entry["Fay Wong_1006"]["flags"]
    assert by_entry["Ana Garcia_1001"]["flags"] == [] and by_entry["Ana Garcia_1001"]["student"] == "s001"
    for needle in ("Mallory Nobody", "not on the roster", "duplicate", "empty file", "late by 26.0 h", "filed as lab01_toy.ipynb"):
        assert needle in text, needle
    grading = course.root / "grading"
    assert (grading / "collected-unmatched" / LAB_ID / "Mallory Nobody_1099" / NOTEBOOK).is_file()
    older = list((grading / "collected-history" / "s003" / LAB_ID).glob("*-duplicate"))
    assert len(older) == 1 and (older[0] / NOTEBOOK).is_file()
    stamps = {s: (grading / "submitted" / s / LAB_ID / "timestamp.txt").read_text() for s in ("s001", "s002", "s006")}
    assert stamps["s002"] == (DUE + dt.timedelta(hours=26)).isoformat()
    assert stamps["s006"] == "2026-10-10T17:10:00+00:00"
    assert not (grading / "submitted" / "s005").exists()


def test_grading_records_marks_and_late_penalties(week):
    course, outputs = week
    code, text = outputs["grade"]
    assert code == 0, text
    with open_gradebook(f"sqlite:///{course.root / 'grading' / 'gradebook.db'}", course.id) as gb:
        got = {s.student.id: (s.score, s.late_submission_penalty) for s in gb.assignment_submissions(LAB_ID)}
        assert gb.find_assignment(LAB_ID).duedate == DUE.replace(tzinfo=None)
    assert got == {
        "s001": (5.0, 0.0),
        "s002": (3.0, pytest.approx(1.2)),
        "s003": (5.0, 0.0),
        "s004": (0.0, 0.0),
        "s006": (5.0, 0.0),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, token: str, method: str = "GET", body: dict | None = None, timeout: float = 20) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", errors="replace")


def test_formgrader_lists_and_grades_the_submissions(week, tmp_path):
    course, _ = week
    root = course.root
    config = (REPO / "nbgrader_config.py").read_text(encoding="utf-8")
    (root / "nbgrader_config.py").write_text(re.sub(r'course_id = "[^"]*"', f'course_id = "{course.id}"', config), encoding="utf-8")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed in the finally below
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
         "--ServerApp.open_browser=False", "--ServerApp.allow_root=True", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the Jupyter server did not start in 90 s:\n" + (tmp_path / "server.log").read_text()[-3000:]
            try:
                if _get(f"{base}/api/status", token, timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)

        status, page = _get(f"{base}/formgrader", token)
        assert status == 200 and "formgrader" in page.lower()
        status, page = _get(f"{base}/formgrader/manage_submissions/{LAB_ID}", token)
        assert status == 200 and LAB_ID in page
        status, body = _get(f"{base}/formgrader/api/submissions/{LAB_ID}", token)
        assert status == 200
        listed = {s["student"]: s for s in json.loads(body)}
        assert {"s001", "s002", "s003", "s006"} <= set(listed)
        assert listed["s001"]["autograded"] and listed["s001"]["last_name"] == "García" and listed["s001"]["score"] == 5.0
        status, body = _get(f"{base}/formgrader/api/assignments", token)
        assert status == 200 and json.loads(body)[0]["duedate"].startswith("2026-10-10T17:00")

        # The manual-grading loop: mark Ana's written answer and comment on it, as the UI does.
        status, body = _get(f"{base}/formgrader/api/submitted_notebooks/{LAB_ID}/{NOTEBOOK[:-6]}", token)
        submission_id = next(n["id"] for n in json.loads(body) if n["student"] == "s001")
        status, body = _get(f"{base}/formgrader/api/grades?submission_id={submission_id}", token)
        grade_id = next(g["id"] for g in json.loads(body) if g["name"] == "q3-written")
        assert _get(f"{base}/formgrader/api/grade/{grade_id}", token, "PUT", {"manual_score": 1})[0] == 200
        status, body = _get(f"{base}/formgrader/api/comments?submission_id={submission_id}", token)
        comment_id = next(c["id"] for c in json.loads(body) if c["name"] == "q3-written")
        assert _get(f"{base}/formgrader/api/comment/{comment_id}", token, "PUT", {"manual_comment": "Clear argument."})[0] == 200
        status, body = _get(f"{base}/formgrader/api/submission/{LAB_ID}/s001", token)
        assert status == 200 and json.loads(body)["score"] == 6.0
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        log.close()


def _manual_grading(course) -> None:
    """What a grader does in the formgrader (idempotent, so this test does not depend on the server test)."""
    with open_gradebook(f"sqlite:///{course.root / 'grading' / 'gradebook.db'}", course.id) as gb:
        gb.find_grade("q3-written", NOTEBOOK[:-6], LAB_ID, "s001").manual_score = 1.0
        gb.find_comment("q3-written", NOTEBOOK[:-6], LAB_ID, "s001").manual_comment = "Clear argument."
        gb.find_comment("q1-double", NOTEBOOK[:-6], LAB_ID, "s002").manual_comment = "Check the case double(1)."
        gb.find_grade("q3-written", NOTEBOOK[:-6], LAB_ID, "s002").manual_score = 1.0  # mark raised by hand
        gb.db.commit()


def test_feedback_and_export_after_manual_grading(week):
    course, _ = week
    _manual_grading(course)
    args = ["--root", str(course.root)]
    code, text = _run_cli(args + ["feedback", "1", "--zip"])
    assert code == 0, text  # nothing pending: s001's written answer is marked; s003/s006 left theirs blank
    pages = {p.parent.parent.name: p.read_text(encoding="utf-8") for p in (course.root / "grading" / "feedback").glob(f"*/{LAB_ID}/feedback.html")}
    assert set(pages) == {"s001", "s002", "s003", "s004", "s006"}
    ana, bob = html.unescape(pages["s001"]), html.unescape(pages["s002"])
    assert "Ana García" in ana and "Clear argument." in ana and "6 / 6" in ana
    assert re.search(r"double\(-?\d+\) returned", bob), "the judge's own words tell Bob what went wrong"
    assert "Check the case double(1)." in bob
    assert "Late penalty</th><td>1.2" in bob and "4 / 6" in bob and "2.8 / 6" in bob and "2 started days" in bob
    assert "the file is empty" in html.unescape(pages["s004"])
    assert "inside the grace period" in html.unescape(pages["s006"])

    # Never a hidden test, a reference solution or a mark scheme, whole or in part.
    secrets_ = notebook_secrets(source_notebook(), LAB_ID)
    lines = secret_lines(secrets_, min_chars=8)
    assert lines
    for student, page in pages.items():
        flat = normalise(html.unescape(page))
        for secret in secrets_:
            assert secret.normalised not in flat, (student, secret)
        for line in lines:
            assert line not in flat, (student, line)
        assert "BEGIN HIDDEN TESTS" not in page and "BEGIN SOLUTION" not in page
    archive = course.root / "grading" / "feedback-zips" / LAB_ID / f"s002_{LAB_ID}_feedback.zip"
    with zipfile.ZipFile(archive) as handle:
        assert handle.namelist() == [f"{LAB_ID}/feedback.html"]

    code, text = _run_cli(args + ["export"])
    export = course.root / "grading" / "export"
    rows = {r["student_id"]: r for r in csv.DictReader((export / "marks_full.csv").read_text(encoding="utf-8").splitlines())}
    expected = {  # raw, penalty, final, status
        "s001": ("6", "0", "6", "ok"),
        "s002": ("4", "1.2", "2.8", "late 2d"),
        "s003": ("5", "0", "5", "ok"),
        "s004": ("0", "0", "0", "rejected: lab01_toy.ipynb: the file is empty"),
        "s005": ("", "", "", "no submission"),
        "s006": ("5", "0", "5", "late (grace)"),
    }
    for student, (raw, penalty, final, status) in expected.items():
        row = rows[student]
        assert (row[f"{LAB_ID}_raw"], row[f"{LAB_ID}_penalty"], row[f"{LAB_ID}_final"], row[f"{LAB_ID}_status"]) == (raw, penalty, final, status), student
        assert row[f"{LAB_ID}_max"] == "6" and row["total_max"] == "6"
    assert code == 0, text
    moodle = list(csv.reader((export / "moodle_grades.csv").read_text(encoding="utf-8").splitlines()))
    assert moodle[0] == ["Email address", LAB_ID]
    assert dict(moodle[1:]) == {
        "ana@uni.example": "6",
        "bob@uni.example": "2.8",
        "chloe@uni.example": "5",
        "dan@uni.example": "0",
        "eve@uni.example": "",
        "fay@uni.example": "5",
    }
    code, _ = _run_cli(args + ["export", "--identifier", "idnumber", "--out", str(export / "by-id")])
    assert (export / "by-id" / "moodle_grades.csv").read_text().startswith("ID number,")
