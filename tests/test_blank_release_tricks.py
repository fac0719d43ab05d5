"""A blank student release of a real lab, plus a one-cell trick, earns nothing.

The tricks are the ones that beat the old in-kernel test runner: take over what runs the
tests, rewrite what they report, or answer for the probe. Graded in the sandbox exactly as
`course grade` grades a class, against the real reference at a real seed.
"""

from __future__ import annotations

import os
import shutil

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograder.course import load_course
from autograder.grade import GradeOptions, grade_lab
from autograder.sandbox.execute import Limits
from autograder.sandbox.sandbox import unavailable_reason
from conftest import REPO

MIME = "application/x-course-probe+json"
TRICKS = {
    "blank": None,
    # The probe's source is swapped for one that returns nothing: the judge sees no answer.
    "swaps_the_probe": (
        "import builtins\n_real_exec = builtins.exec\n"
        "def _exec(code, scope=None, *rest):\n"
        "    call = (scope or {}).get('__course_call__')\n"
        "    if call:\n"
        "        scope['__course_call__'] = (call[0], 'def probe(seed):\\n    return {}', call[2])\n"
        "    return _real_exec(code, scope, *rest)\n"
        "builtins.exec = _exec"
    ),
    # Every record is rewritten as a success with empty data.
    "rewrites_records": (
        "import IPython.display as _d\n_real = _d.publish_display_data\n"
        f"def _pub(data, *a, **k):\n    r = data.get({MIME!r})\n"
        "    if r is not None:\n        r.pop('error', None)\n        r.update(ok=True, data={'tree': {}, 'arrays': []})\n"
        "    return _real(data, *a, **k)\n_d.publish_display_data = _pub"
    ),
    # Every later cell (tests and probes included) is turned into `pass`.
    "blanks_every_cell": "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])",
    # Exceptions are swallowed and every comparison helper agrees.
    "hides_errors": (
        "import math, numpy, torch\nget_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n"
        "math.isclose = numpy.allclose = torch.allclose = lambda *a, **k: True"
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("lab_id", ["lab01_tensors", "lab09_generative"])
def test_a_blank_release_with_any_one_cell_trick_scores_zero(lab_id, tmp_path):
    reason = unavailable_reason()
    if reason is not None and not os.environ.get("CI"):
        pytest.skip(f"no sandbox on this machine: {reason}")
    root = tmp_path / "course"
    shutil.copytree(REPO, root, ignore=shutil.ignore_patterns(".venv", ".git", "grading", "*.pyc", "__pycache__"))
    course = load_course(root)
    lab = course.lab(lab_id)
    release = nbformat.read(course.release_notebook(lab), as_version=4)
    folder = tmp_path / "class"
    folder.mkdir()
    for name, trick in TRICKS.items():
        nb = nbformat.from_dict(release)
        if trick is not None:
            first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
            nb.cells.insert(first_code + 1, new_code_cell(trick))
        nbformat.write(nb, folder / f"{name}.ipynb")
    options = GradeOptions(workers=2, progress=False, limits=Limits(cell_timeout_s=60, notebook_timeout_s=300), seed=7)
    report = grade_lab(course, lab, folder, options)
    scored = {r.student: (r.auto_score, [s.message for s in r.scores if s.kind == "auto" and s.points]) for r in report.results}
    assert set(scored) == set(TRICKS)
    assert all(points == 0 for points, _ in scored.values()), scored
