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
    rows = summary(expected=["Exercise 1", "Exercise 2", "Question 1"], fast_time="40 s", full_time="5 min")
    out = capsys.readouterr().out
    assert "\u2705 Exercise 1" in out
    assert "\u274c Exercise 2" in out and "wrong shape" in out
    assert "Question 1" in out and "not run" in out
    assert "1 of 3 checks pass; 1 fail; 1 not run." in out
    assert "fast mode 40 s, full mode 5 min" in out
    assert len(rows) == 2


def test_keyboard_interrupt_is_not_swallowed() -> None:
    with pytest.raises(KeyboardInterrupt):
        with exercise("Exercise 3"):
            raise KeyboardInterrupt
