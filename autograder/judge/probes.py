"""The code the grader sends to a kernel to run one probe, and a lab's probes by grade id."""

from __future__ import annotations

import secrets
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.utils import is_grade, is_solution

from autograder.judge.hidden import HiddenTest, parse_test_cell
from autograder.review.restore import grade_id_of

RUNTIME_SOURCE = (Path(__file__).resolve().parents[1] / "in_kernel" / "probe_runtime.py").read_text(encoding="utf-8")


def new_nonce() -> str:
    """A fresh random tag that a probe's record must carry back."""
    return secrets.token_hex(16)


def probe_code(test: HiddenTest, seed: int, nonce: str) -> str:
    """One line of code that runs ``test``'s probe in the kernel, in a namespace of its own."""
    call = (nonce, test.probe_source, int(seed))
    return (
        f"exec(compile({RUNTIME_SOURCE!r}, '<course probe runtime>', 'exec'), "
        f"{{'__name__': '__course_probe_runtime__', '__course_call__': {call!r}}})"
    )


def lab_tests(template: NotebookNode) -> dict[str, HiddenTest]:
    """Grade id -> parsed hidden test, for every autograded test cell of a grading template."""
    return {
        grade_id_of(cell) or "?": parse_test_cell(grade_id_of(cell) or "?", cell.source)
        for cell in template.cells
        if is_grade(cell) and not is_solution(cell) and cell.cell_type == "code"
    }
