"""Benchmark: plain serial ``nbgrader autograde`` against ``course grade`` on the same submissions.

    .venv/bin/python benchmarks/grading_throughput.py [--n 16] [--workers 2]

Builds a throwaway course whose lab imports torch, torchvision, torchbearer and matplotlib
and trains a tiny model (like a real lab's problem sheet, but seconds long), makes N
submissions, then grades them (1) with one serial ``nbgrader autograde`` process and
(2) with ``course grade`` using 1 and N workers, in the sandbox when the machine has one.
Prints throughput, scaling, per-submission overhead beyond the notebook's own execution
(kernel start, imports, sandbox, grading), and peak memory. Not a test: figures only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

LAB = "lab01_bench"


def _meta(gid: str, solution: bool, grade: bool, locked: bool, points: int | None = None) -> dict:
    meta = {"grade_id": gid, "solution": solution, "grade": grade, "locked": locked, "schema_version": 3}
    if points:
        meta["points"] = points
    return {"nbgrader": meta}


Q1_PLAIN = "### BEGIN HIDDEN TESTS\nassert fit(300) < 0.5\n### END HIDDEN TESTS"
Q2_PLAIN = "### BEGIN HIDDEN TESTS\nimport math\nassert math.isclose(area(2), 4 * math.pi)\n### END HIDDEN TESTS"
# The same tests in the probe/judge form `course grade` runs: the same work in the kernel.
Q1_PROBE = (
    "### BEGIN HIDDEN TESTS\ndef probe(seed):\n    return {'loss': fit(300)}\n\n\n"
    "def judge(got, ref):\n    assert isinstance(got['loss'], float) and got['loss'] < 0.5, 'the fit does not converge'\n### END HIDDEN TESTS"
)
Q2_PROBE = (
    "### BEGIN HIDDEN TESTS\ndef probe(seed):\n    return {'area': area(2)}\n\n\n"
    "def judge(got, ref):\n    import math\n\n    assert math.isclose(got['area'], 4 * math.pi), 'wrong area'\n### END HIDDEN TESTS"
)


def bench_notebook(plain: bool = False) -> nbformat.NotebookNode:
    """A lab-like notebook: heavy imports, a little training, two autograded questions.

    ``plain``: hidden tests as asserts (for plain nbgrader); else in the probe/judge form.
    """
    cells = [
        new_markdown_cell("# Benchmark lab"),
        new_code_cell("import torch, torchvision, torchbearer\nimport matplotlib.pyplot as plt\ntorch.manual_seed(0)"),
        new_code_cell(
            "def fit(steps):\n    ### BEGIN SOLUTION\n    X = torch.randn(512, 20)\n    y = X @ torch.randn(20, 1)\n"
            "    model = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))\n"
            "    opt = torch.optim.Adam(model.parameters(), 1e-2)\n    for _ in range(steps):\n        opt.zero_grad()\n"
            "        loss = ((model(X) - y) ** 2).mean()\n        loss.backward()\n        opt.step()\n    return loss.item()\n    ### END SOLUTION",
            metadata=_meta("q1", True, False, False),
        ),
        new_code_cell(Q1_PLAIN if plain else Q1_PROBE, metadata=_meta("q1-tests", False, True, True, 2)),
        new_code_cell(
            "def area(r):\n    ### BEGIN SOLUTION\n    return 3.141592653589793 * r * r\n    ### END SOLUTION",
            metadata=_meta("q2", True, False, False),
        ),
        new_code_cell(Q2_PLAIN if plain else Q2_PROBE, metadata=_meta("q2-tests", False, True, True, 1)),
        new_code_cell("fig, ax = plt.subplots()\nax.plot([1, 2, 3])\nax.set_xlabel('x')\nplt.close(fig)"),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    return nb


def make_course(root: Path, n: int) -> Path:
    """Write the benchmark course, its source notebook and ``n`` submissions; return the submissions folder."""
    (root / "course.toml").write_text(
        f'[course]\nid = "bench"\ntitle = "Benchmark"\npublic_repo = "x/y"\n\n[[labs]]\nid = "{LAB}"\ntitle = "Bench"\nnotebook = "{LAB}.ipynb"\n'
    )
    (root / "solutions" / LAB).mkdir(parents=True)
    nbformat.write(bench_notebook(), root / "solutions" / LAB / f"{LAB}.ipynb")
    nbformat.write(bench_notebook(plain=True), root / f"{LAB}.plain.ipynb")
    subs = root / "incoming"
    subs.mkdir()
    for i in range(n):
        shutil.copy(root / "solutions" / LAB / f"{LAB}.ipynb", subs / f"student{i:03d}.ipynb")
    return subs


def plain_nbgrader(root: Path, n: int) -> float:
    """Seconds for one serial ``nbgrader autograde`` over ``n`` submissions (nbgrader's own layout)."""
    course = root / "plain"
    (course / "source" / LAB).mkdir(parents=True)
    shutil.copy(root / f"{LAB}.plain.ipynb", course / "source" / LAB / f"{LAB}.ipynb")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'bench'\nc.Execute.timeout = 300\n"
    )
    nbgrader = [sys.executable, "-m", "nbgrader"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run(nbgrader + ["generate_assignment", LAB, "--force"], cwd=course, check=True, capture_output=True, env=env)
    for i in range(n):
        target = course / "submitted" / f"student{i:03d}" / LAB
        target.mkdir(parents=True)
        shutil.copy(root / f"{LAB}.plain.ipynb", target / f"{LAB}.ipynb")
        (target / "timestamp.txt").write_text(dt.datetime.now(dt.timezone.utc).isoformat())
    start = time.monotonic()
    done = subprocess.run(nbgrader + ["autograde", LAB, "--force", "--create"], cwd=course, capture_output=True, text=True, env=env)
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        print(done.stderr[-2000:])
        raise SystemExit("plain nbgrader autograde failed")
    return elapsed


def notebook_seconds(path: Path) -> float:
    """Seconds between the first cell's start and the last cell's end, from nbclient's timestamps."""
    return notebook_seconds_of(nbformat.read(path, as_version=4))


def notebook_seconds_of(nb: nbformat.NotebookNode) -> float:
    """Seconds between the first cell's start and the last cell's end of an executed notebook."""
    stamps = [c.metadata.get("execution", {}) for c in nb.cells if c.cell_type == "code"]
    starts = [s.get("iopub.execute_input") for s in stamps if s.get("iopub.execute_input")]
    ends = [s.get("shell.execute_reply") for s in stamps if s.get("shell.execute_reply")]
    if not starts or not ends:
        return float("nan")
    parse = lambda text: dt.datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(max(ends)) - parse(min(starts))).total_seconds()


def own_execution(root: Path, runs: int = 3) -> float:
    """Seconds the notebook's cells take in a plain, already-started kernel (imports included)."""
    from autograder.sandbox.execute import execute_notebook

    times = []
    for _ in range(runs):
        nb = nbformat.read(root / f"{LAB}.plain.ipynb", as_version=4)  # tests run in the kernel: the same work
        work = Path(tempfile.mkdtemp())
        outcome = execute_notebook(nb, work)
        shutil.rmtree(work, ignore_errors=True)
        times.append(notebook_seconds_of(outcome.notebook))
    return statistics.median(times)


def kernel_round_trip(sandboxed: bool, runs: int = 3) -> float:
    """Seconds to start a kernel, run an empty cell and stop it (plain or sandboxed)."""
    from autograder.sandbox.execute import GRADING_ENV, execute_notebook
    from autograder.sandbox.sandbox import Sandbox

    sandbox = Sandbox(env=GRADING_ENV) if sandboxed else None
    times = []
    try:
        for _ in range(runs):
            nb = new_notebook(cells=[new_code_cell("pass")])
            nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
            work = Path(tempfile.mkdtemp())
            start = time.monotonic()
            execute_notebook(nb, work, sandbox=sandbox)
            times.append(time.monotonic() - start)
            shutil.rmtree(work, ignore_errors=True)
    finally:
        if sandbox is not None:
            sandbox.close()
    return statistics.median(times)


def course_grade(root: Path, subs: Path, workers: int) -> tuple[float, float]:
    """Seconds for ``course grade`` with ``workers`` workers, and the mean in-kernel notebook time."""
    from autograder.course import load_course
    from autograder.grade import GradeOptions, grade_lab
    from autograder.sandbox.sandbox import unavailable_reason

    shutil.rmtree(root / "grading", ignore_errors=True)
    course = load_course(root)
    options = GradeOptions(workers=workers, progress=False, force=True, allow_unsandboxed=unavailable_reason() is not None)
    start = time.monotonic()
    report = grade_lab(course, course.labs[0], subs, options)
    elapsed = time.monotonic() - start
    bad = [r.student for r in report.results if r.auto_score != r.auto_max]
    if bad:
        raise SystemExit(f"course grade gave wrong marks to {bad}: {report.results[0].scores}")
    own = [notebook_seconds(p) for p in (root / "grading" / "autograded").glob(f"*/{LAB}/{LAB}.ipynb")]
    return elapsed, statistics.mean(own)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16, help="number of submissions")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="parallel workers for course grade")
    args = parser.parse_args()
    from autograder.sandbox.sandbox import unavailable_reason

    root = Path(tempfile.mkdtemp(prefix="grading-bench-"))
    try:
        subs = make_course(root, args.n)
        print(f"{args.n} submissions, {os.cpu_count()} cores, sandbox: {unavailable_reason() or 'yes'}")
        plain = plain_nbgrader(root, args.n)
        one, _ = course_grade(root, subs, 1)
        many, _ = course_grade(root, subs, args.workers)
        own = own_execution(root)
        plain_kernel, sandbox_kernel = kernel_round_trip(False), kernel_round_trip(unavailable_reason() is None)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"plain nbgrader autograde (serial):   {plain:7.1f} s  {plain / args.n:5.2f} s/submission")
        print(f"course grade, 1 worker:              {one:7.1f} s  {one / args.n:5.2f} s/submission")
        print(f"course grade, {args.workers} workers:             {many:7.1f} s  {many / args.n:5.2f} s/submission")
        print(f"throughput vs plain nbgrader:        {plain / many:7.2f}x")
        print(f"scaling 1 -> {args.workers} workers:              {one / many:7.2f}x (ideal {args.workers}x)")
        print(f"notebook's own execution (in kernel): {own:6.2f} s per submission (imports included)")
        print(f"overhead beyond it (1 worker):        {one / args.n - own:6.2f} s per submission (kernel, sandbox, probes, judging)")
        print(f"  of which kernel start+stop:         {plain_kernel:6.2f} s plain, {sandbox_kernel:.2f} s sandboxed")
        print(f"peak memory of one child process:    {peak:7.0f} MiB")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
