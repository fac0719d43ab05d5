"""Issue 17 in a real browser: the formgrader's manual-grading page of a hostile submission runs none of its script.

Every payload in injection_corpus.py would set ``document.title`` to a string holding
``PWNED``. The graded notebook (sanitised as ``grade_submission`` writes it) is rendered with
nbgrader's formgrade template and the formgrader's resources, opened in headless Chromium,
and the page's title read back after the page has loaded and its timers have run. A control
run of the same submission without the sanitiser shows that the payloads do fire there.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import injection_corpus as corpus
from html_safety import formgrade_html
from autograder.feedback.sanitise import sanitise_notebook

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)"
)


def _hostile_notebook() -> nbformat.NotebookNode:
    """A written answer and extra cells holding every Markdown form, and outputs a kernel could publish."""
    answer = new_markdown_cell(corpus.ANSWER, id="q3-written")
    answer.metadata["nbgrader"] = {"grade_id": "q3-written", "solution": True, "grade": True, "locked": False, "points": 1, "schema_version": 3}
    cells = [answer] + [new_markdown_cell(src, id=f"corpus-{i}") for i, src in enumerate(corpus.MARKDOWN.values())]
    outputs = [
        new_output("display_data", data={"text/html": "<img src=x onerror=\"document.title='PWNED-out1'\"><script>document.title='PWNED-out1'</script>"}),
        new_output("display_data", data={"application/javascript": "document.title='PWNED-out2'"}),
        new_output("display_data", data={"image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg' onload=\"document.title='PWNED-out3'\"></svg>"}),
        new_output("error", ename="ValueError", evalue="<img src=x onerror=\"document.title='PWNED-out4'\">", traceback=["<script>document.title='PWNED-out4'</script>"]),
    ]
    cells.append(new_code_cell("print('hello')", id="outputs", outputs=outputs, execution_count=1))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    return nb


def _title_after_load(page: Path, profile: Path) -> str:
    run = subprocess.run(
        [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", f"--user-data-dir={profile}",
         "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=60,
    )
    assert "<html" in run.stdout, run.stderr[-2000:]
    found = re.search(r"<title>(.*?)</title>", run.stdout, re.S)
    return found.group(1) if found else ""


def test_no_marker_script_runs_on_the_manual_grading_page(tmp_path):
    hostile = _hostile_notebook()
    raw = tmp_path / "raw" / "lab01_toy.ipynb"
    safe = tmp_path / "safe" / "lab01_toy.ipynb"
    for path, nb in ((raw, hostile), (safe, sanitise_notebook(hostile)[0])):
        path.parent.mkdir()
        nbformat.write(nb, path)
        path.with_suffix(".html").write_text(formgrade_html(path), encoding="utf-8")
    control = _title_after_load(raw.with_suffix(".html"), tmp_path / "profile-raw")
    assert corpus.MARK in control, "control: without the sanitiser the payloads run (else this test proves nothing)"
    title = _title_after_load(safe.with_suffix(".html"), tmp_path / "profile-safe")
    assert title.strip() == "lab01_toy", f"a payload ran on the sanitised page: title is {title!r}"
