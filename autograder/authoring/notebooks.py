"""Reading notebooks safely, and deriving a lab's release and grading template from its source.

Both derivations run nbgrader's own preprocessors, in nbgrader's order, without touching a
gradebook: the *release* is what students get (solutions and hidden tests removed); the
*grading template* keeps the hidden tests and is what restored cells are taken from.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    LockCells,
)
from traitlets.config import Config

from autograder.course import Course, Lab

CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
MAX_NOTEBOOK_BYTES = 256 * 2**20  # big enough for a notebook full of outputs; they are cleared


class NotebookError(ValueError):
    """A file that cannot be used as a notebook; the message says why, for a human."""


def nbgrader_config() -> Config:
    """Return the nbgrader settings every part of the course shares (stubs, timeouts)."""
    config = Config()
    config.ClearSolutions.code_stub = {"python": CODE_STUB}
    config.ClearSolutions.text_stub = TEXT_STUB
    return config


def read_notebook(path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES, name: str | None = None) -> NotebookNode:
    """Read a notebook as nbformat v4, raising :class:`NotebookError` with a clear reason.

    ``name`` is how messages refer to the file (default: its file name).
    """
    path = Path(path)
    label = name or path.name
    if not path.is_file():
        raise NotebookError(f"{label}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise NotebookError(f"{label}: the file is empty")
    if size > max_bytes:
        raise NotebookError(f"{label}: {size / 2**20:.0f} MiB is larger than the {max_bytes / 2**20:.0f} MiB limit")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NotebookError(f"{label}: not UTF-8 text (byte {error.start}); is it really a .ipynb file?") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(
            f"{label}: not valid notebook JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
            "the file may be truncated or edited outside Jupyter"
        ) from error
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise NotebookError(f"{label}: JSON, but not a Jupyter notebook (no cells)")
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises several types for malformed notebooks
        raise NotebookError(f"{label}: not a readable Jupyter notebook ({error})") from error
    for cell in nb.cells:
        if not isinstance(cell.get("source", ""), str):
            raise NotebookError(f"{label}: a cell's source is not text")
        if cell.get("cell_type") == "code":
            cell["outputs"] = []  # stored outputs are never trusted or needed, and may be huge
    return nb


def _apply(nb: NotebookNode, preprocessors: list[type], lab_id: str, notebook_id: str) -> NotebookNode:
    nb = copy.deepcopy(nb)
    resources: dict[str, Any] = {"nbgrader": {"assignment": lab_id, "notebook": notebook_id}, "metadata": {}}
    config = nbgrader_config()
    for preprocessor in preprocessors:
        nb, resources = preprocessor(config=config).preprocess(nb, resources)
    return nb


def grading_template(source: NotebookNode, lab_id: str, notebook_id: str) -> NotebookNode:
    """The source with solutions cleared and hidden tests kept: the cells grading restores."""
    return _apply(source, [LockCells, ClearSolutions, ClearOutput, CheckCellMetadata, ComputeChecksums], lab_id, notebook_id)


def release_version(source: NotebookNode, lab_id: str, notebook_id: str) -> NotebookNode:
    """The student version of a source notebook, exactly as ``nbgrader generate_assignment`` makes it."""
    template = grading_template(source, lab_id, notebook_id)
    return _apply(template, [ClearHiddenTests, ClearMarkScheme, ComputeChecksums, CheckCellMetadata], lab_id, notebook_id)


def without_hidden_tests(source: str) -> str:
    """A test cell's source as students get it: nbgrader's own removal of the hidden-test regions."""
    cell = nbformat.v4.new_code_cell(source)
    ClearHiddenTests(config=nbgrader_config())._remove_hidden_test_region(cell)
    return cell.source


def lab_template(course: Course, lab: Lab) -> NotebookNode:
    """The grading template of a lab, from its source notebook."""
    return grading_template(read_notebook(course.source_notebook(lab)), lab.id, lab.notebook_id)


def clear_outputs(nb: NotebookNode) -> NotebookNode:
    """Remove outputs and execution counts in place (committed notebooks are kept clean)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def dumps(nb: NotebookNode) -> str:
    """Serialise a notebook the way every file in this repository is written."""
    return nbformat.writes(nb) + "\n"
