import copy

from autograder.authoring.notebooks import grading_template, release_version
from autograder.review.restore import grade_id_of, restore

from toy_course import source_notebook


def _template():
    return grading_template(source_notebook(), "lab01_toy", "lab01_toy")


def _student():
    return release_version(source_notebook(), "lab01_toy", "lab01_toy")


def _by_id(nb):
    return {grade_id_of(c): c for c in nb.cells if grade_id_of(c)}


def test_untouched_release_needs_no_repairs():
    restored = restore(_student(), _template())
    assert restored.repairs == []
    assert "def probe(seed)" in _by_id(restored.notebook)["q1-double-tests"].source


def test_answers_are_kept_and_tests_restored():
    student = _student()
    cells = _by_id(student)
    cells["q1-double"].source = "def double(x):\n    return x + x"
    cells["q1-double-tests"].source = "pass  # nothing to see"
    restored = restore(student, _template())
    out = _by_id(restored.notebook)
    assert out["q1-double"].source == "def double(x):\n    return x + x"
    assert "def probe(seed)" in out["q1-double-tests"].source
    assert any("q1-double-tests" in r and "restored" in r for r in restored.repairs)


def test_deleted_graded_cells_are_re_added_in_place():
    student = _student()
    student.cells = [c for c in student.cells if grade_id_of(c) not in {"q1-double-tests", "q2-square"}]
    restored = restore(student, _template())
    order = [grade_id_of(c) for c in restored.notebook.cells if grade_id_of(c)]
    assert order == ["q1-double", "q1-double-tests", "q2-square", "q2-square-tests", "q3-written"]
    assert sum("missing" in r for r in restored.repairs) == 2


def test_duplicates_and_foreign_ids_become_ordinary_cells():
    student = _student()
    dup = copy.deepcopy(_by_id(student)["q1-double-tests"])
    dup.source = "print('mine')"
    foreign = copy.deepcopy(dup)
    foreign.metadata.nbgrader["grade_id"] = "made-up"
    student.cells += [dup, foreign]
    restored = restore(student, _template())
    assert [grade_id_of(c) for c in restored.notebook.cells[-2:]] == [None, None]
    assert "nbgrader" not in restored.notebook.cells[-1].metadata
    assert any("duplicate" in r for r in restored.repairs)
    assert any("made-up" in r for r in restored.repairs)
    ids = [c["id"] for c in restored.notebook.cells]
    assert len(ids) == len(set(ids))


def test_edited_metadata_is_ignored():
    student = _student()
    tests = _by_id(student)["q1-double-tests"]
    tests.metadata.nbgrader["points"] = 100
    answer = _by_id(student)["q1-double"]
    answer.metadata.nbgrader["grade"] = True
    answer.metadata.nbgrader["points"] = 50
    restored = _by_id(restore(student, _template()).notebook)
    assert restored["q1-double-tests"].metadata.nbgrader["points"] == 2
    assert restored["q1-double"].metadata.nbgrader["grade"] is False


def test_students_extra_cells_stay_where_they_were():
    student = _student()
    position = [i for i, c in enumerate(student.cells) if grade_id_of(c) == "q2-square"][0]
    extra = copy.deepcopy(student.cells[position])
    extra.metadata = {}
    extra.source = "helper = 3"
    student.cells.insert(position, extra)
    restored = restore(student, _template()).notebook
    sources = [c.source for c in restored.cells]
    assert sources.index("helper = 3") == position


def test_outputs_of_the_submission_are_cleared():
    student = _student()
    cell = _by_id(student)["q1-double"]
    cell.outputs = [{"output_type": "stream", "name": "stdout", "text": "fake"}]
    cell.execution_count = 7
    restored = _by_id(restore(student, _template()).notebook)
    assert restored["q1-double"].outputs == [] and restored["q1-double"].execution_count is None


def test_the_source_notebook_itself_needs_no_repairs():
    # The source lacks the checksums the template adds: that is not tampering.
    assert restore(source_notebook(), _template()).repairs == []


def test_visible_checks_after_the_hidden_block_are_not_an_edit():
    source = source_notebook()
    tests = _by_id(source)["q1-double-tests"]
    tests.source += "\nprint('double passed')"  # visible again after ### END HIDDEN TESTS
    template = grading_template(source, "lab01_toy", "lab01_toy")
    student = release_version(source, "lab01_toy", "lab01_toy")
    assert restore(student, template).repairs == []
    _by_id(student)["q1-double-tests"].source = "print('double passed')"
    assert any("q1-double-tests" in r for r in restore(student, template).repairs)


def test_every_lab_release_restores_without_repairs():
    from autograder.course import load_course
    from autograder.authoring.notebooks import lab_template
    from autograder.authoring.notebooks import read_notebook

    from conftest import REPO

    course = load_course(REPO)
    for lab in course.labs:
        release = read_notebook(course.release_notebook(lab))
        assert restore(release, lab_template(course, lab)).repairs == [], lab.id
