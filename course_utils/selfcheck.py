"""Self-checks a student can trust to keep going: each check cell records ✅ or ❌, and the
lab's last cell lists them all.

An ungraded exercise's check cell wraps its checks in ``with exercise("Exercise 1: ..."):``.
A failure (a :class:`~course_utils.checks.CheckFailed`, or any error such as the
``NotImplementedError`` of an exercise not yet written) is printed as one ❌ line and
recorded, and "Run All" goes on to the next cell instead of stopping there.

A graded question's visible checks use ``with question("Question 1: ..."):``. They record
the result the same way but still stop on a failure, as nbgrader's "Validate" expects: a
question that fails its own public check should be fixed before moving on.

``summary()`` prints the table of every check run so far in this kernel, the run mode and
how long the lab takes. None of this decides marks: the grader judges answers on its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from .mode import mode

PASS, FAIL = "\u2705", "\u274c"
NOT_RUN = "\u2026"


@dataclass
class CheckResult:
    """The latest outcome of one labelled check cell."""

    label: str
    graded: bool
    ok: bool
    message: str = ""
    seconds: float = 0.0


# label -> latest result, in the order the labels were first seen (re-running a cell updates
# its row in place, so the table follows the notebook's order).
_results: dict[str, CheckResult] = {}


def _describe(error: BaseException) -> str:
    if isinstance(error, NotImplementedError):
        return "not written yet (the function still raises NotImplementedError)"
    if isinstance(error, AssertionError):
        return str(error) or "a check failed"
    return f"{type(error).__name__}: {error}"


@contextmanager
def _record(label: str, graded: bool) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    except Exception as error:  # noqa: BLE001 - every failure of student code is reported
        message = _describe(error)
        _results[label] = CheckResult(label, graded, False, message, time.perf_counter() - start)
        if graded:
            raise
        print(f"{FAIL} {label}: {message}")
        print("   (Run All carries on; come back to this exercise - later cells may depend on it.)")
    else:
        _results[label] = CheckResult(label, graded, True, "", time.perf_counter() - start)


def exercise(label: str) -> AbstractContextManager[None]:
    """Check an ungraded exercise: record ✅/❌ and, on failure, print it and carry on."""
    return _record(label, graded=False)


def question(label: str) -> AbstractContextManager[None]:
    """Check a graded question's visible part: record ✅/❌ and stop on failure."""
    return _record(label, graded=True)


def results() -> list[CheckResult]:
    """The checks run so far in this kernel, in notebook order."""
    return list(_results.values())


def reset() -> None:
    """Forget every recorded check (a fresh kernel starts empty anyway)."""
    _results.clear()


def summary(
    expected: Sequence[str] = (),
    fast_time: str = "",
    full_time: str = "",
) -> None:
    """Print ✅/❌ per exercise and question, the mode and the expected time (rows: ``results()``).

    ``expected`` lists every label the lab checks, so a check cell that never ran (Run All
    stopped earlier, or the cell was skipped) shows as not run instead of being left out.
    """
    rows = results()
    seen = {row.label for row in rows}
    missing = [label for label in expected if label not in seen]
    width = max((len(r.label) for r in rows), default=0)
    width = max([width, *(len(label) for label in missing)])
    print(f"Self-check ({mode()} mode)")
    for row in rows:
        kind = "graded" if row.graded else "exercise"
        mark = PASS if row.ok else FAIL
        line = f"  {mark} {row.label:<{width}}  [{kind}]"
        if not row.ok:
            line += f"  {row.message.splitlines()[0][:120]}"
        print(line)
    for label in missing:
        print(f"  {NOT_RUN} {label:<{width}}  [not run: run its cell]")
    failed = sum(not r.ok for r in rows)
    print(f"{len(rows) - failed} of {len(rows) + len(missing)} checks pass", end="")
    print(f"; {failed} fail" if failed else "", end="")
    print(f"; {len(missing)} not run" if missing else "", end="")
    print(".")
    if fast_time or full_time:
        print(f"Expected time: fast mode {fast_time or '?'}, full mode {full_time or '?'}.")
    print("Public checks are hints: the grader tests your answers with its own, hidden, inputs.")


def not_written_message(error: BaseException) -> list[str] | None:
    """One friendly ❌ line for an exercise stub's bare ``NotImplementedError``, else ``None``."""
    if not isinstance(error, NotImplementedError) or str(error):
        return None
    frame = None
    tb = error.__traceback__
    while tb is not None:
        frame, tb = tb.tb_frame, tb.tb_next
    name = frame.f_code.co_name if frame is not None else "<module>"
    if name == "<module>":
        return [f"{FAIL} NotImplementedError: this cell is still the exercise's stub - write your answer here."]
    return [
        f"{FAIL} NotImplementedError: `{name}` is not written yet.",
        f"   It is an exercise from an earlier cell: replace its `raise NotImplementedError()` with your "
        f"answer, run that cell, then run this one again.",
    ]


def _friendly_not_implemented(shell, etype, value, tb, tb_offset=None):  # noqa: ANN001 - IPython's hook
    """IPython custom-exception hook: a short hint for an unwritten exercise, the usual traceback otherwise."""
    lines = not_written_message(value)
    if lines is None:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return []
    shell._showtraceback(etype, value, lines)  # still an error output: Run All stops, Validate fails
    return lines


def _install_in_ipython() -> None:
    """In a Jupyter kernel, show unwritten exercises as one line instead of a traceback (still an error)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and not shell.custom_exceptions:
        shell.set_custom_exc((NotImplementedError,), _friendly_not_implemented)


_install_in_ipython()
