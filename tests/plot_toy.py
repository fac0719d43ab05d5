"""The toy course (tests/toy_course.py) with the shape of a real lab: an ungraded exercise
before the problem sheet, a Markdown heading above each question, and a hand-marked plot."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell
from toy_course import LAB_ID, NOTEBOOK, _meta, make_course

PLOT_SOLUTION = (
    "import matplotlib.pyplot as plt\n### BEGIN SOLUTION\nfig, ax = plt.subplots(figsize=(3, 2))\n"
    "ax.plot([1, 2, 3], [1, 4, 9])\nax.set_title('squares')\nplt.show()\n### END SOLUTION"
)
STUDENT_PLOT = (
    "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(3, 2))\n"
    "ax.plot([0, 1, 2], [0, 1, 4], 'o-')\nax.set_xlabel('x')\nax.set_title('my squares')\nplt.show()"
)
TITLES = ["Question 1: doubling (2 points)", "Question 2: squares (3 points)", "Question 3: why squares are never negative (1 point)", "Question 4: a plot of squares (1 point)"]


def make_plot_course(root: Path) -> Path:
    make_course(root)
    path = root / "solutions" / LAB_ID / NOTEBOOK
    nb = nbformat.read(path, as_version=4)
    cells = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "q1-double":
            cells.append(new_markdown_cell("## Warm-up\nAn exercise that is not marked."))
            warm = new_code_cell("def halve(x):\n    ### BEGIN SOLUTION\n    return x / 2\n    ### END SOLUTION", metadata=_meta("ex-halve", solution=True, grade=False, locked=False))
            warm["id"] = "ex-halve"
            cells.append(warm)
            cells.append(new_markdown_cell("## Problem sheet"))
        heading = {"q1-double": 0, "q2-square": 1, "q3-written": 2}.get(gid)
        if heading is not None:
            cells.append(new_markdown_cell(f"### {TITLES[heading]}"))
        cells.append(cell)
    cells.append(new_markdown_cell(f"### {TITLES[3]}\nPlot $y = x^2$ for a few $x$."))
    plot = new_code_cell(PLOT_SOLUTION, metadata=_meta("q4-plot", solution=True, grade=True, locked=False, points=1))
    plot["id"] = "q4-plot"
    cells.append(plot)
    for index, cell in enumerate(cells):
        cell.setdefault("id", f"cell-{index}")
        if not cell.get("id"):
            cell["id"] = f"cell-{index}"
    nb.cells = cells
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return root


def student_submission(release: nbformat.NotebookNode, plot: bool = True) -> str:
    """A good answer to every autograded question, a written answer and (optionally) a plot."""
    nb = copy.deepcopy(release)
    answers = {
        "q1-double": "def double(x):\n    return x + x",
        "q2-square": "def square(x):\n    return x ** 2",
        "q3-written": "A square is $x \\cdot x$: equal signs multiply to a positive number.",
        "ex-halve": "def halve(x):\n    return x * 0.5",
    }
    if plot:
        answers["q4-plot"] = STUDENT_PLOT
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nbformat.writes(nb)
