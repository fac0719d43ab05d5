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
import functools
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import textwrap
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
from autograder.review.restore import grade_id_of, restore
from autograder.sandbox.sandbox import Sandbox, SandboxLimits, unavailable_reason
from autograder.judge.hidden import HiddenBlockError, HiddenTest
from autograder.judge.judging import judge_all
from autograder.judge.probes import lab_tests
from autograder.judge.reference import ReferenceBroken, check_reference, load_reference, reference_key, write_reference
from autograder.judge.scoring import CellScore, not_run_scores, score_notebook
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
    seed: int = 0  # the probes' inputs are drawn from it
    reference: str | None = None  # the reference records' file; None: this run makes them
    notes: tuple[str, ...] = ()  # problems found with the submission's files, graded anyway (e.g. a duplicate)


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
    seed: int | None = None  # the seed the probes ran with (regrades reuse it)
    # Only for the reference run: its probe records, for the reference file (never persisted).
    records: dict | None = field(default=None, repr=False, compare=False)

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
        data = asdict(dataclasses.replace(self, records=None))
        data.pop("records")
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
            seed=data.get("seed"),
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
    try:
        tests = _tests_of(job.template)
    except HiddenBlockError as error:
        raise ReferenceBroken(f"the lab's hidden tests are not in the probe/judge form: {error}") from error
    probes = {i: tests[gid] for i, cell in enumerate(restored.notebook.cells) if (gid := grade_id_of(cell)) in tests}
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
            probes=probes,
            seed=job.seed,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    executed, _ = LimitOutput(config=nbgrader_config()).preprocess(outcome.notebook, {})
    removed: list[str] = []
    if job.output:
        Path(job.output).parent.mkdir(parents=True, exist_ok=True)
        inert, removed = sanitise_notebook(executed)  # the formgrader renders it in the instructor's browser
        Path(job.output).write_text(dumps(inert), encoding="utf-8")
    reference_records = None
    if job.reference is None:  # the reference run: judged against itself, checked by the caller
        reference_records = {gid: r for gid, r in outcome.records.items() if not isinstance(r, str) and r.ok}
        verdicts = judge_all({g: tests[g] for g in reference_records}, reference_records, reference_records)
    else:
        verdicts = judge_all(tests, outcome.records, load_reference(job.reference))
    scores = score_notebook(executed, verdicts)
    flags = scan_notebook(restored.notebook, baseline=template)
    suspicious = [item for item in removed if "vnd.jupyter.widget" not in item]  # progress bars are honest
    if job.output and suspicious:
        flags.append(f"active content removed before marking ({len(suspicious)} items, e.g. {suspicious[0]})"[:300])
    flags += outcome.notices  # output discarded, disk full, slow cells: the limits it ran into
    if outcome.completed:
        status, message = "graded", "ran to the end"
    else:
        status, message = "stopped", outcome.problem or "stopped early"
        flags.append(message)
    result = SubmissionResult(job.student, status, message, scores, restored.repairs, outcome.duration_s, flags, seed=job.seed)
    if job.reference is None:
        result.records = dict(outcome.records)
    return result


@functools.lru_cache(maxsize=16)
def _tests_of(template: str) -> dict[str, HiddenTest]:
    """The lab's parsed hidden tests, once per worker process and template."""
    return lab_tests(nbformat.reads(template, as_version=4))


_SANDBOXES: dict[tuple[SandboxLimits, int, str], Sandbox] = {}


def _worker_sandbox(job: Job) -> Sandbox | None:
    """This worker's sandbox for ``job``'s limits and data cache, created on first use (None: unsandboxed)."""
    if job.sandbox is None:
        return None
    from course_utils.data.cache import CACHE_ENV_VAR, cache_dir

    cache = str(cache_dir())
    key = (job.sandbox, job.limits.threads, cache)
    if key in _SANDBOXES and not _SANDBOXES[key].root.is_dir():  # its folder was removed under us
        _SANDBOXES.pop(key).close()
    if key not in _SANDBOXES:
        _SANDBOXES[key] = Sandbox(job.sandbox, {**grading_env(job.limits), CACHE_ENV_VAR: cache})
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
    seed: int | None = None  # the probes' seed; None: the lab's recorded seed, or a fresh draw
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
    seed = lab_seed(db_url, course.id, lab.id, options.seed)
    jobs = [_job(course, lab, root, s, template, limits, options.kernel_name, sandbox) for s in submissions]
    results: list[SubmissionResult] = []
    stamps = {s.student: s.timestamp for s in submissions}
    jobs = [dataclasses.replace(job, seed=seed) for job in jobs]
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

    notes = {job.student: job.notes for job in jobs}

    def record(result: SubmissionResult) -> None:
        result.flags[:0] = [n for n in notes.get(result.student, ()) if n not in result.flags]
        state = (fingerprints[result.student], json.dumps(result.to_dict()))
        record_scores(db_url, course.id, lab.id, notebook_id, result.student, result.scores, stamps.get(result.student), state)
        results.append(result)

    if jobs:
        prepare_lab_data([lab])  # before any kernel: the sandbox sees the data cache read-only
        reference = prepare_reference(course, lab, template, seed, limits, options.kernel_name, sandbox, options.progress)
        jobs = [dataclasses.replace(job, reference=str(reference)) for job in jobs]
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


GRADER_VERSION = "5"  # bump when grading logic changes, so every submission is regraded


def fingerprint(job: Job) -> str:
    """What a submission's grade depends on: its bytes, the lab's tests and seed, the grader's version."""
    digest = hashlib.sha256(GRADER_VERSION.encode())
    digest.update(job.template.encode())
    digest.update(f"seed={job.seed}".encode())
    digest.update((job.problem or "").encode())
    if job.notes:
        digest.update("\n".join(job.notes).encode())
    if job.submission and Path(job.submission).is_file():
        digest.update(Path(job.submission).read_bytes())
    return digest.hexdigest()


def lab_seed(db_url: str, course_id: str, lab_id: str, requested: int | None) -> int:
    """The probes' seed for a lab: ``requested``, else the one recorded, else a fresh draw (recorded)."""
    from autograder.record.gradebook import recorded_seed, record_seed

    if requested is None:
        requested = recorded_seed(db_url, course_id, lab_id)
    if requested is None:
        requested = secrets.randbelow(2**31)
    record_seed(db_url, course_id, lab_id, requested)
    return requested


def prepare_reference(
    course: Course,
    lab: Lab,
    template: str,
    seed: int,
    limits: Limits,
    kernel_name: str,
    sandbox: SandboxLimits | None,
    progress: bool = False,
    folder: Path | None = None,
) -> Path:
    """The reference records' file for ``lab`` at ``seed``: reused if present, else made now.

    Raises :class:`ReferenceBroken` when the source notebook's answers do not pass their own
    lab's judges (nobody can be graded fairly against it).
    """
    source = course.source_notebook(lab)
    key = reference_key(template, source.read_bytes(), seed, GRADER_VERSION)
    path = (folder or layout.grading_root(course) / "reference" / lab.id) / f"{key[:24]}.json"
    if path.is_file():
        return path
    try:
        tests = _tests_of(template)
    except HiddenBlockError as error:
        raise ReferenceBroken(f"{lab.id}: {error}") from error
    job = Job(
        student="reference-solution",
        submission=str(source),
        problem=None,
        template=template,
        data_files=lab_data_files(course, lab),
        output=None,
        limits=limits,
        kernel_name=kernel_name,
        sandbox=sandbox,
        seed=seed,
        reference=None,
    )
    result = grade_submission(job)
    problems = check_reference(tests, result.records or {})
    if result.status != "graded":
        problems.insert(0, f"the reference solution did not run to the end: {result.message}")
    if problems:
        raise ReferenceBroken(f"{lab.id}: the reference solution cannot be graded against:\n  " + "\n  ".join(problems))
    write_reference(path, seed, {gid: r for gid, r in (result.records or {}).items() if not isinstance(r, str)})
    return path


def with_threads(limits: Limits, workers: int) -> Limits:
    """The limits every kernel runs with: ``limits.threads`` threads (1 by default, ``--threads``),
    whatever the number of workers and cores, so that no result depends on the machine."""
    return dataclasses.replace(limits, threads=max(1, limits.threads))


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
        notes=submission.notes,
    )


def write_marks(path: Path, results: Iterable[SubmissionResult]) -> None:
    """Write one row per student: status, automatic score, pending manual points, message."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "status", "auto_score", "auto_max", "manual_pending", "message"])
        for r in results:
            writer.writerow([r.student, r.status, f"{r.auto_score:g}", f"{r.auto_max:g}", f"{r.manual_pending:g}", r.message])


def format_table(results: Iterable[SubmissionResult], message_width: int = 70) -> str:
    """A plain-text marks table for the terminal; long messages wrap onto more lines, never cut."""
    rows = [("student", "status", "auto", "pending manual", "message")]
    wrapped: list[list[str]] = [[]]
    for r in results:
        parts = textwrap.wrap(r.message, message_width, break_long_words=True) or [""]
        rows.append((r.student, r.status, f"{r.auto_score:g}/{r.auto_max:g}", f"{r.manual_pending:g}", parts[0]))
        wrapped.append(parts[1:])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    indent = sum(widths[:-1]) + 2 * (len(widths) - 1)
    lines = []
    for row, more in zip(rows, wrapped):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        lines += [" " * indent + part for part in more]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


