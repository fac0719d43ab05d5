"""Finding each student's notebook in a folder of submissions, and saying clearly what is wrong.

Accepted layouts: ``<student>.ipynb``, ``<student>/<notebook>`` and nbgrader's
``<student>/<lab>/<notebook>``. Anything else becomes a submission with a problem, which
the grader records as a zero with that message; nothing is silently skipped except hidden
files and macOS archive folders.

Symbolic links (a notebook, a student folder or a lab folder that is a link) are refused and
never followed: a link could point at the solutions or at another student's work.

Entries that name the same student (``alice.ipynb`` and ``alice/``, or ``Alice.ipynb`` and
``alice.ipynb``: ids are compared without case) are not both zeroed: the rule is to grade one
and report the others by name. A usable notebook beats an entry with a problem; among usable
ones the newest wins (submission time from ``timestamp.txt``, else the file's modification
time; ties go to the first path in sorted order). The student id is the smallest of the ids,
so it does not change from run to run.
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
    notes: tuple[str, ...] = ()  # problems with the submitted files that did not stop grading




def read_timestamp(folder: Path) -> dt.datetime | None:
    """The submission time in ``folder/timestamp.txt`` (nbgrader's convention), if present and valid."""
    path = folder / "timestamp.txt"
    if path.is_symlink() or not path.is_file():
        return None
    try:
        stamp = dt.datetime.fromisoformat(path.read_text(encoding="utf-8").strip())
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)


def _link_problem(student: str, path: Path, shown: str) -> Submission:
    return Submission(
        student, None, f"{shown} is a symbolic link, not a file: submit the notebook itself (links are never followed)"
    )


def _in_folder(student: str, folder: Path, lab: Lab) -> Submission:
    if (folder / lab.id).is_symlink():
        return _link_problem(student, folder / lab.id, f"{folder.name}/{lab.id}")
    for candidate in (folder / lab.notebook, folder / lab.id / lab.notebook):
        if candidate.is_symlink():
            return _link_problem(student, candidate, candidate.relative_to(folder.parent).as_posix())
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
    groups: dict[str, list[tuple[Path, Submission]]] = {}
    for entry in sorted(folder.iterdir()):
        if _SKIP.match(entry.name):
            continue
        link = entry.is_symlink()
        student = entry.stem if (link and entry.suffix == ".ipynb") or (not link and entry.is_file()) else entry.name
        if not _STUDENT_ID.match(student):
            student = re.sub(r"[^A-Za-z0-9_.@+-]", "_", student).strip("_.") or "unnamed"
        if link:
            submission = _link_problem(student, entry, entry.name)
        elif entry.is_dir() and other_labs_only(entry, lab):
            continue  # nbgrader's <student>/<lab>/ layout (grading/submitted): nothing for this lab
        elif entry.is_dir():
            submission = _in_folder(student, entry, lab)
        elif entry.suffix == ".ipynb":
            submission = Submission(student, entry)
        else:
            submission = Submission(student, None, f"{entry.name} is not a notebook: submit the .ipynb file")
        groups.setdefault(student.casefold(), []).append((entry, submission))
    found = [_one_per_student(folder, entries) for entries in groups.values()]
    return sorted(found, key=lambda s: s.student)


def _when(submission: Submission) -> float:
    if submission.timestamp is not None:
        return submission.timestamp.timestamp()
    try:
        return submission.path.lstat().st_mtime if submission.path else float("-inf")
    except OSError:
        return float("-inf")


def _one_per_student(folder: Path, entries: list[tuple[Path, Submission]]) -> Submission:
    """The submission graded among entries naming one student; the others reported (module docstring)."""
    student = min(s.student for _, s in entries)
    if len(entries) == 1:
        return Submission(student, entries[0][1].path, entries[0][1].problem, entries[0][1].timestamp)

    def shown(entry: Path, submission: Submission) -> str:
        return (submission.path or entry).relative_to(folder).as_posix()

    ranked = sorted(entries, key=lambda e: (e[1].problem is None, _when(e[1]), [-ord(c) for c in shown(*e)]), reverse=True)
    (entry, chosen), others = ranked[0], ranked[1:]
    names = ", ".join(shown(*other) for other in others)
    if chosen.problem is not None:
        problem = f"more than one submission for {student} ({shown(entry, chosen)} and {names}), none usable: {chosen.problem}"
        return Submission(student, None, problem)
    note = (
        f"more than one submission for {student}: graded {shown(entry, chosen)} (the newest usable one), "
        f"ignored {names}: keep one"
    )
    return Submission(student, chosen.path, None, chosen.timestamp, notes=(note,))
