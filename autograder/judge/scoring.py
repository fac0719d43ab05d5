"""Turning judges' verdicts and manual answers into marks, one graded cell at a time.

An autograded test cell earns its points only when its judge accepted the data its probe
sent back (:mod:`autograder.judge.judging`); nothing the cell printed, raised or hid in the
student's kernel counts. Manually graded cells score nothing here: they wait for a human,
except an answer left exactly as released, which is a zero (nbgrader's rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from nbformat import NotebookNode
from nbgrader.utils import compute_checksum, is_grade, is_solution

from autograder.judge.judging import Verdict
from autograder.review.restore import grade_id_of


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


NO_VERDICT = "not tested: the grader has no judgement for this question"


def score_cell(cell: NotebookNode, verdicts: Mapping[str, Verdict]) -> CellScore:
    """Score one graded cell: a test cell by its verdict, an answer cell as waiting (or blank)."""
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
    verdict = verdicts.get(gid)
    if verdict is None:
        return CellScore(gid, "auto", 0.0, max_points, NO_VERDICT)
    return CellScore(gid, "auto", max_points if verdict.passed else 0.0, max_points, verdict.message)


def score_notebook(executed: NotebookNode, verdicts: Mapping[str, Verdict]) -> list[CellScore]:
    """Score every graded cell of a restored notebook, in notebook order."""
    return [score_cell(cell, verdicts) for cell in executed.cells if is_grade(cell)]


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
