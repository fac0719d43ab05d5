import time

from nbformat.v4 import new_code_cell, new_notebook

from autograder.sandbox.execute import Limits, execute_notebook


def _nb(*sources):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    return nb


def test_errors_do_not_stop_execution_and_env_is_fast_mode(tmp_path):
    (tmp_path / "data.txt").write_text("hello")
    outcome = execute_notebook(
        _nb("raise ValueError('boom')", "import os; print(os.environ['COURSE_FAST'], open('data.txt').read())"), tmp_path
    )
    assert outcome.completed
    first, second = outcome.notebook.cells
    assert first.outputs[0]["ename"] == "ValueError"
    assert second.outputs[0]["text"].strip() == "1 hello"


def test_a_slow_cell_is_interrupted_and_the_rest_still_runs(tmp_path):
    outcome = execute_notebook(_nb("import time\nwhile True: time.sleep(0.05)", "print('next')"), tmp_path, Limits(cell_timeout_s=2))
    assert outcome.completed
    assert outcome.notebook.cells[1].outputs[0]["text"].strip() == "next"


def test_a_loop_that_swallows_interrupts_hits_the_notebook_limit(tmp_path):
    looping = "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass"
    start = time.monotonic()
    outcome = execute_notebook(_nb(looping, "print('never')"), tmp_path, Limits(cell_timeout_s=1, notebook_timeout_s=6))
    assert not outcome.completed and "limit" in outcome.problem
    assert outcome.notebook.cells[1].execution_count is None
    assert time.monotonic() - start < 30


def test_a_dying_kernel_is_reported(tmp_path):
    outcome = execute_notebook(_nb("x = 1", "import os; os._exit(1)", "print(x)"), tmp_path)
    assert not outcome.completed and "kernel died" in outcome.problem
    assert outcome.notebook.cells[0].execution_count == 1
    assert outcome.notebook.cells[2].execution_count is None


def test_course_utils_checks_replaced_through_the_package_are_restored_before_tests(tmp_path):
    """Hidden tests import checks from the package (`from course_utils import check_close`)."""
    student = (
        "import course_utils\n"
        "course_utils.check_close = lambda *args, **kwargs: None\n"
        "course_utils.check_type = lambda *args, **kwargs: None"
    )
    wrong = "from course_utils import check_close, check_type\ncheck_type('one', float)\ncheck_close(1.0, 2.0)"
    right = "from course_utils import check_close, check_type\ncheck_type(1.0, float)\ncheck_close(1.0, 1.0)"
    outcome = execute_notebook(_nb(student, wrong, student, right), tmp_path, proof_cells={1: "wrong", 3: "right"})
    assert outcome.completed
    assert outcome.proven == {"right"}, "a wrong answer passed through replaced package-level checks"
    assert {"course_utils.check_close", "course_utils.check_type"} <= outcome.restored
