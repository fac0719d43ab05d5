"""``course feedback``: one HTML page per student and lab, safe to hand back.

A page shows each graded question's points, outcome and hint (the failing check's message),
the grader's comments, the late penalty and the final mark, and (optionally) the student's own
answer cells. It never shows hidden tests, reference solutions or mark schemes: it is built
from recorded results (``results.py``), not from the executed notebook, and every hint is
checked against the lab's secret lines (``leaks.py``) before it is written.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
import html as html_escape
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import nbformat
from nbgrader.utils import is_solution

from autograder.course import Course, Lab
from autograder.layout import autograded_notebook, feedback_page, feedback_zip, submitted_dir
from autograder.feedback.richtext import render_markdown
from autograder.authoring.leaks import normalise, notebook_secrets, redact, secret_lines
from autograder.authoring.notebooks import NotebookError, read_notebook
from autograder.record.penalties import apply_late_penalties
from autograder.review.restore import grade_id_of
from autograder.record.results import LabResult, lab_results, safe_text
from autograder.collect.roster import load_roster

TEMPLATE = Path(__file__).parent / "templates" / "feedback.html.j2"
SHOW_HINT = {"failed", "partly passed", "not run", "not graded"}
_PNG_BASE64 = re.compile(r"iVBORw0KGgo[A-Za-z0-9+/]*={0,2}")  # a PNG's signature, then base64 only


@dataclass(frozen=True)
class FeedbackReport:
    """The pages (and zips) written, and the students whose feedback is not final yet."""

    pages: list[Path]
    zips: list[Path]
    pending: list[str]  # students with answers still waiting for manual grading
    problems: list[str] = field(default_factory=list)  # students whose page is a plain fallback, and why


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _answers(course: Course, lab: Lab, result: LabResult, secrets: list[str]) -> list[dict]:
    """The student's own answer cells, from the notebook they handed in."""
    path = submitted_dir(course) / result.student / lab.id / lab.notebook
    try:
        nb = read_notebook(path)
    except NotebookError:
        return []
    wanted = {a for cell in result.cells for a in cell.question.answer_ids}
    answers = []
    for cell in nb.cells:
        gid = grade_id_of(cell)
        if gid not in wanted or not is_solution(cell):
            continue
        flat = normalise(cell.source)
        if any(secret in flat for secret in secrets):
            source = "(this answer matches the reference solution, so it is not reproduced here)"
        else:
            source = safe_text(cell.source, 100_000)
        answers.append({"grade_id": gid, "source": source})
        wanted.discard(gid)
    return answers


def _lateness(result: LabResult) -> str:
    if result.seconds_late <= 0:
        return ""
    hours = result.seconds_late / 3600
    when = f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"
    if result.days_charged == 0:
        return f"{when} late, inside the grace period: no penalty"
    return f"{when} late ({result.days_charged} started day{'s' if result.days_charged > 1 else ''})"


def student_hint(message: str, secret_lines_: list[str]) -> str:
    """The hint a student sees for a failed check: the check's message, in plain words where it helps."""
    if message.startswith("NotImplementedError"):
        return "not answered yet: the answer cell still raises NotImplementedError"
    if message.startswith("NameError"):
        return f"{message} (was a cell above not run, or a function renamed?)"
    return redact(message, secret_lines_)


MAX_FIGURE_BYTES = 512 << 10  # one thumbnail on a feedback page, at most
MAX_FIGURES = 4  # per question


def student_figures(course: Course, lab: Lab, result: LabResult) -> dict[str, list[str]]:
    """The student's own figures for each hand-marked question: ``data:image/png`` URIs of the
    image/png outputs of the question's cells in the autograded (sanitised) notebook, size-capped."""
    path = autograded_notebook(course, result.student, lab)
    try:  # the grader's own sanitised copy (read_notebook would drop its outputs)
        if path.stat().st_size > 64 << 20:
            return {}
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - no figures is better than no page
        return {}
    outputs: dict[str, list[str]] = {}
    for cell in nb.cells:
        gid = grade_id_of(cell)
        if gid and cell.cell_type == "code":
            for output in cell.get("outputs", []):
                png = output.get("data", {}).get("image/png") if isinstance(output.get("data"), dict) else None
                if isinstance(png, str) and _PNG_BASE64.fullmatch(png) and len(png) * 3 // 4 <= MAX_FIGURE_BYTES:
                    outputs.setdefault(gid, []).append(f"data:image/png;base64,{png}")
    figures: dict[str, list[str]] = {}
    for cell in result.cells:
        if cell.question.kind == "manual":
            found = [uri for gid in cell.question.cell_ids for uri in outputs.get(gid, [])]
            if found:
                figures[cell.question.grade_id] = found[:MAX_FIGURES]
    return figures


def _rows(course: Course, lab: Lab, result: LabResult) -> list[dict]:
    """The questions table: one row per graded cell, in notebook order, titled by its heading."""
    figures = student_figures(course, lab, result)
    return [
        {
            "title": cell.question.label,
            "manual": cell.question.kind == "manual",
            "points": cell.points,
            "max_points": cell.question.max_points,
            "outcome": cell.outcome,
            "hint": render_markdown(cell.hint) if cell.hint else "",
            "comments": [render_markdown(comment) for comment in cell.comments],
            "figures": figures.get(cell.question.grade_id, []),
        }
        for cell in result.cells
    ]


def render_page(course: Course, lab: Lab, result: LabResult, name: str, answers: list[dict], hint_lines: list[str]) -> str:
    """The HTML feedback page of one student's lab result."""
    for cell in result.cells:
        cell.hint = student_hint(cell.message, hint_lines) if cell.outcome in SHOW_HINT and cell.message else ""
    titles = {gid: cell.question.label for cell in result.cells for gid in cell.question.cell_ids}
    for answer in answers:
        answer.setdefault("title", titles.get(answer["grade_id"], answer["grade_id"]))
    submitted = result.timestamp.isoformat() if result.timestamp else "time not recorded"
    return _environment().get_template(TEMPLATE.name).render(
        course=course,
        lab=lab,
        result=result,
        name=name,
        submitted=submitted,
        policy=lab.late.describe(),
        late=_lateness(result),
        pending=result.needs_manual,
        answers=answers,
        rows=_rows(course, lab, result),
        generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_feedback(
    course: Course,
    lab: Lab,
    db_url: str,
    students: list[str] | None = None,
    make_zips: bool = False,
    show_answers: bool = True,
) -> FeedbackReport:
    """Write ``grading/feedback/<student>/<lab>/feedback.html`` for every graded student (or ``students``)."""
    apply_late_penalties(course, lab, db_url)  # penalties follow manual marks added since grading
    results = lab_results(course, lab, db_url)
    if students:
        unknown = sorted(set(students) - set(results))
        if unknown:
            raise ValueError(f"no recorded submission of {lab.id} for: {', '.join(unknown)}")
        results = {s: results[s] for s in students}
    names = {e.id: e.full_name for e in load_roster(db_url, course.id)}
    secrets = notebook_secrets(read_notebook(course.source_notebook(lab)), lab.id)
    hint_lines = secret_lines(secrets)
    regions = [s.normalised for s in secrets if len(s.normalised) >= 10]
    pages, zips, pending = [], [], []
    problems: list[str] = []
    for student, result in sorted(results.items()):
        # One student's broken record (odd text, a huge message, a notebook that cannot be read)
        # never stops the class's feedback: that student gets a plain page and the run says so.
        try:
            answers = _answers(course, lab, result, regions) if show_answers else []
            html = render_page(course, lab, result, safe_text(names.get(student) or student, 200), answers, hint_lines)
        except Exception as error:
            problems.append(f"{student}: feedback page could not be built ({type(error).__name__}); a plain page was written")
            html = _fallback_page(lab, student, result)
        page = feedback_page(course, student, lab)
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(html, encoding="utf-8", errors="replace")
        pages.append(page)
        if result.needs_manual:
            pending.append(student)
        if make_zips:
            archive = feedback_zip(course, student, lab)
            archive.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as handle:
                handle.write(page, f"{lab.id}/feedback.html")
            zips.append(archive)
    return FeedbackReport(pages, zips, pending, problems)


def _fallback_page(lab: Lab, student: str, result: LabResult) -> str:
    """A minimal page with the mark alone, for a record the full page could not be built from."""
    try:
        mark = f"{result.final:g} / {result.max_score:g}"
    except Exception:
        mark = "see your instructor"
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback</title></head><body>"
        f"<h1>{html_escape.escape(safe_text(lab.title, 200))}: {html_escape.escape(safe_text(student, 200))}</h1>"
        f"<p>Mark: {html_escape.escape(mark)}</p>"
        "<p>The detailed feedback for this submission could not be generated; your instructor has been told.</p>"
        "</body></html>"
    )
