from nbformat.v4 import new_code_cell, new_markdown_cell, new_output
from nbgrader.utils import compute_checksum

from autograder.judge.judging import Verdict
from autograder.judge.scoring import not_run_scores, score_cell, score_notebook

from toy_course import source_notebook


def _test_cell():
    meta = {"nbgrader": {"grade_id": "t", "grade": True, "solution": False, "locked": True, "points": 3, "schema_version": 3}}
    return new_code_cell("assert True", metadata=meta)


def test_a_test_cell_earns_its_points_only_from_its_judge():
    assert score_cell(_test_cell(), {"t": Verdict(True, "passed")}).points == 3
    refused = score_cell(_test_cell(), {"t": Verdict(False, "expected shape (3, 2), got (2, 3)")})
    assert refused.points == 0 and refused.message == "expected shape (3, 2), got (2, 3)"


def test_what_a_test_cell_printed_or_raised_in_the_kernel_does_not_count():
    cell = _test_cell()
    cell.execution_count = 1
    cell.outputs = [new_output("error", ename="AssertionError", evalue="boom", traceback=[])]
    assert score_cell(cell, {"t": Verdict(True, "passed")}).points == 3
    cell.outputs = []
    assert score_cell(cell, {}).points == 0, "a clean run with no verdict earns nothing"


def test_written_answers_wait_for_a_human_unless_untouched():
    meta = {"nbgrader": {"grade_id": "w", "grade": True, "solution": True, "locked": False, "points": 2, "schema_version": 3}}
    cell = new_markdown_cell("YOUR ANSWER HERE", metadata=meta)
    cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
    assert score_cell(cell, {}).points == 0
    cell.source = "My answer."
    pending = score_cell(cell, {})
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
    verdicts = {"q1-double-tests": Verdict(True, "passed"), "q2-square-tests": Verdict(False, "no")}
    assert [s.points for s in score_notebook(nb, verdicts)] == [2, 0, None]
