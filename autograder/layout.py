"""Where the instructor workflow keeps its files, all under ``grading/`` (never committed)."""

from __future__ import annotations

from pathlib import Path

from autograder.course import Course, Lab


def grading_root(course: Course) -> Path:
    """The folder holding the gradebook, submissions, outputs, feedback and exports."""
    return course.root / "grading"


def default_db_url(course: Course) -> str:
    """The gradebook ``course grade`` writes by default."""
    return f"sqlite:///{grading_root(course) / 'gradebook.db'}"


def submitted_dir(course: Course) -> Path:
    """nbgrader's ``submitted`` folder: ``<student>/<lab>/<notebook>`` plus ``timestamp.txt``."""
    return grading_root(course) / "submitted"


def history_dir(course: Course, student: str, lab: Lab) -> Path:
    """Earlier or superseded collections of one student's lab, one sub-folder each."""
    return grading_root(course) / "collected-history" / student / lab.id


def unmatched_dir(course: Course, lab: Lab) -> Path:
    """Entries that matched no roster student, kept until the roster is fixed."""
    return grading_root(course) / "collected-unmatched" / lab.id


def collect_log(course: Course, lab: Lab) -> Path:
    """One JSON line per ``course collect`` run of a lab."""
    return grading_root(course) / "collect-log" / f"{lab.id}.jsonl"


def marks_csv(course: Course, lab: Lab) -> Path:
    """The marks table ``course grade`` writes for a lab."""
    return grading_root(course) / "marks" / f"{lab.id}.csv"


def autograded_notebook(course: Course, student: str, lab: Lab) -> Path:
    """A student's notebook as executed by the grader (what the formgrader shows)."""
    return grading_root(course) / "autograded" / student / lab.id / lab.notebook


def demo_submissions_dir(course: Course, lab: Lab) -> Path:
    """Where ``course demo`` writes its example submissions."""
    return grading_root(course) / "demo-submissions" / lab.id


def report_json(course: Course, lab: Lab) -> Path:
    """The grading report ``course grade`` writes for a lab."""
    return grading_root(course) / "reports" / f"{lab.id}.json"


def feedback_page(course: Course, student: str, lab: Lab) -> Path:
    """One student's feedback page for one lab."""
    return grading_root(course) / "feedback" / student / lab.id / "feedback.html"


def feedback_zip(course: Course, student: str, lab: Lab) -> Path:
    """The zip of one student's feedback for one lab, ready to hand back."""
    return grading_root(course) / "feedback-zips" / lab.id / f"{student}_{lab.id}_feedback.zip"


def export_dir(course: Course) -> Path:
    """Where ``course export`` writes the marks CSVs."""
    return grading_root(course) / "export"


def ensure_db_folder(db_url: str) -> str:
    """Create the folder of a SQLite gradebook file if needed; return the URL unchanged."""
    prefix = "sqlite:///"
    if db_url.startswith(prefix) and db_url[len(prefix):] not in ("", ":memory:"):
        Path(db_url[len(prefix):]).parent.mkdir(parents=True, exist_ok=True)
    return db_url
