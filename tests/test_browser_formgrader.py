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


def _plot_png() -> str:
    """A small labelled matplotlib plot as base64 PNG, as a grading kernel's inline backend sends it."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 2], [2, 0.5, 0.2])
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def test_manual_grading_page_typesets_math_offline_and_shows_the_plot(tmp_path):
    """Formulas render with the server's own MathJax (no CDN), and a hand-marked plot is on the page."""
    jupyter_server_mathjax = pytest.importorskip("jupyter_server_mathjax")
    question = new_markdown_cell(
        "### Question 5: the two maps (3 points)\n\nPlot the loss $L(\\theta) = \\sum_i (y_i - \\theta x_i)^2$ "
        "against the epoch; the optimum is $$\\hat\\theta = \\frac{\\sum_i x_i y_i}{\\sum_i x_i^2}.$$",
        id="q5-text",
    )
    plot = new_code_cell(
        "plt.plot(losses)", id="q5-maps", execution_count=1,
        outputs=[new_output("display_data", data={"image/png": _plot_png(), "text/plain": "<Figure>"})],
    )
    plot.metadata["nbgrader"] = {"grade_id": "q5-maps", "solution": True, "grade": True, "locked": False, "points": 3, "schema_version": 3}
    nb = new_notebook(cells=[question, plot])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    graded = tmp_path / "graded.ipynb"
    nbformat.write(sanitise_notebook(nb)[0], graded)
    html = formgrade_html(graded)
    assert "cdnjs" not in html and "cdn.jsdelivr" not in html, "the page still loads MathJax from a CDN"
    # The page as the server lays it out: <base>/formgrader/submissions/<id>/ and <base>/static/jupyter_server_mathjax/.
    page = tmp_path / "server" / "formgrader" / "submissions" / "0123456789abcdef" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text(html, encoding="utf-8")
    (tmp_path / "server" / "static").mkdir()
    (tmp_path / "server" / "static" / "jupyter_server_mathjax").symlink_to(Path(jupyter_server_mathjax.__file__).parent / "static")
    run = subprocess.run(
        [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    dom = run.stdout
    assert "<html" in dom, run.stderr[-2000:]
    assert dom.count('class="MathJax"') >= 1 and "MathJax_Display" in dom, "the formulas were not typeset"
    text = re.sub(r"<script.*?</script>", "", dom, flags=re.S)  # MathJax keeps the TeX in script elements
    assert "$L(" not in text and "$$" not in text, "raw TeX left on the page"
    assert re.search(r'<img[^>]+src="data:image/png;base64,', dom), "the hand-marked plot is missing from the page"
