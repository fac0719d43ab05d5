"""``course validate``: every solution earns full marks, every release zero, and both run to the end."""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.course import Course, Lab
from autograder.sandbox.execute import Limits
from autograder.grade import Job, SubmissionResult, lab_data_files, run_jobs, with_threads
from autograder.sandbox.labdata import prepare_lab_data
from autograder.authoring.notebooks import lab_template
from autograder.judge.hidden import HiddenBlockError
from autograder.judge.probes import lab_tests
from autograder.judge.reference import check_reference, write_reference

REFERENCE, RELEASE = "reference-solution", "student-release"


@dataclass
class LabValidation:
    """The verdict on one lab, with the reasons when it fails."""

    lab: str
    problems: list[str] = field(default_factory=list)
    solution: SubmissionResult | None = None
    release: SubmissionResult | None = None

    @property
    def ok(self) -> bool:
        """True when the lab passed every check."""
        return not self.problems


def judge(lab: Lab, solution: SubmissionResult, release: SubmissionResult | None) -> LabValidation:
    """Compare the two runs with what a valid lab must show (no release run: the solution failed)."""
    verdict = LabValidation(lab.id, solution=solution, release=release)
    if solution.status != "graded":
        verdict.problems.append(f"solution did not run to the end: {solution.message}")
    for score in solution.scores:
        if score.kind == "auto" and score.points != score.max_points:
            verdict.problems.append(f"solution scores {score.points:g}/{score.max_points:g} on '{score.grade_id}': {score.message}")
    if not any(s.kind == "auto" for s in solution.scores):
        verdict.problems.append("the lab has no autograded cells")
    if release is None:
        return verdict
    if release.status != "graded":
        verdict.problems.append(f"release did not run to the end: {release.message}")
    for score in release.scores:
        if score.kind == "auto" and score.points:
            verdict.problems.append(f"release earns {score.points:g} points on '{score.grade_id}' without any answer")
    return verdict


def executed_notebook(keep_dir: Path, lab: Lab, which: str) -> Path:
    """Where ``validate_labs(..., keep_dir=...)`` writes a lab's executed solution or release."""
    return keep_dir / lab.id / f"{which}.ipynb"


def validate_labs(
    course: Course,
    labs: list[Lab],
    limits: Limits = Limits(),
    kernel_name: str = "python3",
    workers: int = 2,
    progress: bool = True,
    keep_dir: Path | None = None,
    seed: int | None = None,
) -> list[LabValidation]:
    """Run each lab's solution and release in fast mode and judge them.

    The solutions run first: their probe data, accepted by their own judges, become the
    reference the releases are judged against (at the same ``seed``, drawn when not given).
    With ``keep_dir``, the executed notebooks are kept there (see :func:`executed_notebook`),
    so other checks can read what ran without running the notebooks again.
    """
    limits = with_threads(limits, workers)
    seed = secrets.randbelow(2**31) if seed is None else seed
    templates = {lab.id: nbformat.writes(lab_template(course, lab)) for lab in labs}
    results: dict[str, SubmissionResult] = {}
    verdicts = {lab.id: LabValidation(lab.id) for lab in labs}

    def job(lab: Lab, which: str, reference: str | None) -> Job:
        path = course.source_notebook(lab) if which == REFERENCE else course.release_notebook(lab)
        problem = None if path.is_file() else f"{path.relative_to(course.root)} is missing: run `course build`"
        return Job(
            student=f"{lab.id}:{which}",
            submission=str(path),
            problem=problem,
            template=templates[lab.id],
            data_files=lab_data_files(course, lab),
            output=str(executed_notebook(keep_dir, lab, which)) if keep_dir else None,
            limits=limits,
            kernel_name=kernel_name,
            seed=seed,
            reference=reference,
        )

    prepare_lab_data(labs)
    run_jobs([job(lab, REFERENCE, None) for lab in labs], workers, progress, lambda r: results.__setitem__(r.student, r))
    with tempfile.TemporaryDirectory(prefix="course-validate-") as scratch:
        releases = []
        for lab in labs:
            solution = results[f"{lab.id}:{REFERENCE}"]
            verdicts[lab.id].problems += _reference_problems(templates[lab.id], solution)
            if solution.records is not None:  # judge the release against whatever the reference could give
                path = Path(scratch) / f"{lab.id}.json"
                write_reference(path, seed, {g: r for g, r in solution.records.items() if not isinstance(r, str) and r.ok})
                releases.append(job(lab, RELEASE, str(path)))
        run_jobs(releases, workers, progress, lambda r: results.__setitem__(r.student, r))
    out = []
    for lab in labs:
        release = results.get(f"{lab.id}:{RELEASE}")
        verdict = judge(lab, results[f"{lab.id}:{REFERENCE}"], release)
        verdict.problems = verdicts[lab.id].problems + verdict.problems
        out.append(verdict)
    return out


def _reference_problems(template: str, solution: SubmissionResult) -> list[str]:
    """Why a solution's probe data cannot serve as the reference (empty when it can)."""
    if solution.records is None:
        return [f"solution could not be run: {solution.message}"]
    try:
        tests = lab_tests(nbformat.reads(template, as_version=4))
    except HiddenBlockError as error:
        return [str(error)]
    return check_reference(tests, solution.records)
