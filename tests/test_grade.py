import csv
import json

import nbformat
import pytest

from autograder.authoring.demo import write_demo_submissions
from autograder.grade import GradeOptions, grade_lab
from autograder.record.gradebook import total_score
from autograder.review.restore import grade_id_of


@pytest.fixture
def class_folder(toy_course, tmp_path):
    folder = tmp_path / "submissions"
    write_demo_submissions(toy_course, toy_course.labs[0], folder)
    (folder / "notes.txt").write_text("I could not do it")
    (folder / "carol").mkdir()
    (folder / "carol" / "lab1.ipynb").write_text("{}")
    (folder / "empty.ipynb").write_bytes(b"")
    # A correct answer written differently, in a cell the student added, with a stray warning.
    nb = nbformat.read(toy_course.release_notebook(toy_course.labs[0]), as_version=4)
    for cell in nb.cells:
        if grade_id_of(cell) == "q1-double":
            cell.source = "import warnings\nwarnings.warn('benign')\ndef double(x):\n    return x + x"
        if grade_id_of(cell) == "q2-square":
            cell.source = "def square(x):\n    return x ** 2"
    nbformat.write(nb, folder / "dana.ipynb")
    return folder


def test_a_class_is_graded_and_bad_entries_get_zero_with_a_reason(toy_course, class_folder):
    report = grade_lab(toy_course, toy_course.labs[0], class_folder, GradeOptions(workers=2, progress=False))
    by = {r.student: r for r in report.results}
    assert (by["reference"].auto_score, by["reference"].status) == (5, "graded")
    assert by["reference"].manual_pending == 1
    assert by["dana"].auto_score == 5, by["dana"].scores
    assert by["blank"].auto_score == 0 and by["blank"].status == "graded"
    assert 0 < by["partial"].auto_score < 5
    for student, reason in [
        ("corrupt", "corrupt.ipynb: not valid notebook JSON"),
        ("empty", "empty.ipynb: the file is empty"),
        ("notes", "notes.txt is not a notebook"),
        ("carol", "expected a notebook named lab01_toy.ipynb"),
    ]:
        assert by[student].status == "rejected" and by[student].auto_score == 0
        assert reason in by[student].message

    db = f"sqlite:///{toy_course.root / 'grading' / 'gradebook.db'}"
    assert total_score(db, toy_course.id, "lab01_toy", "reference") == (5.0, 6.0)
    assert total_score(db, toy_course.id, "lab01_toy", "corrupt") == (0.0, 6.0)

    rows = {row["student"]: row for row in csv.DictReader(open(report.marks_csv))}
    assert rows["dana"]["auto_score"] == "5" and rows["notes"]["status"] == "rejected"
    details = json.loads(report.report_json.read_text())
    assert {d["student"] for d in details} == set(by)
    executed = toy_course.root / "grading" / "autograded" / "reference" / "lab01_toy" / "lab01_toy.ipynb"
    assert executed.is_file()
    kept = toy_course.root / "grading" / "submitted" / "dana" / "lab01_toy" / "lab01_toy.ipynb"
    assert kept.read_bytes() == (class_folder / "dana.ipynb").read_bytes()


def test_regrading_replaces_scores(toy_course, tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    release = toy_course.release_notebook(toy_course.labs[0])
    (folder / "eve.ipynb").write_bytes(release.read_bytes())
    grade_lab(toy_course, toy_course.labs[0], folder, GradeOptions(workers=1, progress=False))
    (folder / "eve.ipynb").write_bytes(toy_course.source_notebook(toy_course.labs[0]).read_bytes())
    report = grade_lab(toy_course, toy_course.labs[0], folder, GradeOptions(workers=1, progress=False))
    assert report.results[0].auto_score == 5
    db = f"sqlite:///{toy_course.root / 'grading' / 'gradebook.db'}"
    assert total_score(db, toy_course.id, "lab01_toy", "eve")[0] == 5.0


def test_the_marks_table_wraps_long_messages_instead_of_cutting_them():
    from autograder.grade import SubmissionResult, format_table

    message = "corrupt.ipynb: not valid notebook JSON (line 674, column 5: Unterminated string); the file may be truncated"
    table = format_table([SubmissionResult("corrupt", "rejected", message), SubmissionResult("ok", "graded", "ran to the end")], 40)
    words = " ".join(line.split("  ")[-1].strip() for line in table.splitlines()[2:-1])
    assert words.split() == message.split(), table
    assert all(len(line) < 120 for line in table.splitlines())
