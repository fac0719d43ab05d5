"""The self-check cells: ungraded failures are reported and Run All carries on; graded ones stop."""

from __future__ import annotations

import pytest

from course_utils import CheckFailed, check_close, exercise, question, summary
from course_utils import selfcheck


@pytest.fixture(autouse=True)
def _fresh() -> None:
    selfcheck.reset()


def test_exercise_failure_is_reported_and_swallowed(capsys: pytest.CaptureFixture[str]) -> None:
    with exercise("Exercise 1: sums"):
        check_close(1.0, 2.0, "total")
    out = capsys.readouterr().out
    assert "\u274c Exercise 1: sums" in out and "total: values differ" in out
    [row] = selfcheck.results()
    assert not row.ok and not row.graded


def test_unwritten_exercise_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    def blank() -> None:
        raise NotImplementedError()

    with exercise("Exercise 2"):
        blank()
    assert "not written yet" in capsys.readouterr().out


def test_question_failure_still_stops() -> None:
    with pytest.raises(CheckFailed):
        with question("Question 1"):
            check_close(1.0, 2.0, "q")
    assert selfcheck.results()[0].ok is False


def test_rerun_replaces_the_row_and_keeps_order(capsys: pytest.CaptureFixture[str]) -> None:
    with exercise("A"):
        raise ValueError("bad")
    with exercise("B"):
        pass
    with exercise("A"):
        pass
    assert [(r.label, r.ok) for r in selfcheck.results()] == [("A", True), ("B", True)]


def test_summary_lists_pass_fail_and_not_run(capsys: pytest.CaptureFixture[str]) -> None:
    with exercise("Exercise 1"):
        pass
    with exercise("Exercise 2"):
        raise AssertionError("wrong shape")
    capsys.readouterr()
    summary(expected=["Exercise 1", "Exercise 2", "Question 1"], fast_time="40 s", full_time="5 min")
    out = capsys.readouterr().out
    assert "\u2705 Exercise 1" in out
    assert "\u274c Exercise 2" in out and "wrong shape" in out
    assert "Question 1" in out and "not run" in out
    assert "1 of 3 checks pass; 1 fail; 1 not run." in out
    assert "fast mode 40 s, full mode 5 min" in out
    assert len(selfcheck.results()) == 2


def test_keyboard_interrupt_is_not_swallowed() -> None:
    with pytest.raises(KeyboardInterrupt):
        with exercise("Exercise 3"):
            raise KeyboardInterrupt


def test_an_unwritten_exercise_called_later_gets_one_friendly_line() -> None:
    def standardise(x):
        raise NotImplementedError()

    try:
        standardise(1)
    except NotImplementedError as error:
        lines = selfcheck.not_written_message(error)
    assert lines is not None and "`standardise` is not written yet" in lines[0]
    assert selfcheck.not_written_message(NotImplementedError("a library's own message")) is None
    assert selfcheck.not_written_message(ValueError()) is None


def test_in_a_kernel_the_stub_error_is_short_and_still_an_error() -> None:
    """Run in a real IPython shell: the cell fails (Run All stops) with the hint as its whole traceback."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("import course_utils.selfcheck as s; s._install_in_ipython()")
        shell.run_cell("def fit(x):\n    raise NotImplementedError()")
        with capture_output() as captured:
            result = shell.run_cell("fit(1)")
        assert isinstance(result.error_in_exec, NotImplementedError)
        assert "`fit` is not written yet" in captured.stdout + captured.stderr
        assert "Traceback" not in captured.stdout + captured.stderr
        with capture_output() as captured:
            result = shell.run_cell("raise NotImplementedError('not on this platform')")
        assert isinstance(result.error_in_exec, NotImplementedError)
        assert "not on this platform" in captured.stdout + captured.stderr  # the usual traceback
    finally:
        InteractiveShell.clear_instance()
