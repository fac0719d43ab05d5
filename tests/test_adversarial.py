"""The adversarial corpus: every hostile submission gets exactly its honest score, flags for
review where it tried something, and nobody else's mark, file or process is touched."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import threading
import time

import nbformat
import pytest

from adversarial.cases import CASES, build_submission
from autograder.sandbox.execute import Limits
from autograder.record.gradebook import total_score
from autograder.grade import GradeOptions, grade_lab
from autograder.sandbox.sandbox import SandboxLimits, unavailable_reason

REASON = unavailable_reason()
pytestmark = pytest.mark.skipif(
    REASON is not None and not os.environ.get("CI"), reason=f"no sandbox on this machine: {REASON}"
)


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def listener():
    """A loopback server that records whether any sandboxed kernel reached it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    reached: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            reached.append(conn.recv(64))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], reached
    stop.set()
    thread.join(2)
    server.close()


def _sleepers() -> int:
    out = subprocess.run(["pgrep", "-f", "sleep 120"], capture_output=True, text=True).stdout
    return len(out.split())


def test_every_attack_earns_exactly_its_honest_score(toy_course, tmp_path, listener, monkeypatch):
    monkeypatch.setenv("COURSE_GRADER_CANARY", "the instructor's secret")  # must never reach a kernel
    assert REASON is None, f"CI must grade in the sandbox: {REASON}"
    port, reached = listener
    lab = toy_course.labs[0]
    grading = toy_course.root / "grading"
    folder = tmp_path / "class"
    folder.mkdir()
    release = nbformat.read(toy_course.release_notebook(lab), as_version=4)
    values = {
        "solutions": str(toy_course.source_notebook(lab)),
        "gradebook": str(grading / "gradebook.db"),
        "other": str(folder / "honest_full.ipynb"),
        "port": port,
        "reference": str(grading / "reference"),
    }
    for case in CASES:
        nbformat.write(build_submission(release, case, values), folder / f"{case.name}.ipynb")
    protected = {p: _digest(p) for p in [toy_course.source_notebook(lab), folder / "honest_full.ipynb"]}
    sleepers_before = _sleepers()

    options = GradeOptions(
        workers=2,
        progress=False,
        limits=Limits(cell_timeout_s=10, notebook_timeout_s=40, interrupt_grace_s=3),
        # tmpfs pages count against the memory limit: keep /tmp + working dir well below it
        sandbox=SandboxLimits(memory_mb=1024, pids=128, cpu_s=120, tmp_mb=64, workdir_mb=64),
    )
    report = grade_lab(toy_course, lab, folder, options)
    by = {r.student: r for r in report.results}

    problems = []
    for case in CASES:
        result = by[case.name]
        evidence = result.flags + result.repairs + [result.message]
        if result.auto_score != case.score:
            problems.append(f"{case.name}: scored {result.auto_score}, deserves {case.score} ({[s.message for s in result.scores]})")
        if result.status != case.status:
            problems.append(f"{case.name}: status {result.status} ({result.message}), expected {case.status}")
        if case.flag and not any(case.flag in text for text in evidence):
            problems.append(f"{case.name}: no flag mentioning {case.flag!r} in {evidence}")
    assert not problems, "\n".join(problems)

    # Nobody else was touched: files, the gradebook, the network, the process table.
    for path, digest in protected.items():
        assert _digest(path) == digest, f"{path} was modified"
    db = f"sqlite:///{grading / 'gradebook.db'}"
    assert total_score(db, toy_course.id, lab.id, "honest_full") == (5.0, 6.0)
    assert total_score(db, toy_course.id, lab.id, "honest_half") == (2.0, 6.0)
    assert reached == [], "a sandboxed kernel reached the network"
    time.sleep(1)
    assert _sleepers() <= sleepers_before, "a submission left processes running"
    # The honest students are not flagged.
    assert by["honest_full"].flags == [] and by["honest_half"].flags == []
