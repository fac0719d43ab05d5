"""Turning an executed notebook into marks, one graded cell at a time.

Unlike nbgrader's ``determine_grade``, a test cell earns its points only when it actually
ran (an execution count is present) and raised no error; stderr output (warnings) never
costs marks. Manually graded cells score nothing here: they wait for a human, except an
answer left exactly as released, which is a zero (nbgrader's rule).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from nbformat import NotebookNode
from nbgrader.utils import compute_checksum, is_grade, is_solution

from autograder.review.restore import grade_id_of

MAX_MESSAGE = 400


@dataclass(frozen=True)
class CellScore:
    """The result of one graded cell."""

    grade_id: str
    kind: str  # "auto" (test cell) or "manual" (written answer / plot)
    points: float | None  # None: waiting for manual grading
    max_points: float
    message: str

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict."""
        return asdict(self)


def _error_message(cell: NotebookNode) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            name = output.get("ename", "Error")
            value = str(output.get("evalue", "")).strip().splitlines()
            text = f"{name}: {value[0]}" if value and value[0] else name
            return text[:MAX_MESSAGE]
    return None


NO_PROOF = "no proof that the test ran to the end: the cell was skipped, blanked or altered while running"


def score_cell(cell: NotebookNode, proven: set[str] | None = None) -> CellScore:
    """Score one executed graded cell; with ``proven``, a test cell also needs its proof."""
    meta = cell.metadata["nbgrader"]
    max_points = float(meta.get("points", 0))
    gid = grade_id_of(cell) or "?"
    if is_solution(cell):
        unchanged = "checksum" in meta and meta["checksum"] == compute_checksum(cell)
        if unchanged:
            return CellScore(gid, "manual", 0.0, max_points, "not answered")
        return CellScore(gid, "manual", None, max_points, "waiting for manual grading")
    if cell.cell_type != "code":
        return CellScore(gid, "manual", None, max_points, "waiting for manual grading")
    if cell.get("execution_count") is None:
        return CellScore(gid, "auto", 0.0, max_points, "did not run: an earlier problem stopped the notebook")
    error = _error_message(cell)
    if error is not None:
        return CellScore(gid, "auto", 0.0, max_points, error)
    if proven is not None and gid not in proven:
        return CellScore(gid, "auto", 0.0, max_points, NO_PROOF)
    return CellScore(gid, "auto", max_points, max_points, "passed")


def score_notebook(executed: NotebookNode, proven: set[str] | None = None) -> list[CellScore]:
    """Score every graded cell of an executed (restored) notebook, in notebook order."""
    return [score_cell(cell, proven) for cell in executed.cells if is_grade(cell)]


def test_cells(nb: NotebookNode) -> dict[int, str]:
    """Index -> grade id of every autograded test cell (the cells that must prove they ran)."""
    return {
        i: grade_id_of(c) or "?"
        for i, c in enumerate(nb.cells)
        if is_grade(c) and not is_solution(c) and c.cell_type == "code"
    }


def not_run_scores(template: NotebookNode, reason: str) -> list[CellScore]:
    """Zero for every autograded cell (and pending manual cells) when a notebook could not run."""
    scores = []
    for cell in template.cells:
        if not is_grade(cell):
            continue
        max_points = float(cell.metadata["nbgrader"].get("points", 0))
        gid = grade_id_of(cell) or "?"
        if is_solution(cell) or cell.cell_type != "code":
            scores.append(CellScore(gid, "manual", 0.0, max_points, reason))
        else:
            scores.append(CellScore(gid, "auto", 0.0, max_points, reason))
    return scores
