"""``course export``: the class's marks as CSV files.

``marks_full.csv``: one row per student (roster and anyone graded), and for every lab the
raw points (manual marks included), the late penalty, the final mark, the maximum and a
status (``ok``, ``no submission``, or flags such as ``late 2d; manual pending``).

``moodle_grades.csv``: what Moodle's gradebook CSV import accepts: an identifier column
(``Email address`` or ``ID number``, mapped to the same user field on import) and one column
of final marks per lab; a lab without a submission is left blank, which Moodle skips.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from autograder.course import Course
from autograder.layout import export_dir
from autograder.record.penalties import apply_late_penalties
from autograder.record.results import LabResult, lab_results, questions, safe_text
from autograder.collect.roster import RosterEntry, load_roster

IDENTIFIERS = {"email": "Email address", "idnumber": "ID number"}


@dataclass(frozen=True)
class ExportReport:
    """The files written and anything a human should know about them."""

    full_csv: Path
    moodle_csv: Path
    students: int
    warnings: list[str]


def _number(value: float) -> str:
    return f"{round(value, 2):g}"


def _status(result: LabResult | None) -> str:
    if result is None:
        return "no submission"
    flags = result.flags
    if result.status != "graded" and result.message:
        flags = [f"{result.status}: {result.message}" if f == result.status else f for f in flags]
    return safe_text("; ".join(safe_text(f, 2000) for f in flags) or "ok", 4000)


def export_marks(course: Course, db_url: str, out: Path | None = None, identifier: str = "email") -> ExportReport:
    """Write both CSV files for every lab in course.toml; see the module docstring."""
    if identifier not in IDENTIFIERS:
        raise ValueError(f"identifier must be one of {sorted(IDENTIFIERS)}, not {identifier!r}")
    out = Path(out) if out else export_dir(course)
    out.mkdir(parents=True, exist_ok=True)
    for lab in course.labs:
        apply_late_penalties(course, lab, db_url)  # penalties follow manual marks added since grading
    results = {lab.id: lab_results(course, lab, db_url) for lab in course.labs}
    lab_max = {lab.id: sum(q.max_points for q in questions(course, lab)) for lab in course.labs}
    roster = {e.id: e for e in load_roster(db_url, course.id)}
    students = sorted(set(roster) | {s for by in results.values() for s in by})
    warnings: list[str] = []

    full_csv = out / "marks_full.csv"
    # errors="replace": a lone surrogate in any field can never stop the export.
    with open(full_csv, "w", newline="", encoding="utf-8", errors="replace") as handle:
        writer = csv.writer(handle)
        header = ["student_id", "first_name", "last_name", "email", "on_roster"]
        for lab in course.labs:
            header += [f"{lab.id}_raw", f"{lab.id}_penalty", f"{lab.id}_final", f"{lab.id}_max", f"{lab.id}_status"]
        writer.writerow(header + ["total_final", "total_max"])
        for student in students:
            entry = roster.get(student, RosterEntry(student))
            on_roster = bool(entry.first_name or entry.last_name or entry.email)
            row = [student, entry.first_name, entry.last_name, entry.email, "yes" if on_roster else "no"]
            total, total_max = 0.0, 0.0
            for lab in course.labs:
                result = results[lab.id].get(student)
                if results[lab.id]:  # a lab nobody has been graded in yet is not part of the total
                    total_max += lab_max[lab.id]
                if result is None:
                    row += ["", "", "", _number(lab_max[lab.id]), _status(None)]
                    continue
                try:  # one student's broken record costs that cell only, never the class's export
                    cells = [_number(result.raw), _number(result.penalty), _number(result.final), _number(result.max_score), _status(result)]
                    total += result.final
                except Exception as error:
                    cells = ["", "", "", _number(lab_max[lab.id]), f"record unreadable ({type(error).__name__})"]
                    warnings.append(f"{student}: {lab.id} record could not be exported ({type(error).__name__}): check it")
                row += cells
            writer.writerow(row + [_number(total), _number(total_max)])
            if not on_roster:
                warnings.append(f"{student} was graded but is not on the roster (import it with `course roster import`)")

    moodle_csv = out / "moodle_grades.csv"
    with open(moodle_csv, "w", newline="", encoding="utf-8", errors="replace") as handle:
        writer = csv.writer(handle)
        writer.writerow([IDENTIFIERS[identifier]] + [lab.id for lab in course.labs])
        for student in students:
            entry = roster.get(student, RosterEntry(student))
            key = entry.email if identifier == "email" else entry.id
            if not key:
                warnings.append(f"{student} has no email on the roster: left out of {moodle_csv.name} (or use --identifier idnumber)")
                continue
            marks = []
            for lab in course.labs:
                result = results[lab.id].get(student)
                try:
                    marks.append("" if result is None else _number(result.final))
                except Exception:
                    marks.append("")  # reported in the full CSV's warnings
            writer.writerow([key, *marks])
    for lab in course.labs:
        pending = sorted(s for s, r in results[lab.id].items() if r.needs_manual)
        if pending:
            warnings.append(f"{lab.id}: manual grading still pending for {', '.join(pending)} (their marks may rise)")
    return ExportReport(full_csv, moodle_csv, len(students), warnings)
