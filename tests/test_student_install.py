"""The ``student`` extra installs what a student needs locally: JupyterLab, ipywidgets (so that
tqdm's and Torchbearer's notebook progress bars draw) and everything ``offline`` brings."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_student_extra_holds_jupyterlab_ipywidgets_and_offline():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    student = extras["student"]
    included = {m.group(1) for r in student if (m := re.match(r"deep-learning-labs\[([a-z,]+)\]", r))}
    assert "offline" in included or _names(extras["offline"]) <= _names(student)
    assert {"jupyterlab", "ipywidgets"} <= _names(student)
    assert 'pip install -e ".[student]"' in (REPO / "README.md").read_text(encoding="utf-8")


def test_notebook_progress_bars_have_their_widgets():
    # tqdm.notebook (which Torchbearer's notebook callbacks use) falls back to plain text and
    # warns "IProgress not found" when ipywidgets is missing.
    from tqdm.notebook import IProgress

    assert IProgress is not None
