"""A tiny course (one lab, no torch) that exercises the autograder in seconds."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

LAB_ID = "lab01_toy"
NOTEBOOK = "lab01_toy.ipynb"


# Hidden tests in the probe/judge form (docs/authoring.md): the probe runs in the student's
# kernel and returns plain data; the judge runs in the grader and compares with the reference.
Q1_HIDDEN = """### BEGIN HIDDEN TESTS
def probe(seed):
    import random

    rng = random.Random(seed)
    inputs = [rng.randint(-100, 100) for _ in range(4)] + [21, -3]
    return {"inputs": inputs, "outputs": [double(x) for x in inputs]}


def judge(got, ref):
    from autograder.judge import expect

    outputs = got["outputs"]
    expect.true(isinstance(outputs, list) and len(outputs) == len(ref["outputs"]), "double must return one number per call")
    for x, mine, right in zip(ref["inputs"], outputs, ref["outputs"]):
        expect.true(type(mine) in (int, float), f"double({x}) must return a number, got {type(mine).__name__}")
        expect.true(mine == right, f"double({x}) returned {mine!r}")
### END HIDDEN TESTS"""

Q2_HIDDEN = """### BEGIN HIDDEN TESTS
def probe(seed):
    import random

    rng = random.Random(seed)
    drawn = [round(rng.uniform(-10, 10), 3) for _ in range(3)]
    return {"inputs": [int(v) for v in DATA], "data": [square(int(v)) for v in DATA], "drawn": drawn, "squares": [square(x) for x in drawn]}


def judge(got, ref):
    from autograder.judge import expect

    # A closed form the judge trusts: a wrong reference solution is caught by `course validate`.
    expect.equal(got["data"], [x * x for x in ref["inputs"]], "the squares of the numbers in numbers.txt")
    expect.true(isinstance(got["squares"], list) and len(got["squares"]) == len(ref["drawn"]), "square must return one number per call")
    for x, mine in zip(ref["drawn"], got["squares"]):
        expect.close(mine, x * x, f"square({x})")
### END HIDDEN TESTS"""


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
            "assert double(1) == 2, 'double(1) should be 2'\n" + Q1_HIDDEN,
            metadata=_meta("q1-double-tests", solution=False, grade=True, locked=True, points=2),
        ),
        new_code_cell(
            "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
            metadata=_meta("q2-square", solution=True, grade=False, locked=False),
        ),
        new_code_cell(
            "assert square(2) == 4\n" + Q2_HIDDEN,
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


def make_course(root: Path, lab_id: str = LAB_ID, notebook: str = NOTEBOOK, title: str = "Toy") -> Path:
    """Write the toy course (course.toml, source notebook, a data file) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "course.toml").write_text(
        '[course]\nid = "toy"\ntitle = "Toy course"\npublic_repo = "someone/toy"\npublic_ref = "v1"\n\n'
        f'[[labs]]\nid = "{lab_id}"\ntitle = "{title}"\nnotebook = "{notebook}"\n',
        encoding="utf-8",
    )
    folder = root / "solutions" / lab_id
    folder.mkdir(parents=True)
    nbformat.write(source_notebook(), folder / notebook)
    (folder / "numbers.txt").write_text("1 2 3\n", encoding="utf-8")
    return root
