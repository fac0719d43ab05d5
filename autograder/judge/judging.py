"""Turning probe records into points, in the grader's own process.

For each autograded test cell, the judge defined in its hidden block gets the student's
decoded data and the reference solution's data for the same probe and seed. The cell earns
its points only when the student's record is well formed, carries data (not an error), and
the judge accepts it. Messages for students come from the judge's own wording.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autograder.judge.hidden import HiddenTest
from autograder.judge.wire import ProbeRecord

MAX_MESSAGE = 400


@dataclass(frozen=True)
class Verdict:
    """The judge's decision on one test cell."""

    passed: bool
    message: str


@functools.lru_cache(maxsize=256)
def _compiled_judge(grade_id: str, judge_source: str):
    scope: dict[str, Any] = {"__name__": f"__judge_{grade_id}__"}
    exec(compile(judge_source, f"<judge of {grade_id}>", "exec"), scope)  # noqa: S102 - the lab's own hidden block
    return scope["judge"]


class JudgeError(RuntimeError):
    """A judge that could not be loaded or crashed on the reference's own data: a lab bug."""


def load_judge(test: HiddenTest):
    """The judge function of ``test``, defined in a fresh namespace of the grader."""
    try:
        return _compiled_judge(test.grade_id, test.judge_source)
    except Exception as error:
        raise JudgeError(f"{test.grade_id}: the judge could not be loaded: {type(error).__name__}: {error}") from error


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def judge_record(test: HiddenTest, got: ProbeRecord | str, ref: ProbeRecord) -> Verdict:
    """Judge one cell: ``got`` is the student's record, or why there is none."""
    if isinstance(got, str):
        return Verdict(False, _short(got))
    if not got.ok:
        return Verdict(False, _short(f"your code raised an error when tested: {got.error}"))
    if not ref.ok:
        raise JudgeError(f"{test.grade_id}: the reference solution's probe failed: {ref.error}")
    judge = load_judge(test)
    try:
        judge(got.data, ref.data)
    except AssertionError as refusal:
        return Verdict(False, _short(str(refusal) or "the answer is not right"))
    except Exception as error:  # a judge tripping over malformed student data refuses it
        return Verdict(False, _short(f"the answer could not be checked ({type(error).__name__}); check its type and shape"))
    return Verdict(True, "passed")


def judge_all(tests: Mapping[str, HiddenTest], got: Mapping[str, ProbeRecord | str], ref: Mapping[str, ProbeRecord]) -> dict[str, Verdict]:
    """Judge every test cell; a cell without the student's record (or the reference's) fails."""
    verdicts = {}
    for gid, test in tests.items():
        if gid not in ref:
            verdicts[gid] = Verdict(False, "not judged: the reference solution has no data for this test")
        else:
            verdicts[gid] = judge_record(test, got.get(gid, "the test did not run"), ref[gid])
    return verdicts
