"""Issue 17: nothing a student sends runs in the instructor's (or a student's) browser.

A Lab 01 (toy) submission carrying every form in injection_corpus.py is graded; the graded
notebook is rendered exactly as nbgrader's formgrader renders its manual-grading page, and the
class's ``course feedback`` pages are written; no page may hold anything executable that the
formgrader's own template does not, and the marker must still read the answer, its formulas,
its table and the plot.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import injection_corpus as corpus
from html_safety import executable, formgrade_html, page_text, parse
from autograder.feedback.sanitise import sanitise_markdown, sanitise_notebook
from autograder.review.restore import grade_id_of


def _one_cell(tmp_path: Path, source: str, name: str) -> Path:
    nb = new_notebook(cells=[new_markdown_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> str:
    return formgrade_html(_one_cell(tmp_path_factory.mktemp("baseline"), "A plain answer.", "lab01_toy"))


@pytest.mark.parametrize("form", sorted(corpus.MARKDOWN))
def test_each_markdown_form_is_inert_once_sanitised(form, tmp_path, baseline):
    source = corpus.MARKDOWN[form]
    clean, changes = sanitise_markdown(source)
    assert changes or form in corpus.INERT_WITHOUT_SANITISER, f"{form}: the sanitiser saw nothing to change"
    page = formgrade_html(_one_cell(tmp_path, clean, "lab01_toy"))
    assert executable(page, baseline) == [], f"{form}: {clean!r}"
    assert sanitise_markdown(clean)[1] == [], "sanitising twice changes nothing more"


def test_the_corpus_bites_unsanitised_forms_are_live_in_the_formgrader(tmp_path, baseline):
    """Without the sanitiser, nbconvert's formgrade template leaves these forms live (so the checks can see them)."""
    live = {f for f, src in corpus.MARKDOWN.items() if executable(formgrade_html(_one_cell(tmp_path, src, "lab01_toy")), baseline)}
    assert len(live) >= 15, sorted(set(corpus.MARKDOWN) - live)


def test_benign_markdown_is_left_as_written():
    for source in ["Plain *text* with $a<b$ and $$\\int_0^1 x\\,dx$$", "| a | b |\n|:-|-:|\n| 1 | 2 |", "x<br>y <sub>2</sub> `<script>` ok", "- [x] done\n- [ ] todo", "# Heading\n\n[docs](https://pytorch.org)"]:
        assert sanitise_markdown(source) == (source, [])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The toy lab graded for a reference student and for mallory, whose notebook carries the corpus."""
    from toy_course import make_course

    from autograder.authoring.build import build
    from autograder.collect.roster import RosterEntry, import_roster
    from autograder.course import load_course
    from autograder.grade import GradeOptions, grade_lab

    tmp = tmp_path_factory.mktemp("injection")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_DATA", str(tmp / "data"))
        mp.setenv("COURSE_OFFLINE", "1")
        course = load_course(make_course(tmp / "toy"))
        build(course)
        lab = course.labs[0]
        folder = tmp / "submissions"
        folder.mkdir()
        (folder / "reference.ipynb").write_bytes(course.source_notebook(lab).read_bytes())
        nb = nbformat.read(course.source_notebook(lab), as_version=4)
        for cell in nb.cells:
            if grade_id_of(cell) == "q3-written":
                cell.source = corpus.ANSWER
        extra = [new_markdown_cell(src, id=f"corpus-{i}") for i, src in enumerate(corpus.MARKDOWN.values())]
        attached = new_markdown_cell(corpus.ATTACHMENT_MARKDOWN, id="attachments")
        attached["attachments"] = corpus.ATTACHMENTS
        nb.cells += extra + [attached, new_code_cell(corpus.OUTPUT_CODE, id="outputs")]
        nbformat.write(nb, folder / "mallory.ipynb")
        (folder / corpus.BAD_FILE_NAME).write_text("not a notebook")
        db = f"sqlite:///{course.root / 'grading' / 'gradebook.db'}"
        report = grade_lab(course, lab, folder, GradeOptions(workers=2, progress=False), db_url=db)
        import_roster(db, course.id, [RosterEntry("mallory", corpus.ROSTER_FIRST, corpus.ROSTER_LAST, "")])
        yield course, lab, report, db


def _autograded(course, student: str) -> Path:
    return course.root / "grading" / "autograded" / student / "lab01_toy" / "lab01_toy.ipynb"


def test_graded_submission_renders_inert_in_the_formgrader(graded):
    course, lab, report, db = graded
    by = {r.student: r for r in report.results}
    assert by["mallory"].status == "graded" and by["mallory"].auto_score == by["reference"].auto_score == 5
    from autograder.record.gradebook import open_gradebook

    with open_gradebook(db, course.id) as gb:
        student = gb.find_student("mallory")
        first, last = student.first_name or "", student.last_name or ""
    evil = formgrade_html(_autograded(course, "mallory"), "mallory", first, last)
    clean = formgrade_html(_autograded(course, "reference"), "mallory", "Mallory", "")
    assert executable(evil, clean) == []
    assert corpus.MARK in page_text(evil), "the attempts are shown to the marker as text"
    nb = nbformat.read(_autograded(course, "mallory"), as_version=4)
    mimes = {m for c in nb.cells for o in c.get("outputs", []) for m in o.get("data", {})}
    assert mimes <= {"text/plain", "text/html", "image/png", "image/jpeg"}, mimes
    assert sanitise_notebook(nb)[1] == [], "the written notebook is already sanitised"


def test_marker_still_reads_answer_formulas_table_and_plot(graded):
    course, lab, report, db = graded
    page = formgrade_html(_autograded(course, "mallory"))
    text = page_text(page)
    for needed in corpus.ANSWER_TEXT + corpus.ANSWER_MATH + ("x squared", "epoch", "loss"):
        assert needed in text, needed
    tags = parse(page).tags
    assert sum(1 for t, _ in tags if t == "table") >= 2  # the answer's table and the HTML output's table
    images = [a.get("src", "") for t, a in tags if t == "img"]
    assert any(src.startswith("data:image/png;base64,") and len(src) > 1000 for src in images), "the matplotlib plot"
    assert any(src == "data:image/png;base64," + corpus.ATTACHMENTS["ok.png"]["image/png"] for src in images), "the pasted PNG attachment"
    # the manual-grading widgets of the written answer are there to mark and comment on
    ids = {a.get("id") for t, a in tags if t in ("input", "textarea")}
    assert {"q3-written", "q3-written-comment"} <= ids


def test_feedback_pages_escape_answers_names_and_file_names(graded):
    from autograder.feedback.pages import write_feedback

    course, lab, report, db = graded
    pages = write_feedback(course, lab, db).pages
    assert len(pages) == 3  # reference, mallory, and the rejected file's student
    baseline = next(p for p in pages if "reference" in p.parts).read_text(encoding="utf-8")
    assert [f[:2] for f in parse(baseline).findings] == [("element", "meta")] * 2 + [("style", ())]  # charset, CSP, own CSS
    for path in pages:
        page = path.read_text(encoding="utf-8")
        assert executable(page, baseline) == [], path
        assert not [t for t, _ in parse(page).tags if t == "script"]
        metas = [a for t, a in parse(page).tags if t == "meta" and a.get("http-equiv", "").lower() == "content-security-policy"]
        assert metas and "script-src 'none'" in metas[0]["content"] and "default-src 'none'" in metas[0]["content"]
    mallory = next(p for p in pages if "mallory" in p.parts).read_text(encoding="utf-8")
    assert "&lt;script&gt;document.title=&#39;PWNED-answer&#39;" in mallory  # the answer, escaped
    assert "Mallory" in page_text(mallory)
    rejected = next(p for p in pages if "mallory" not in p.parts and "reference" not in p.parts).read_text(encoding="utf-8")
    assert "PWNED-file" in page_text(rejected) and "&lt;svg" in rejected
