"""What the instructor and the students see after grading (issue 16): graded notebooks keep the
student's figures (inline backend); feedback rows carry the notebook's own question headings in
notebook order, Markdown and math rendered offline as MathML, the student's figures as
thumbnails; ``course status`` and ``course feedback --preview``."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import re
from pathlib import Path

import nbformat
import pytest
from plot_toy import TITLES, make_plot_course, student_submission
from toy_course import LAB_ID, NOTEBOOK
from workflow_helpers import fresh_gradebook

from autograder.authoring.build import build
from autograder.cli import main
from autograder.course import load_course
from autograder.feedback.richtext import render_markdown
from autograder.feedback.sanitise import MAX_IMAGE_BYTES, sanitise_notebook
from autograder.record.gradebook import open_gradebook

DUE = dt.datetime(2026, 10, 10, 17, 0, tzinfo=dt.timezone.utc)


def _run(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue() + err.getvalue()


def _hand_in(root: Path, student: str, text: str, when: dt.datetime) -> None:
    folder = root / "grading" / "submitted" / student / LAB_ID
    folder.mkdir(parents=True)
    (folder / NOTEBOOK).write_text(text, encoding="utf-8")
    (folder / "timestamp.txt").write_text(when.isoformat(), encoding="utf-8")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_DATA", str(tmp_path_factory.mktemp("data")))
        patch.setenv("COURSE_OFFLINE", "1")
        root = make_plot_course(tmp_path_factory.mktemp("views") / "toy")
        with open(root / "course.toml", "a", encoding="utf-8") as handle:
            handle.write(f'due = "{DUE.isoformat()}"\ngrace_minutes = 15\nlate_penalty_per_day = 0.1\nlate_penalty_cap = 0.5\n')
        course = load_course(root)
        build(course)
        fresh_gradebook(root)
        release = nbformat.read(course.release_notebook(course.labs[0]), as_version=4)
        _hand_in(root, "s001", student_submission(release), DUE - dt.timedelta(hours=1))
        _hand_in(root, "s002", student_submission(release, plot=False), DUE + dt.timedelta(hours=30))
        _hand_in(root, "s003", "", DUE)
        code, text = _run(["--root", str(root), "grade", "lab01", str(root / "grading" / "submitted"), "--quiet", "--workers", "2"])
        assert code == 0, text
        _hand_in(root, "s004", student_submission(release), DUE)  # collected after the grading run
        yield course


def test_graded_notebook_keeps_the_students_figure(graded):
    nb = nbformat.read(graded.root / "grading" / "autograded" / "s001" / LAB_ID / NOTEBOOK, as_version=4)
    plot = next(c for c in nb.cells if c.get("id") == "q4-plot")
    pngs = [o["data"]["image/png"] for o in plot.outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 1 and base64.b64decode(pngs[0]).startswith(b"\x89PNG")


def test_oversized_images_are_dropped_with_a_note():
    big = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * (MAX_IMAGE_BYTES + 10)).decode()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output("display_data", data={"image/png": big, "text/plain": "<Figure>"})])])
    clean, removed = sanitise_notebook(nb)
    data = clean.cells[0].outputs[0]["data"]
    assert "image/png" not in data and "removed by the grader" in data["text/plain"] and removed


def test_markdown_and_math_render_offline_and_inert():
    html = str(render_markdown("Use $\\frac{1}{2}x^2$ and **care**: <script>alert(1)</script> [x](javascript:alert(1)) $\\text{<img src=x onerror=alert(1)>}$"))
    assert "<math" in html and "<mfrac>" in html and "<strong>care</strong>" in html
    assert "<script" not in html and "<img" not in html and "javascript:" not in re.sub(r"\[x\]\(javascript:alert\(1\)\)", "", html)
    assert "onerror" not in html.replace("onerror=alert(1)", "") or "<img" not in html


def _mark_by_hand(course) -> None:
    with open_gradebook(f"sqlite:///{course.root / 'grading' / 'gradebook.db'}", course.id) as gb:
        # As the formgrader's API does: a manual score clears the grade's "needs manual grade".
        for student, cell in [("s001", "q3-written"), ("s002", "q3-written"), ("s001", "q4-plot")]:
            grade = gb.find_grade(cell, NOTEBOOK[:-6], LAB_ID, student)
            grade.manual_score, grade.needs_manual_grade = 1.0, False
        gb.find_comment("q4-plot", NOTEBOOK[:-6], LAB_ID, "s001").manual_comment = "Good: the curve is $y = x^2$, and the axis is **labelled**."
        gb.db.commit()


def test_status_then_preview_of_one_students_feedback(graded, monkeypatch):
    root = graded.root
    code, text = _run(["--root", str(root), "status", "1"])
    assert code == 0, text
    lines = {line.split("  ")[0].strip(): line for line in text.splitlines()[1:]}
    assert re.search(r"collected\s+4", lines["collected"]) and re.search(r"graded\s+2", lines["graded"]), text
    assert re.search(r"pending manual\s+2\s+s001, s002", lines["pending manual"]), text
    assert re.search(r"late\s+1\s+s002 \(2d\)", lines["late"]), text
    assert re.search(r"rejected\s+1\s+s003: .*empty", lines["rejected"]), text
    assert re.search(r"not graded yet\s+1\s+s004", lines["not graded yet"]), text

    _mark_by_hand(graded)
    monkeypatch.delenv("BROWSER", raising=False)
    code, text = _run(["--root", str(root), "feedback", "lab01", "--preview", "s001"])
    page = root / "grading" / "feedback" / "s001" / LAB_ID / "feedback.html"
    assert code == 0 and text.strip() == str(page), text
    assert not (root / "grading" / "feedback" / "s002").exists()
    html = page.read_text(encoding="utf-8")
    rows = re.findall(r"<tr>\s*<td>(.*?)(?: <small>|\s*</td>|<br>)", html, re.DOTALL)
    assert rows[: len(TITLES)] == TITLES, rows
    assert "ex-halve" not in html and "q1-double" not in html
    assert re.search(r'<img class="thumb" src="data:image/png;base64,iVBORw0KGgo[A-Za-z0-9+/=]+"', html)
    assert "<math" in html and "<strong>labelled</strong>" in html
    assert "script-src 'none'" in html and "<script" not in html

    code, text = _run(["--root", str(root), "status", "lab01_toy"])
    pending = next(line for line in text.splitlines() if line.startswith("pending manual"))
    with open_gradebook(f"sqlite:///{root / 'grading' / 'gradebook.db'}", graded.id) as gb:
        grades = [(g.name, g.auto_score, g.manual_score, g.needs_manual_grade) for g in gb.find_submission(LAB_ID, "s001").notebooks[0].grades]
    assert re.fullmatch(r"pending manual\s+0", pending), (text, grades)  # s002's unanswered plot scored 0 by the grader
