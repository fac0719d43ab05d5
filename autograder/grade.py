"""``course grade``: autograde a folder of submissions into the gradebook and a marks CSV.

Workers (a local process pool) each take one submission: read it, restore the instructor's
cells, execute it in a fresh kernel inside a scratch directory, and score it. Only this
process writes the gradebook. One bad submission never stops the run: it gets a clear
message and a recorded zero.
"""

from __future__ import annotations

import atexit
import csv
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from nbgrader.preprocessors import LimitOutput
from tqdm.auto import tqdm

from autograder.course import Course, Lab
from autograder.sandbox.executors import execute_jobs
from autograder.sandbox.execute import Limits, execute_notebook, grading_env
from autograder import layout
from autograder.record.gradebook import load_state, record_scores, register_lab
from autograder.layout import default_db_url, grading_root
from autograder.sandbox.labdata import prepare_lab_data
from autograder.authoring.notebooks import NotebookError, dumps, lab_template, nbgrader_config, read_notebook
from autograder.review.restore import restore
from autograder.sandbox.sandbox import Sandbox, SandboxLimits, unavailable_reason
from autograder.judge.scoring import NO_PROOF, CellScore, not_run_scores, score_notebook, test_cells
from autograder.collect.submissions import Submission, discover
from autograder.review.suspicion import scan_notebook
from autograder.feedback.sanitise import sanitise_notebook


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to grade one submission (picklable)."""

    student: str
    submission: str | None
    problem: str | None
    template: str  # the grading template as notebook JSON
    data_files: tuple[tuple[str, str], ...]  # (source path, name inside the working directory)
    output: str | None  # where to write the executed notebook
    display_name: str = ""  # how messages name the student's file
    limits: Limits = Limits()
    kernel_name: str = "python3"
    sandbox: SandboxLimits | None = None  # None: run without a sandbox (trusted code only)


@dataclass
class SubmissionResult:
    """One student's outcome: status, message, per-cell scores and repairs made."""

    student: str
    status: str  # "graded", "stopped" (ran part way), "rejected" (could not be run)
    message: str
    scores: list[CellScore] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    flags: list[str] = field(default_factory=list)  # reasons for a human to review

    @property
    def auto_score(self) -> float:
        """Points earned on autograded cells."""
        return sum(s.points or 0.0 for s in self.scores if s.kind == "auto")

    @property
    def auto_max(self) -> float:
        """Points available on autograded cells."""
        return sum(s.max_points for s in self.scores if s.kind == "auto")

    @property
    def manual_pending(self) -> float:
        """Points still waiting for a human grader."""
        return sum(s.max_points for s in self.scores if s.kind == "manual" and s.points is None)

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict."""
        data = asdict(self)
        data.update(auto_score=self.auto_score, auto_max=self.auto_max, manual_pending=self.manual_pending)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> SubmissionResult:
        """Rebuild a result saved with :meth:`to_dict`."""
        return cls(
            student=data["student"],
            status=data["status"],
            message=data["message"],
            scores=[CellScore(**s) for s in data.get("scores", [])],
            repairs=list(data.get("repairs", [])),
            duration_s=float(data.get("duration_s", 0.0)),
            flags=list(data.get("flags", [])),
        )


def grade_submission(job: Job) -> SubmissionResult:
    """Grade one submission (runs in a worker process); never raises for bad input."""
    template = nbformat.reads(job.template, as_version=4)
    if job.problem is not None or job.submission is None:
        reason = job.problem or "no submission"
        return SubmissionResult(job.student, "rejected", reason, not_run_scores(template, reason))
    try:
        submitted = read_notebook(Path(job.submission), name=job.display_name or None)
    except NotebookError as error:
        return SubmissionResult(job.student, "rejected", str(error), not_run_scores(template, str(error)))
    restored = restore(submitted, template)
    workdir = Path(tempfile.mkdtemp(prefix=f"grade-{job.student}-"))
    try:
        for source, name in job.data_files:
            target = workdir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        outcome = execute_notebook(
            restored.notebook,
            workdir,
            job.limits,
            job.kernel_name,
            sandbox=_worker_sandbox(job),
            proof_cells=test_cells(restored.notebook),
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    executed, _ = LimitOutput(config=nbgrader_config()).preprocess(outcome.notebook, {})
    if job.output:
        Path(job.output).parent.mkdir(parents=True, exist_ok=True)
        Path(job.output).write_text(dumps(sanitise_notebook(executed)[0]), encoding="utf-8")  # rendered by the formgrader: inert
    scores = score_notebook(executed, outcome.proven)
    flags = scan_notebook(restored.notebook, baseline=template)
    flags += [f"replaced {name} while running (restored before the tests)" for name in sorted(outcome.restored)]
    if outcome.completed:
        status, message = "graded", "ran to the end"
    else:
        status, message = "stopped", outcome.problem or "stopped early"
        flags.append(message)
    if any(s.message == NO_PROOF for s in scores):
        flags.append("a test cell ran without error but did not prove it completed")
    return SubmissionResult(job.student, status, message, scores, restored.repairs, outcome.duration_s, flags)


_SANDBOXES: dict[tuple[SandboxLimits, int], Sandbox] = {}


def _worker_sandbox(job: Job) -> Sandbox | None:
    """This worker's sandbox for ``job``'s limits, created on first use (None: unsandboxed)."""
    if job.sandbox is None:
        return None
    key = (job.sandbox, job.limits.threads)
    if key not in _SANDBOXES:
        from course_utils.data.cache import CACHE_ENV_VAR, cache_dir

        _SANDBOXES[key] = Sandbox(job.sandbox, {**grading_env(job.limits), CACHE_ENV_VAR: str(cache_dir())})
        atexit.register(_SANDBOXES[key].close)
    return _SANDBOXES[key]


@dataclass(frozen=True)
class GradeOptions:
    """How to run a grading pass."""

    workers: int = 0  # 0: one per CPU core
    limits: Limits = Limits()
    kernel_name: str = "python3"
    progress: bool = True
    sandbox: SandboxLimits | None = SandboxLimits()  # None: trusted code, no sandbox
    allow_unsandboxed: bool = False  # grade untrusted code even where no sandbox works
    force: bool = False  # regrade submissions already graded with the same content
    scheduler: str | None = None  # a Dask scheduler address, or "local"; None: a local process pool


class SandboxUnavailable(RuntimeError):
    """Untrusted submissions would run without a sandbox, and that was not explicitly allowed."""


def choose_sandbox(options: GradeOptions) -> SandboxLimits | None:
    """The sandbox limits to grade with; refuses (or loudly warns) where no sandbox works."""
    if options.sandbox is None:
        return None
    reason = unavailable_reason()
    if reason is None:
        return options.sandbox
    if not options.allow_unsandboxed:
        raise SandboxUnavailable(
            f"refusing to run untrusted submissions without a sandbox: {reason}. "
            "Install what is missing, or pass --unsafe-no-sandbox to grade anyway (only code you trust)."
        )
    warnings.warn(
        f"GRADING WITHOUT A SANDBOX ({reason}): submissions can read the solutions and the gradebook, "
        "use the network and harm this machine.",
        stacklevel=2,
    )
    return None


def default_workers(n_jobs: int) -> int:
    """One worker per core, never more than there are jobs."""
    return max(1, min(os.cpu_count() or 1, n_jobs))


def _crashed(job: Job, error: Exception) -> SubmissionResult:
    template = nbformat.reads(job.template, as_version=4)
    reason = f"grading failed: {type(error).__name__}: {error}"
    return SubmissionResult(job.student, "stopped", reason, not_run_scores(template, reason), flags=[reason])


def run_jobs(
    jobs: list[Job],
    workers: int,
    progress: bool,
    on_result: Callable[[SubmissionResult], None],
    scheduler: str | None = None,
) -> None:
    """Grade ``jobs`` and hand each result to ``on_result`` in this process, as they finish.

    Executors: inline for one worker, a local process pool by default, or a Dask cluster
    when ``scheduler`` is given (an address such as ``tcp://host:8786``, or ``local``).
    """
    bar = tqdm(total=len(jobs), desc="grading", unit="nb", disable=not progress)
    try:
        for job, outcome in execute_jobs(grade_submission, jobs, workers, scheduler):
            result = _crashed(job, outcome) if isinstance(outcome, BaseException) else outcome
            on_result(result)
            bar.update()
    finally:
        bar.close()


@dataclass
class GradeReport:
    """The outcome of ``course grade`` for one lab."""

    lab: str
    results: list[SubmissionResult]
    marks_csv: Path
    report_json: Path
    skipped: list[str] = field(default_factory=list)  # unchanged since the last run: not regraded


def lab_data_files(course: Course, lab: Lab) -> tuple[tuple[str, str], ...]:
    """The files besides the notebook in a lab's source folder (data a notebook reads)."""
    folder = course.source_notebook(lab).parent
    files = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != lab.notebook and ".ipynb_checkpoints" not in path.parts:
            files.append((str(path), path.relative_to(folder).as_posix()))
    return tuple(files)


def grade_lab(course: Course, lab: Lab, submissions_dir: Path, options: GradeOptions = GradeOptions(), db_url: str | None = None) -> GradeReport:
    """Autograde every submission in ``submissions_dir`` for ``lab``; see the module docstring."""
    root = grading_root(course)
    root.mkdir(parents=True, exist_ok=True)
    db_url = db_url or default_db_url(course)
    notebook_id = lab.notebook_id
    template_nb = lab_template(course, lab)
    register_lab(db_url, course.id, lab.id, notebook_id, template_nb)
    template = nbformat.writes(template_nb)
    sandbox = choose_sandbox(options)
    submissions = discover(submissions_dir, lab)
    workers = options.workers or default_workers(len(submissions))
    limits = with_threads(options.limits, workers)
    jobs = [_job(course, lab, root, s, template, limits, options.kernel_name, sandbox) for s in submissions]
    results: list[SubmissionResult] = []
    stamps = {s.student: s.timestamp for s in submissions}
    fingerprints = {job.student: fingerprint(job) for job in jobs}
    done = load_state(db_url, course.id, lab.id)
    skipped = []
    if not options.force:
        for job in jobs:
            previous = done.get(job.student)
            if previous is not None and previous[0] == fingerprints[job.student]:
                results.append(SubmissionResult.from_dict(json.loads(previous[1])))
                skipped.append(job.student)
        jobs = [job for job in jobs if job.student not in skipped]

    def record(result: SubmissionResult) -> None:
        state = (fingerprints[result.student], json.dumps(result.to_dict()))
        record_scores(db_url, course.id, lab.id, notebook_id, result.student, result.scores, stamps.get(result.student), state)
        results.append(result)

    if jobs:
        prepare_lab_data([lab])  # before any kernel: the sandbox sees the data cache read-only
    run_jobs(jobs, workers, options.progress, record, options.scheduler)
    # --- late policy (course.toml due/grace/penalty keys) through nbgrader's LateSubmissionPlugin: penalties.py ---
    from autograder.record.penalties import apply_late_penalties

    apply_late_penalties(course, lab, db_url)
    # --- end late policy ---
    results.sort(key=lambda r: r.student)
    marks, report = layout.marks_csv(course, lab), layout.report_json(course, lab)
    write_marks(marks, results)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps([r.to_dict() for r in results], indent=1), encoding="utf-8")
    return GradeReport(lab.id, results, marks, report, skipped)


GRADER_VERSION = "4"  # bump when grading logic changes, so every submission is regraded


def fingerprint(job: Job) -> str:
    """What a submission's grade depends on: its bytes, the lab's tests, the grader's version."""
    digest = hashlib.sha256(GRADER_VERSION.encode())
    digest.update(job.template.encode())
    digest.update((job.problem or "").encode())
    if job.submission and Path(job.submission).is_file():
        digest.update(Path(job.submission).read_bytes())
    return digest.hexdigest()


def with_threads(limits: Limits, workers: int) -> Limits:
    """Share the CPU cores among ``workers`` kernels (at least one thread each)."""
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    return dataclasses.replace(limits, threads=threads)


def _job(
    course: Course,
    lab: Lab,
    root: Path,
    submission: Submission,
    template: str,
    limits: Limits,
    kernel_name: str,
    sandbox: SandboxLimits | None,
) -> Job:
    kept: str | None = None
    if submission.path is not None:
        # Keep an exact copy of what was graded, nbgrader-style: nothing a student sent is lost.
        copy = layout.submitted_dir(course) / submission.student / lab.id / lab.notebook
        copy.parent.mkdir(parents=True, exist_ok=True)
        if submission.path.resolve() != copy.resolve():
            shutil.copy2(submission.path, copy)
            if submission.timestamp is not None:
                (copy.parent / "timestamp.txt").write_text(submission.timestamp.isoformat(), encoding="utf-8")
        kept = str(copy)
    output = str(layout.autograded_notebook(course, submission.student, lab))
    return Job(
        student=submission.student,
        submission=kept,
        problem=submission.problem,
        template=template,
        data_files=lab_data_files(course, lab),
        output=output,
        display_name=submission.path.name if submission.path else "",
        limits=limits,
        kernel_name=kernel_name,
        sandbox=sandbox,
    )


def write_marks(path: Path, results: Iterable[SubmissionResult]) -> None:
    """Write one row per student: status, automatic score, pending manual points, message."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "status", "auto_score", "auto_max", "manual_pending", "message"])
        for r in results:
            writer.writerow([r.student, r.status, f"{r.auto_score:g}", f"{r.auto_max:g}", f"{r.manual_pending:g}", r.message])


def format_table(results: Iterable[SubmissionResult]) -> str:
    """A plain-text marks table for the terminal."""
    rows = [("student", "status", "auto", "pending manual", "message")]
    for r in results:
        rows.append((r.student, r.status, f"{r.auto_score:g}/{r.auto_max:g}", f"{r.manual_pending:g}", r.message[:70]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


