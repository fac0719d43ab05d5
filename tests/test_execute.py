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


def test_probes_send_back_data_whatever_the_visible_checks_did(tmp_path):
    """A test cell runs its visible part as students see it, then its probe on its own."""
    from autograder.judge.hidden import parse_test_cell

    tests = {
        1: parse_test_cell("q1", "raise RuntimeError('visible check')\n### BEGIN HIDDEN TESTS\ndef probe(seed):\n    return {'y': double(seed)}\ndef judge(got, ref):\n    pass\n### END HIDDEN TESTS"),
        2: parse_test_cell("q2", "### BEGIN HIDDEN TESTS\ndef probe(seed):\n    return {'y': missing(seed)}\ndef judge(got, ref):\n    pass\n### END HIDDEN TESTS"),
    }
    nb = _nb("def double(x):\n    return 2 * x", "placeholder", "placeholder", "probe = 'the student names something probe'")
    outcome = execute_notebook(nb, tmp_path, probes=tests, seed=21)
    assert outcome.completed
    assert outcome.records["q1"].ok and outcome.records["q1"].data == {"y": 42}
    assert not outcome.records["q2"].ok and "NameError" in outcome.records["q2"].error
    assert outcome.notebook.cells[1].outputs[0]["ename"] == "RuntimeError", "the visible part ran and kept its output"
    assert not any("probe" in str(o) for c in outcome.notebook.cells[1:3] for o in c.outputs), "probe outputs are not saved"


def test_a_student_who_breaks_the_probe_machinery_gets_no_data(tmp_path):
    from autograder.judge.hidden import parse_test_cell

    test = parse_test_cell("q1", "### BEGIN HIDDEN TESTS\ndef probe(seed):\n    return {'y': 1}\ndef judge(got, ref):\n    pass\n### END HIDDEN TESTS")
    breakers = [
        "import builtins\nbuiltins.exec = lambda *a, **k: None",
        "import IPython.display as d\nd.publish_display_data = lambda *a, **k: None",
        "from IPython.display import publish_display_data as p\nimport IPython.display as d\nd.publish_display_data = lambda data, **k: p({k2: {**v, 'nonce': 'x'} for k2, v in data.items()})",
    ]
    for breaker in breakers:
        outcome = execute_notebook(_nb(breaker, "placeholder"), tmp_path, probes={1: test}, seed=0)
        assert isinstance(outcome.records["q1"], str), (breaker, outcome.records)
