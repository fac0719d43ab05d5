"""Grading on a Dask cluster (a LocalCluster of two worker processes on loopback)."""

from __future__ import annotations

import pytest

from autograder.authoring.demo import write_demo_submissions
from autograder.sandbox.executors import execute_jobs
from autograder.grade import GradeOptions, grade_lab
from autograder.sandbox.sandbox import unavailable_reason

distributed = pytest.importorskip("distributed")


def _square(x: int) -> int:
    if x == 3:
        raise ValueError("bad job")
    return x * x


@pytest.mark.parametrize("workers, scheduler", [(1, None), (2, None), (2, "local")])
def test_every_executor_returns_every_job_and_isolates_failures(workers, scheduler):
    results = dict(execute_jobs(_square, [1, 2, 3, 4], workers, scheduler))
    assert results[1] == 1 and results[2] == 4 and results[4] == 16
    assert isinstance(results[3], ValueError)


def test_grading_on_a_local_dask_cluster(toy_course, tmp_path):
    folder = tmp_path / "class"
    write_demo_submissions(toy_course, toy_course.labs[0], folder)
    options = GradeOptions(workers=2, progress=False, scheduler="local", allow_unsandboxed=unavailable_reason() is not None)
    report = grade_lab(toy_course, toy_course.labs[0], folder, options)
    scores = {r.student: r.auto_score for r in report.results}
    assert scores == {"blank": 0, "corrupt": 0, "partial": 2, "reference": 5}
