"""Reading a lab's source notebook in tests: its graded cells, and running them outside Jupyter.

Lab test files use this to run the notebook's own hidden tests (the probe over a namespace,
through the real wire format, then the judge against the reference's record at the same seed)
on reference answers, correct answers written differently, and wrong ones.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import nbformat

from autograder.in_kernel.probe_runtime import run_probe
from autograder.judge.hidden import HiddenTest, parse_test_cell
from autograder.judge.judging import Verdict, judge_record
from autograder.judge.wire import ProbeRecord, decode_record
from course_utils import selfcheck
from course_utils.checks import CheckFailed

REPO = Path(__file__).resolve().parents[1]


def run_source(source: str, namespace: dict[str, Any], name: str = "<cell>") -> dict[str, Any]:
    """Execute notebook code (this repository's own) in ``namespace``; return the namespace.

    An exercise check that failed inside ``with exercise(...)`` only prints its ❌ in a
    notebook, so Run All carries on; here it is raised again as ``CheckFailed``, so that a
    test can assert that a wrong answer fails its check.
    """
    selfcheck.reset()
    exec(compile(source, name, "exec"), namespace)  # noqa: S102 - our own notebook cells
    failed = [row for row in selfcheck.results() if not row.ok]
    if failed:
        raise CheckFailed(f"{failed[0].label}: {failed[0].message}")
    return namespace


class LabCells:
    """The nbgrader cells of one lab's source notebook, by grade id."""

    def __init__(self, lab_id: str, base_namespace: Callable[[], dict[str, Any]] = dict) -> None:
        self.lab_id = lab_id
        self.path = REPO / "solutions" / lab_id / f"{lab_id}.ipynb"
        self.base_namespace = base_namespace

    @cached_property
    def notebook(self) -> nbformat.NotebookNode:
        """The source notebook."""
        return nbformat.read(self.path, as_version=4)

    @cached_property
    def cells(self) -> dict[str, nbformat.NotebookNode]:
        """Grade id -> cell, for every cell with nbgrader metadata."""
        return {c.metadata["nbgrader"]["grade_id"]: c for c in self.notebook.cells if "grade_id" in c.metadata.get("nbgrader", {})}

    def source(self, grade_id: str) -> str:
        """The source of the cell with this grade id."""
        return self.cells[grade_id].source

    def definition(self, name: str) -> str:
        """The notebook's top-level definition of ``name`` alone: a def or class (with its
        decorators) or an assignment, cut out of whichever code cell holds it."""
        for cell in self.notebook.cells:
            if cell.cell_type != "code" or name not in cell.source:
                continue
            for node in ast.parse(cell.source).body:
                assigned = isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets)
                if assigned or (isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name):
                    lines = cell.source.splitlines()
                    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
                    return "\n".join(lines[first - 1 : node.end_lineno])
        raise KeyError(f"{self.lab_id} defines no {name!r} at the top level of a code cell")

    def reference(self, *answer_ids: str) -> dict[str, Any]:
        """A namespace holding what the notebook's own answer cells define."""
        namespace = self.base_namespace()
        for answer_id in answer_ids:
            run_source(self.source(answer_id), namespace, f"<{answer_id}>")
        return namespace

    def run_visible(self, grade_id: str, namespace: dict[str, Any]) -> dict[str, Any]:
        """Run a test cell's visible checks (what students run) in ``namespace``."""
        return run_source(self.hidden_test(grade_id).visible, namespace, f"<{grade_id} visible>")

    def hidden_test(self, grade_id: str) -> HiddenTest:
        """The test cell's probe and judge, split exactly as the grader splits them."""
        return parse_test_cell(grade_id, self.source(grade_id))

    def probe(self, grade_id: str, namespace: dict[str, Any], seed: int = 0) -> ProbeRecord:
        """Run the cell's probe over ``namespace`` in this process, through the real wire format."""
        payload = run_probe(self.hidden_test(grade_id).probe_source, seed, namespace)
        return decode_record({**payload, "nonce": "test"}, "test")

    def verdict(self, grade_id: str, namespace: dict[str, Any], reference: dict[str, Any] | ProbeRecord, seed: int = 0) -> Verdict:
        """The judge's verdict on ``namespace`` against the ``reference`` namespace (or its record) at ``seed``."""
        ref = reference if isinstance(reference, ProbeRecord) else self.probe(grade_id, reference, seed)
        assert ref.ok, f"the reference's probe failed: {ref.error}"
        return judge_record(self.hidden_test(grade_id), self.probe(grade_id, namespace, seed), ref)

    def passes(self, grade_id: str, namespace: dict[str, Any], reference: dict[str, Any] | ProbeRecord, seed: int = 0) -> bool:
        """True when the judge accepts what ``namespace`` holds."""
        return self.verdict(grade_id, namespace, reference, seed).passed

    def fails(self, grade_id: str, namespace: dict[str, Any], reference: dict[str, Any] | ProbeRecord, seed: int = 0) -> bool:
        """True when the judge refuses what ``namespace`` holds."""
        return not self.passes(grade_id, namespace, reference, seed)
