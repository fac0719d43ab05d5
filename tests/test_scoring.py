from nbformat.v4 import new_code_cell, new_markdown_cell, new_output
from nbgrader.utils import compute_checksum

from autograder.judge.scoring import not_run_scores, score_cell, score_notebook

from toy_course import source_notebook


def _test_cell(outputs, execution_count=1):
    meta = {"nbgrader": {"grade_id": "t", "grade": True, "solution": False, "locked": True, "points": 3, "schema_version": 3}}
    cell = new_code_cell("assert True", metadata=meta)
    cell.outputs = outputs
    cell.execution_count = execution_count
    return cell


def test_a_test_cell_that_ran_cleanly_earns_its_points():
    assert score_cell(_test_cell([])).points == 3


def test_stderr_warnings_do_not_cost_marks():
    warning = new_output("stream", name="stderr", text="UserWarning: something benign\n")
    assert score_cell(_test_cell([warning])).points == 3


def test_an_error_scores_zero_with_its_message():
    error = new_output("error", ename="AssertionError", evalue="expected shape (3, 2), got (2, 3)", traceback=[])
    score = score_cell(_test_cell([error]))
    assert score.points == 0 and score.message == "AssertionError: expected shape (3, 2), got (2, 3)"


def test_a_test_cell_that_never_ran_scores_zero():
    score = score_cell(_test_cell([], execution_count=None))
    assert score.points == 0 and "did not run" in score.message


def test_written_answers_wait_for_a_human_unless_untouched():
    meta = {"nbgrader": {"grade_id": "w", "grade": True, "solution": True, "locked": False, "points": 2, "schema_version": 3}}
    cell = new_markdown_cell("YOUR ANSWER HERE", metadata=meta)
    cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
    assert score_cell(cell).points == 0
    cell.source = "My answer."
    pending = score_cell(cell)
    assert pending.points is None and pending.kind == "manual"


def test_not_run_scores_cover_every_graded_cell():
    scores = not_run_scores(source_notebook(), "corrupt")
    assert [(s.grade_id, s.kind, s.points) for s in scores] == [
        ("q1-double-tests", "auto", 0.0),
        ("q2-square-tests", "auto", 0.0),
        ("q3-written", "manual", 0.0),
    ]
    assert sum(s.max_points for s in scores) == 6


def test_score_notebook_reads_cells_in_order():
    nb = source_notebook()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.execution_count = 1
    assert [s.points for s in score_notebook(nb)] == [2, 3, None]
