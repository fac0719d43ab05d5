"""``course validate``: every solution earns full marks, every release zero, and both run to the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.course import Course, Lab
from autograder.sandbox.execute import Limits
from autograder.grade import Job, SubmissionResult, lab_data_files, run_jobs, with_threads
from autograder.sandbox.labdata import prepare_lab_data
from autograder.authoring.notebooks import lab_template

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


def judge(lab: Lab, solution: SubmissionResult, release: SubmissionResult) -> LabValidation:
    """Compare the two runs with what a valid lab must show."""
    verdict = LabValidation(lab.id, solution=solution, release=release)
    if solution.status != "graded":
        verdict.problems.append(f"solution did not run to the end: {solution.message}")
    for score in solution.scores:
        if score.kind == "auto" and score.points != score.max_points:
            verdict.problems.append(f"solution scores {score.points:g}/{score.max_points:g} on '{score.grade_id}': {score.message}")
    if not any(s.kind == "auto" for s in solution.scores):
        verdict.problems.append("the lab has no autograded cells")
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
) -> list[LabValidation]:
    """Run each lab's solution and release in fast mode and judge them.

    With ``keep_dir``, the executed notebooks are kept there (see :func:`executed_notebook`),
    so other checks can read what ran without running the notebooks again.
    """
    limits = with_threads(limits, workers)
    jobs: list[Job] = []
    for lab in labs:
        template = nbformat.writes(lab_template(course, lab))
        files = lab_data_files(course, lab)
        for student, path in ((REFERENCE, course.source_notebook(lab)), (RELEASE, course.release_notebook(lab))):
            problem = None if path.is_file() else f"{path.relative_to(course.root)} is missing: run `course build`"
            jobs.append(
                Job(
                    student=f"{lab.id}:{student}",
                    submission=str(path),
                    problem=problem,
                    template=template,
                    data_files=files,
                    output=str(executed_notebook(keep_dir, lab, student)) if keep_dir else None,
                    limits=limits,
                    kernel_name=kernel_name,
                )
            )
    prepare_lab_data(labs)
    results: dict[str, SubmissionResult] = {}
    run_jobs(jobs, workers, progress, lambda r: results.__setitem__(r.student, r))
    return [judge(lab, results[f"{lab.id}:{REFERENCE}"], results[f"{lab.id}:{RELEASE}"]) for lab in labs]
