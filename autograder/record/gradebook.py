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
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, delete, insert, select
from sqlalchemy.exc import SAWarning

from autograder.authoring.notebooks import nbgrader_config
from autograder.judge.scoring import CellScore


def _alembic_on_path() -> None:
    """nbgrader's Gradebook runs the ``alembic`` command: make sure this environment's is found."""
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def open_gradebook(db_url: str, course_id: str) -> Gradebook:
    """Open (creating if needed) the gradebook at ``db_url``."""
    _alembic_on_path()
    return Gradebook(db_url, course_id)


def register_lab(db_url: str, course_id: str, lab_id: str, notebook_id: str, template: NotebookNode) -> None:
    """Record a lab's graded cells (from its grading template) in the gradebook, idempotently,
    as generate_assignment does; also make sure the resume-state table exists."""
    with open_gradebook(db_url, course_id) as gb:
        gb.update_or_create_assignment(lab_id)
        STATE.create(gb.engine, checkfirst=True)
    resources = {"nbgrader": {"assignment": lab_id, "notebook": notebook_id, "db_url": db_url}}
    SaveCells(config=nbgrader_config()).preprocess(template, resources)


# What has been graded, stored in the gradebook's own database so that it commits together
# with the marks: a run killed at any point leaves either both or neither.
STATE = Table(
    "course_grading_state",
    MetaData(),
    Column("lab", String(128), primary_key=True),
    Column("student", String(128), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("result", Text, nullable=False),
    Column("graded_at", DateTime, nullable=False),
)


# The seed each lab's probes draw their inputs from, so that regrades and late submissions
# face the same inputs as the rest of the class.
SEEDS = Table(
    "course_grading_seed",
    MetaData(),
    Column("lab", String(128), primary_key=True),
    Column("seed", String(32), nullable=False),
    Column("recorded_at", DateTime, nullable=False),
)


def recorded_seed(db_url: str, course_id: str, lab_id: str) -> int | None:
    """The probes' seed recorded for a lab, or None before its first grading."""
    with open_gradebook(db_url, course_id) as gb:
        SEEDS.create(gb.engine, checkfirst=True)
        row = gb.db.execute(select(SEEDS.c.seed).where(SEEDS.c.lab == lab_id)).first()
        return int(row[0]) if row else None


def record_seed(db_url: str, course_id: str, lab_id: str, seed: int) -> None:
    """Record (or replace) the probes' seed of a lab."""
    with open_gradebook(db_url, course_id) as gb:
        SEEDS.create(gb.engine, checkfirst=True)
        gb.db.execute(delete(SEEDS).where(SEEDS.c.lab == lab_id))
        gb.db.execute(insert(SEEDS).values(lab=lab_id, seed=str(int(seed)), recorded_at=dt.datetime.now(dt.timezone.utc)))
        gb.db.commit()


def load_state(db_url: str, course_id: str, lab_id: str) -> dict[str, tuple[str, str]]:
    """Student -> (fingerprint, result JSON) of every submission already graded for a lab."""
    with open_gradebook(db_url, course_id) as gb:
        STATE.create(gb.engine, checkfirst=True)
        rows = gb.db.execute(select(STATE.c.student, STATE.c.fingerprint, STATE.c.result).where(STATE.c.lab == lab_id))
        return {student: (fingerprint, result) for student, fingerprint, result in rows}


def record_scores(
    db_url: str,
    course_id: str,
    lab_id: str,
    notebook_id: str,
    student: str,
    scores: Iterable[CellScore],
    timestamp: dt.datetime | None = None,
    state: tuple[str, str] | None = None,
) -> None:
    """Store one student's cell scores (replacing earlier automatic ones) and, atomically with
    them, ``state`` = (fingerprint, result JSON) for resuming."""
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
        if state is not None:  # the table exists: register_lab created it
            gb.db.execute(delete(STATE).where(STATE.c.lab == lab_id, STATE.c.student == student))
            gb.db.execute(
                insert(STATE).values(
                    lab=lab_id, student=student, fingerprint=state[0], result=state[1], graded_at=dt.datetime.now(dt.timezone.utc)
                )
            )
        gb.db.commit()


def total_score(db_url: str, course_id: str, lab_id: str, student: str) -> tuple[float, float]:
    """Return (score, max score) of a student's submission as the gradebook reports it."""
    with open_gradebook(db_url, course_id) as gb:
        submission = gb.find_submission(lab_id, student)
        return float(submission.score), float(submission.max_score)
