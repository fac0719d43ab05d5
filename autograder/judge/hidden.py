"""A test cell's hidden block, split into the probe the kernel runs and the judge the grader runs.

The hidden block (between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``) holds
only imports, definitions and constant assignments, and defines two functions:

- ``probe(seed)``: runs in the student's kernel, calls the student's code on inputs drawn
  from ``seed`` and returns a dict of plain values;
- ``judge(got, ref)``: runs in the grader, gets the decoded data of the student's probe and
  of the reference solution's probe at the same seed, and raises (``AssertionError``, or a
  check from :mod:`autograder.judge.expect`) to refuse the answer.

Helpers named ``judge_*`` (and the judge) are never sent to the kernel; helpers named
``probe_*`` (and the probe) never run in the grader; everything else is shared.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from autograder.authoring.notebooks import without_hidden_tests

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_REGION = re.compile(rf"^[ \t]*{re.escape(BEGIN)}[ \t]*\n(.*?)^[ \t]*{re.escape(END)}[ \t]*$", re.MULTILINE | re.DOTALL)
_ALLOWED = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)


class HiddenBlockError(ValueError):
    """A test cell whose hidden block is not in the probe/judge form (an authoring mistake)."""


@dataclass(frozen=True)
class HiddenTest:
    """One test cell's parts: what students see, what the kernel runs, what the grader runs."""

    grade_id: str
    visible: str
    probe_source: str
    judge_source: str


def _kind(node: ast.stmt) -> str:
    name = getattr(node, "name", "")
    if name == "judge" or name.startswith("judge_"):
        return "judge"
    if name == "probe" or name.startswith("probe_"):
        return "probe"
    return "shared"


def _segment(lines: list[str], node: ast.stmt) -> str:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[first - 1 : node.end_lineno])


def parse_test_cell(grade_id: str, source: str) -> HiddenTest:
    """Split a test cell's source; raise :class:`HiddenBlockError` with the reason if it cannot be."""
    regions = _REGION.findall(source)
    if len(regions) != 1:
        raise HiddenBlockError(f"{grade_id}: a test cell needs exactly one hidden block, found {len(regions)}")
    block = regions[0]
    visible = without_hidden_tests(source)  # exactly what the student release shows
    try:
        tree = ast.parse(block)
    except SyntaxError as error:
        raise HiddenBlockError(f"{grade_id}: the hidden block is not valid Python ({error.msg}, line {error.lineno})") from error
    lines = block.splitlines()
    parts: dict[str, list[str]] = {"probe": [], "judge": [], "shared": []}
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring or a comment-like string
        if not isinstance(node, _ALLOWED):
            raise HiddenBlockError(
                f"{grade_id}: line {node.lineno} of the hidden block is a {type(node).__name__} statement; "
                "the hidden block may only import and define (calls belong inside probe or judge)"
            )
        names.add(getattr(node, "name", None))
        parts[_kind(node)].append(_segment(lines, node))
    for required in ("probe", "judge"):
        if required not in names:
            raise HiddenBlockError(f"{grade_id}: the hidden block defines no `{required}` function")
    shared = "\n\n".join(parts["shared"])
    return HiddenTest(
        grade_id=grade_id,
        visible=visible,
        probe_source=(shared + "\n\n" + "\n\n".join(parts["probe"])).strip() + "\n",
        judge_source=(shared + "\n\n" + "\n\n".join(parts["judge"])).strip() + "\n",
    )
