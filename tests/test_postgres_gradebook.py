"""The gradebook on a real PostgreSQL server that the test starts itself (no skip in CI)."""

from __future__ import annotations

import os

import pytest

from autograder.authoring.demo import write_demo_submissions
from autograder.record.gradebook import load_state, total_score
from autograder.grade import GradeOptions, grade_lab
from autograder.sandbox.sandbox import unavailable_reason

from postgres_server import postgres_bindir, running_postgres

pytestmark = pytest.mark.skipif(
    postgres_bindir() is None and not os.environ.get("CI"), reason="PostgreSQL is not installed here"
)


def test_grading_into_postgresql(toy_course, tmp_path):
    folder = tmp_path / "class"
    write_demo_submissions(toy_course, toy_course.labs[0], folder)
    options = GradeOptions(workers=2, progress=False, allow_unsandboxed=unavailable_reason() is not None)
    with running_postgres() as url:
        report = grade_lab(toy_course, toy_course.labs[0], folder, options, db_url=url)
        scores = {r.student: r.auto_score for r in report.results}
        assert scores["reference"] == 5 and scores["blank"] == 0 and 0 < scores["partial"] < 5
        assert total_score(url, toy_course.id, "lab01_toy", "reference") == (5.0, 6.0)
        assert total_score(url, toy_course.id, "lab01_toy", "corrupt") == (0.0, 6.0)
        assert sorted(load_state(url, toy_course.id, "lab01_toy")) == ["blank", "corrupt", "partial", "reference"]
        again = grade_lab(toy_course, toy_course.labs[0], folder, options, db_url=url)
        assert sorted(again.skipped) == ["blank", "corrupt", "partial", "reference"]
    assert not (toy_course.root / "grading" / "gradebook.db").exists(), "the SQLite default must not be used"
