"""Finding each student's notebook in a folder of submissions, and saying clearly what is wrong.

Accepted layouts: ``<student>.ipynb``, ``<student>/<notebook>`` and nbgrader's
``<student>/<lab>/<notebook>``. Anything else becomes a submission with a problem, which
the grader records as a zero with that message; nothing is silently skipped except hidden
files and macOS archive folders.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from autograder.course import Lab

_SKIP = re.compile(r"^(\.|__MACOSX$|Thumbs\.db$|desktop\.ini$)")
_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")


@dataclass(frozen=True)
class Submission:
    """One student's entry: the notebook to grade, or the reason there is none."""

    student: str
    path: Path | None
    problem: str | None = None
    timestamp: dt.datetime | None = None  # when it was submitted, if known




def read_timestamp(folder: Path) -> dt.datetime | None:
    """The submission time in ``folder/timestamp.txt`` (nbgrader's convention), if present and valid."""
    path = folder / "timestamp.txt"
    if not path.is_file():
        return None
    try:
        stamp = dt.datetime.fromisoformat(path.read_text(encoding="utf-8").strip())
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)


def _in_folder(student: str, folder: Path, lab: Lab) -> Submission:
    for candidate in (folder / lab.notebook, folder / lab.id / lab.notebook):
        if candidate.is_file():
            return Submission(student, candidate, timestamp=read_timestamp(candidate.parent))
    notebooks = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if notebooks:
        found = ", ".join(notebooks[:5])
        return Submission(student, None, f"expected a notebook named {lab.notebook}, found {found}: rename it and resubmit")
    return Submission(student, None, f"no notebook in the submission folder (expected {lab.notebook})")


def other_labs_only(folder: Path, lab: Lab) -> bool:
    """True when ``folder`` holds only other labs' ``labNN_*`` folders (no entry for ``lab``)."""
    if (folder / lab.notebook).exists() or (folder / lab.id).exists():
        return False
    children = [p for p in folder.iterdir() if not _SKIP.match(p.name)]
    return bool(children) and all(p.is_dir() and re.match(r"^lab\d{2}_", p.name) for p in children)


def discover(folder: Path, lab: Lab) -> list[Submission]:
    """List the submissions in ``folder`` for ``lab``, one per student, sorted by student id."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"submissions folder {folder} does not exist")
    found: dict[str, Submission] = {}
    for entry in sorted(folder.iterdir()):
        if _SKIP.match(entry.name):
            continue
        student = entry.stem if entry.is_file() else entry.name
        if not _STUDENT_ID.match(student):
            student = re.sub(r"[^A-Za-z0-9_.@+-]", "_", student).strip("_.") or "unnamed"
        if entry.is_dir() and other_labs_only(entry, lab):
            continue  # nbgrader's <student>/<lab>/ layout (grading/submitted): nothing for this lab
        if entry.is_dir():
            submission = _in_folder(student, entry, lab)
        elif entry.suffix == ".ipynb":
            submission = Submission(student, entry)
        else:
            submission = Submission(student, None, f"{entry.name} is not a notebook: submit the .ipynb file")
        if student in found:
            submission = Submission(student, None, f"more than one submission for {student} ({entry.name} and another): keep one")
        found[student] = submission
    return [found[s] for s in sorted(found)]
