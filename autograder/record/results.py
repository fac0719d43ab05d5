"""Reading a lab's recorded results: the gradebook (scores, manual marks, comments, penalties)
joined with the grading report (per-cell messages, run status, review flags).

Feedback pages and the marks export both read results through this module, so they always
agree. Nothing here writes anything.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from dataclasses import dataclass, field

from nbgrader.api import MissingEntry
from nbgrader.utils import is_grade, is_solution

from autograder.course import Course, Lab
from autograder.record.gradebook import open_gradebook
from autograder.layout import report_json
from autograder.authoring.notebooks import lab_template
from autograder.review.restore import grade_id_of


@dataclass
class Question:
    """One graded cell of a lab, with the answer cells that belong to it (those just above it)."""

    grade_id: str
    kind: str  # "auto" (test cell) or "manual" (written answer, plot)
    max_points: float
    answer_ids: list[str]  # solution cells answered for this question (may include grade_id itself)
    title: str = ""  # the notebook's own heading above it ("Question 1: the VAE loss (5 points)")

    @property
    def label(self) -> str:
        """How the question is named for students: the notebook's heading above it, else its
        (first) answer cell, else the graded cell."""
        return self.title or (self.answer_ids[0] if self.answer_ids else self.grade_id)

    @property
    def cell_ids(self) -> list[str]:
        """The grade ids of the question's own cells: its answers and the graded cell."""
        return list(dict.fromkeys([*self.answer_ids, self.grade_id]))


@dataclass
class CellResult:
    """A student's result on one question."""

    question: Question
    points: float | None  # None: not graded yet
    outcome: str  # passed, failed, partly passed, not run, awaiting manual grading, graded by hand, not answered
    message: str = ""
    comments: list[str] = field(default_factory=list)
    hint: str = ""  # the message as shown to the student (set by feedback.py, redacted)


@dataclass
class LabResult:
    """One student's result on one lab, as recorded."""

    student: str
    lab: str
    timestamp: dt.datetime | None
    seconds_late: float
    days_charged: int
    raw: float  # gradebook score, manual marks included
    max_score: float
    penalty: float
    status: str  # graded, stopped, rejected (from the grading report; "graded" when absent)
    message: str
    needs_manual: bool
    flagged: bool
    review: list[str] = field(default_factory=list)  # the grader's reasons for a human look
    cells: list[CellResult] = field(default_factory=list)

    @property
    def final(self) -> float:
        """The mark after the late penalty (never below zero)."""
        return max(0.0, self.raw - self.penalty)

    @property
    def flags(self) -> list[str]:
        """Short labels for the marks export."""
        labels = []
        if self.status != "graded":
            labels.append(self.status)
        if self.days_charged:
            labels.append(f"late {self.days_charged}d")
        elif self.seconds_late > 0:
            labels.append("late (grace)")
        if self.needs_manual:
            labels.append("manual pending")
        if self.flagged:
            labels.append("flagged")
        if self.review:
            labels.append("review")
        return labels


MAX_TEXT = 20_000  # characters of one recorded message shown on a page or in a CSV cell


def safe_text(value: object, limit: int = MAX_TEXT) -> str:
    """``value`` as text that can always be written: lone surrogates replaced, length capped,
    and never an exception (a student's object whose ``str`` recurses becomes a placeholder)."""
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception as error:  # RecursionError, a broken __str__: the record is the student's
        text = f"(unprintable {type(value).__name__}: {type(error).__name__})"
    if not isinstance(text, str):
        text = "(unprintable)"
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates ("\udc80") become "?"
    if len(text) > limit:
        text = f"{text[:limit]}... [{len(text) - limit} more characters cut]"
    return text


def _heading(cell) -> str | None:
    """The text of a Markdown heading cell that is not itself graded ("### Question 1: ..." -> "Question 1: ...")."""
    if cell.cell_type != "markdown" or is_grade(cell) or is_solution(cell):
        return None
    for line in cell.source.splitlines():
        if line.strip():
            match = re.match(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", line)
            return match.group(1).replace("**", "").strip() if match else None
    return None


def questions(course: Course, lab: Lab) -> list[Question]:
    """The lab's graded cells in notebook order, each with the answer cells since the previous one
    (or since the nearest heading above it) and titled with that heading; several graded cells
    under one heading are told apart as parts ("Question 1: ... (part 2 of 3)")."""
    template = lab_template(course, lab)
    found: list[Question] = []
    pending: list[str] = []
    heading = ""
    for cell in template.cells:
        title = _heading(cell)
        if title is not None:
            heading, pending = title, []  # ungraded exercises above a heading are not this question's
            continue
        gid = grade_id_of(cell)
        if gid is None:
            continue
        if is_solution(cell):
            pending.append(gid)
        if is_grade(cell):
            manual = is_solution(cell) or cell.cell_type != "code"
            points = float(cell.metadata["nbgrader"].get("points", 0))
            found.append(Question(gid, "manual" if manual else "auto", points, pending, heading))
            pending = []
    counts = Counter(q.title for q in found if q.title)
    seen: Counter = Counter()
    for q in found:
        if q.title and counts[q.title] > 1:
            seen[q.title] += 1
            q.title = f"{q.title} (part {seen[q.title]} of {counts[q.title]})"
    return found


def read_report(course: Course, lab: Lab) -> dict[str, dict]:
    """The latest grading report of a lab, by student (empty when the lab was never graded)."""
    path = report_json(course, lab)
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return {e["student"]: e for e in entries if isinstance(e, dict) and "student" in e}


def _outcome(question: Question, grade, report_cell: dict | None) -> tuple[float | None, str]:
    if grade is None:
        return None, "not graded"
    points = None if grade.auto_score is None and grade.manual_score is None else float(grade.score)
    if grade.manual_score is not None:
        return points, "graded by hand"
    if question.kind == "manual":
        if report_cell and report_cell.get("message") == "not answered":
            return 0.0, "not answered"
        return (points, "awaiting manual grading") if points is None else (points, "graded")
    if points is None:
        return None, "not graded"
    message = (report_cell or {}).get("message", "")
    if message.startswith("did not run"):
        return points, "not run"
    if points >= question.max_points:
        return points, "passed"
    return points, "failed" if points == 0 else "partly passed"


def lab_results(course: Course, lab: Lab, db_url: str) -> dict[str, LabResult]:
    """Every recorded submission of ``lab``, by student id."""
    qs = questions(course, lab)
    report = read_report(course, lab)
    results: dict[str, LabResult] = {}
    with open_gradebook(db_url, course.id) as gb:
        try:
            submissions = gb.assignment_submissions(lab.id)
        except MissingEntry:
            return results
        for submission in submissions:
            student = submission.student.id
            entry = report.get(student, {})
            try:
                results[student] = _lab_result(lab, qs, gb, submission, entry)
            except Exception as error:  # one broken record never costs the class its results
                fallback = {"status": "stopped", "flags": [f"this student's grading record could not be read ({type(error).__name__}): check it"]}
                results[student] = _lab_result(lab, qs, gb, submission, fallback)
    return results


def _lab_result(lab: Lab, qs: list[Question], gb, submission, entry: dict) -> LabResult:
    """One student's result, from the gradebook and their entry in the grading report."""
    policy = lab.late
    notebook_id = lab.notebook_id
    student = submission.student.id
    cells_report = {c.get("grade_id"): c for c in entry.get("scores", []) if isinstance(c, dict)}
    try:
        notebook = gb.find_submission_notebook(notebook_id, lab.id, student)
    except MissingEntry:
        notebook = None
    grades = {g.name: g for g in notebook.grades} if notebook else {}
    comments: dict[str, str] = {}
    if notebook:
        for comment in notebook.comments:
            if comment.manual_comment and comment.manual_comment.strip():
                comments[comment.name] = comment.manual_comment.strip()
    cells = []
    for q in qs:
        points, outcome = _outcome(q, grades.get(q.grade_id), cells_report.get(q.grade_id))
        notes = [comments[a] for a in dict.fromkeys([*q.answer_ids, q.grade_id]) if a in comments]
        cells.append(CellResult(q, points, outcome, safe_text(cells_report.get(q.grade_id, {}).get("message", "")), notes))
    timestamp = submission.timestamp.replace(tzinfo=dt.timezone.utc) if submission.timestamp else None
    seconds = float(submission.total_seconds_late)
    return LabResult(
        student=student,
        lab=lab.id,
        timestamp=timestamp,
        seconds_late=seconds,
        days_charged=policy.days_charged(seconds) if seconds > 0 else 0,
        raw=float(submission.score),
        max_score=float(submission.max_score),
        penalty=float(submission.late_submission_penalty or 0.0),
        status=safe_text(entry.get("status", "graded"), 40),
        message=safe_text(entry.get("message", "")),
        needs_manual=bool(submission.needs_manual_grade),
        flagged=any(bool(n.flagged) for n in submission.notebooks),
        review=[safe_text(f) for f in [*entry.get("flags", []), *entry.get("repairs", [])]],
        cells=cells,
    )
