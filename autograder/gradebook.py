"""The single writer of marks: nbgrader's gradebook (SQLite by default, any SQLAlchemy URL)."""

from __future__ import annotations

import datetime as dt
import os
import sys
import warnings
from collections.abc import Iterable

from nbformat import NotebookNode
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import SaveCells
from sqlalchemy.exc import SAWarning

from .notebooks import grading_template, nbgrader_config
from .scoring import CellScore


def _alembic_on_path() -> None:
    """nbgrader's Gradebook runs the ``alembic`` command: make sure this environment's is found."""
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def open_gradebook(db_url: str, course_id: str) -> Gradebook:
    """Open (creating if needed) the gradebook at ``db_url``."""
    _alembic_on_path()
    return Gradebook(db_url, course_id)


def register_lab(db_url: str, course_id: str, lab_id: str, notebook_id: str, source: NotebookNode) -> None:
    """Record a lab's graded cells in the gradebook (idempotent), as generate_assignment does."""
    with open_gradebook(db_url, course_id) as gb:
        gb.update_or_create_assignment(lab_id)
    template = grading_template(source, lab_id, notebook_id)
    resources = {"nbgrader": {"assignment": lab_id, "notebook": notebook_id, "db_url": db_url}}
    SaveCells(config=nbgrader_config()).preprocess(template, resources)


def record_scores(
    db_url: str,
    course_id: str,
    lab_id: str,
    notebook_id: str,
    student: str,
    scores: Iterable[CellScore],
    timestamp: dt.datetime | None = None,
) -> None:
    """Store one student's cell scores, replacing earlier automatic scores for that lab."""
    with open_gradebook(db_url, course_id) as gb, warnings.catch_warnings():
        # nbgrader's own session handling emits SQLAlchemy autoflush warnings here: harmless.
        warnings.simplefilter("ignore", category=SAWarning)
        gb.update_or_create_student(student)
        gb.update_or_create_submission(lab_id, student, timestamp=timestamp)
        for score in scores:
            try:
                grade = gb.find_grade(score.grade_id, notebook_id, lab_id, student)
            except MissingEntry:
                continue  # a cell the lab no longer has
            grade.auto_score = score.points
            grade.needs_manual_grade = score.points is None and grade.manual_score is None
        gb.db.commit()


def total_score(db_url: str, course_id: str, lab_id: str, student: str) -> tuple[float, float]:
    """Return (score, max score) of a student's submission as the gradebook reports it."""
    with open_gradebook(db_url, course_id) as gb:
        submission = gb.find_submission(lab_id, student)
        return float(submission.score), float(submission.max_score)
