"""The formgrader as this course configures it (the repository's nbgrader_config.py), in a real
Jupyter server on 127.0.0.1 and headless Chromium: no exchange warning, nbgrader's own
feedback buttons refuse with a pointer to ``course feedback``, and the manual-grading page of a
graded submission shows the student's plot and typesets its formulas with MathJax served offline.

Set ``COURSE_SCREENSHOTS=DIR`` to also save PNG screenshots of the manual-grading page and of
a ``course feedback`` page there (how docs/img/ was made).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from plot_toy import make_plot_course, student_submission
from toy_course import LAB_ID, NOTEBOOK
from workflow_helpers import fresh_gradebook

from autograder.authoring.build import build
from autograder.cli import main
from autograder.course import load_course

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(argv)
    return code, out.getvalue()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(url: str, token: str, method: str = "GET", timeout: float = 30) -> tuple[int, str]:
    request = urllib.request.Request(url, data=b"" if method == "POST" else None, method=method, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", errors="replace")


def _chromium(url: str, profile: Path, screenshot: Path | None = None) -> str:
    args = [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", f"--user-data-dir={profile}",
            "--virtual-time-budget=10000", "--window-size=1200,900"]
    run = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=60, check=False)
    if screenshot is not None:
        subprocess.run([*args, f"--screenshot={screenshot}", url], capture_output=True, timeout=60, check=False)
    return run.stdout


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_DATA", str(tmp_path_factory.mktemp("data")))
        patch.setenv("COURSE_OFFLINE", "1")
        root = make_plot_course(tmp_path_factory.mktemp("fg") / "toy")
        course = load_course(root)
        build(course)
        fresh_gradebook(root)
        release = nbformat.read(course.release_notebook(course.labs[0]), as_version=4)
        folder = root / "grading" / "submitted" / "s001" / LAB_ID
        folder.mkdir(parents=True)
        (folder / NOTEBOOK).write_text(student_submission(release), encoding="utf-8")
        (folder / "timestamp.txt").write_text(dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc).isoformat(), encoding="utf-8")
        code, text = _run(["--root", str(root), "grade", "1", str(root / "grading" / "submitted"), "--quiet", "--workers", "1"])
        assert code == 0, text
        config = (REPO / "nbgrader_config.py").read_text(encoding="utf-8")
        (root / "nbgrader_config.py").write_text(re.sub(r'course_id = "[^"]*"', f'course_id = "{course.id}"', config), encoding="utf-8")
        yield course


@pytest.fixture
def server(graded_course, tmp_path):
    root = graded_course.root
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
             f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False", "--ServerApp.allow_root=True",
             "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}"],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "no Jupyter server in 60 s:\n" + log_path.read_text()[-3000:]
                with contextlib.suppress(OSError):
                    if _call(f"{base}/api/status", token, timeout=2)[0] == 200:
                        break
                time.sleep(0.5)
            yield base, token
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def test_formgrader_fits_the_course(graded_course, server, tmp_path):
    base, token = server
    status, page = _call(f"{base}/formgrader/manage_assignments", token)
    assert status == 200 and "formgrader" in page.lower()
    assert "warning-exchange" not in page and "does not exist and could" not in page

    for action in ("generate_feedback", "release_feedback"):
        for url in (f"{base}/formgrader/api/assignment/{LAB_ID}/{action}", f"{base}/formgrader/api/assignment/{LAB_ID}/s001/{action}"):
            status, body = _call(url, token, "POST", timeout=60)
            assert status == 200, body
            answer = json.loads(body)
            assert answer["success"] is False and "course feedback" in (answer.get("error", "") + answer.get("log", "")), (url, answer)
    assert not list((graded_course.root / "grading" / "feedback").glob("*/*/*.html")), "nbgrader wrote a feedback page"

    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium): the browser half is skipped")
    status, body = _call(f"{base}/formgrader/api/submitted_notebooks/{LAB_ID}/{NOTEBOOK[:-6]}", token)
    submission_id = next(n["id"] for n in json.loads(body) if n["student"] == "s001")
    shots = Path(os.environ["COURSE_SCREENSHOTS"]) if os.environ.get("COURSE_SCREENSHOTS") else None
    dom = _chromium(f"{base}/formgrader/submissions/{submission_id}/?token={token}", tmp_path / "profile",
                    shots / "formgrader-manual-grading.png" if shots else None)
    assert "q4-plot" in dom or "Question 4" in dom, dom[-2000:]
    assert re.search(r'<img[^>]+src="data:image/png;base64,iVBORw0KGgo', dom), "the student's plot is not on the manual-grading page"
    # Formulas typeset by MathJax from this server (jupyter-server-mathjax), never a CDN: the test has no network.
    status, html = _call(f"{base}/formgrader/submissions/{submission_id}/", token)
    assert status == 200 and "cdnjs" not in html and "jupyter_server_mathjax/MathJax.js" in html
    text = re.sub(r"<script.*?</script>", "", dom, flags=re.S)  # MathJax keeps each formula's TeX in a script
    assert 'class="MathJax' in dom and "$y = x^2$" not in text, "the formulas on the manual-grading page are not typeset"

    if shots:  # the student's side, for the instructor guide
        _run(["--root", str(graded_course.root), "feedback", "1", "--preview", "s001"])
        page = graded_course.root / "grading" / "feedback" / "s001" / LAB_ID / "feedback.html"
        _chromium(page.as_uri(), tmp_path / "profile2", shots / "feedback-page.png")
