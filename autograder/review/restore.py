"""Rebuilding the notebook to grade from a submission and the lab's grading template.

Students keep their answers and any cells they added; everything the instructor owns
comes back from the template: locked and test cells (with hidden tests), nbgrader metadata,
deleted graded cells (re-added in place), and duplicated grade ids (copies demoted to plain
cells). Each repair is reported, so tampering shows up in the grading report.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field

from nbformat import NotebookNode
from nbgrader.utils import is_solution

from autograder.authoring.notebooks import without_hidden_tests


def grade_id_of(cell: NotebookNode) -> str | None:
    """Return a cell's nbgrader ``grade_id``, or None for an ordinary cell."""
    meta = cell.get("metadata", {}).get("nbgrader")
    if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
        return meta["grade_id"]
    return None


@dataclass
class Restored:
    """The notebook to execute and the repairs that were needed to build it."""

    notebook: NotebookNode
    repairs: list[str] = field(default_factory=list)


GRADING_KEYS = ("grade_id", "grade", "solution", "locked", "points", "task")


def _grading_terms(cell: NotebookNode) -> dict:
    """The metadata that decides how a cell is graded (not checksums or bookkeeping)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return {key: meta.get(key) for key in GRADING_KEYS if meta.get(key) not in (None, False)}


def _plain(cell: NotebookNode) -> NotebookNode:
    cell = copy.deepcopy(cell)
    cell.metadata.pop("nbgrader", None)
    return cell


def _fresh(cell: NotebookNode) -> NotebookNode:
    cell = copy.deepcopy(cell)
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    return cell


def restore(submission: NotebookNode, template: NotebookNode) -> Restored:
    """Merge a student's notebook into the lab's grading template; see the module docstring."""
    owned = {grade_id_of(c): c for c in template.cells if grade_id_of(c)}
    repairs: list[str] = []
    out: list[NotebookNode] = []
    seen: set[str] = set()
    for cell in submission.cells:
        gid = grade_id_of(cell)
        if gid is None:
            out.append(_fresh(_plain(cell)) if "nbgrader" in cell.get("metadata", {}) else _fresh(cell))
            continue
        if gid not in owned:
            repairs.append(f"cell '{gid}' is not part of this lab: kept as an ordinary cell")
            out.append(_fresh(_plain(cell)))
            continue
        if gid in seen:
            repairs.append(f"duplicate of cell '{gid}': the copy was kept as an ordinary cell")
            out.append(_fresh(_plain(cell)))
            continue
        seen.add(gid)
        reference = owned[gid]
        if is_solution(reference):
            restored = _fresh(reference)
            restored.source = cell.source
            if cell.cell_type != reference.cell_type:
                repairs.append(f"answer cell '{gid}' had its type changed to {cell.cell_type}: restored to {reference.cell_type}")
            if _grading_terms(cell) != _grading_terms(reference):
                repairs.append(f"answer cell '{gid}': edited grading metadata ignored")
        else:
            restored = _fresh(reference)
            if cell.source.strip() not in (reference.source.strip(), without_hidden_tests(reference.source).strip()):
                repairs.append(f"locked cell '{gid}' was edited: restored from the source")
        restored["id"] = cell.get("id") or reference.get("id")
        out.append(restored)

    order = [grade_id_of(c) for c in template.cells if grade_id_of(c)]
    for index, gid in enumerate(order):
        if gid in seen:
            continue
        position = 0
        for earlier in reversed(order[:index]):
            hits = [i for i, c in enumerate(out) if grade_id_of(c) == earlier]
            if hits:
                position = hits[0] + 1
                break
        out.insert(position, _fresh(owned[gid]))
        seen.add(gid)
        repairs.append(f"cell '{gid}' was missing: re-added from the source")

    ids: set[str] = set()
    for cell in out:
        if not cell.get("id") or cell["id"] in ids:
            cell["id"] = uuid.uuid4().hex[:12]
        ids.add(cell["id"])
    notebook = copy.deepcopy(template)
    notebook.cells = out
    return Restored(notebook, repairs)
