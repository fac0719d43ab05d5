"""A tiny course (one lab, no torch) that exercises the autograder in seconds."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

LAB_ID = "lab01_toy"
NOTEBOOK = "lab01_toy.ipynb"


def _meta(grade_id: str, *, solution: bool, grade: bool, locked: bool, points: float | None = None) -> dict:
    meta = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": locked, "schema_version": 3}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def source_notebook() -> nbformat.NotebookNode:
    """The toy lab's source: two autograded questions (2 + 3 points) and a written answer (1 point)."""
    cells = [
        new_markdown_cell("# Lab 01: Toy\nA lab small enough to grade in a second."),
        new_code_cell("import math\nfrom pathlib import Path\nDATA = Path('numbers.txt').read_text().split()"),
        new_code_cell(
            "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
            metadata=_meta("q1-double", solution=True, grade=False, locked=False),
        ),
        new_code_cell(
            "assert double(1) == 2, 'double(1) should be 2'\n### BEGIN HIDDEN TESTS\nresult = double(21)\nassert type(result) in (int, float), 'double must return a number'\nassert result == 42\nassert double(-3) == -6\n### END HIDDEN TESTS",
            metadata=_meta("q1-double-tests", solution=False, grade=True, locked=True, points=2),
        ),
        new_code_cell(
            "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
            metadata=_meta("q2-square", solution=True, grade=False, locked=False),
        ),
        new_code_cell(
            "assert square(2) == 4\n### BEGIN HIDDEN TESTS\nassert [square(int(v)) for v in DATA] == [1, 4, 9]\nassert math.isclose(square(1.5), 2.25)\n### END HIDDEN TESTS",
            metadata=_meta("q2-square-tests", solution=False, grade=True, locked=True, points=3),
        ),
        new_markdown_cell(
            "Why is squaring never negative?\n\n### BEGIN SOLUTION\nA product of two numbers with the same sign is non-negative.\n### END SOLUTION",
            metadata=_meta("q3-written", solution=True, grade=True, locked=False, points=1),
        ),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    for index, cell in enumerate(nb.cells):
        cell["id"] = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell-{index}")
    return nb


def make_course(root: Path) -> Path:
    """Write the toy course (course.toml, source notebook, a data file) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "course.toml").write_text(
        '[course]\nid = "toy"\ntitle = "Toy course"\npublic_repo = "someone/toy"\npublic_ref = "v1"\n\n'
        f'[[labs]]\nid = "{LAB_ID}"\ntitle = "Toy"\nnotebook = "{NOTEBOOK}"\n',
        encoding="utf-8",
    )
    folder = root / "solutions" / LAB_ID
    folder.mkdir(parents=True)
    nbformat.write(source_notebook(), folder / NOTEBOOK)
    (folder / "numbers.txt").write_text("1 2 3\n", encoding="utf-8")
    return root
