"""Every lab in course.toml: releases in sync, nbgrader-valid, and validated end to end.

Parametrised from the course description, so a new lab is tested as soon as it is listed.
"""

from __future__ import annotations

import pytest

from autograder.authoring.build import build
from autograder.course import load_course
from autograder.sandbox.execute import GRADING_ENV
from autograder.authoring.validate import REFERENCE, RELEASE, executed_notebook, validate_labs

from conftest import REPO

COURSE = load_course(REPO)
LAB_IDS = [lab.id for lab in COURSE.labs]


def test_releases_and_colab_links_are_up_to_date():
    differences = build(COURSE, check=True).differences
    assert differences == [], "run `course build` and commit: " + "; ".join(differences)


def test_colab_links_name_every_lab_release():
    text = (REPO / "colab_links.md").read_text(encoding="utf-8")
    for lab in COURSE.labs:
        assert f"/labs/{lab.id}/{lab.notebook})" in text
        assert COURSE.release_notebook(lab).is_file()


def _nbgrader_verdict(executed, invert: bool) -> dict:
    """nbgrader's own validator (what a student's Validate button runs) on a notebook that already ran.

    The notebook was executed once by ``course validate``; nbgrader judges its outputs with its
    own rules (an error, or any stderr in a test cell, fails it) without running it again.
    """
    from nbgrader.preprocessors import CheckCellMetadata
    from nbgrader.validator import Validator

    validator = Validator()
    validator.preprocessors = [CheckCellMetadata]  # no ClearOutput, no Execute: judge what ran
    validator.invert = invert
    return validator.validate(str(executed))


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    """Each lab's ``course validate`` verdict, run once, with its executed notebooks kept."""
    keep = tmp_path_factory.mktemp("validated")
    verdicts: dict[str, object] = {}

    def run(lab_id: str):
        if lab_id not in verdicts:
            with pytest.MonkeyPatch.context() as patch:
                for key, value in GRADING_ENV.items():
                    patch.setenv(key, value)
                (verdicts[lab_id],) = validate_labs(COURSE, [COURSE.lab(lab_id)], progress=False, keep_dir=keep)
        return verdicts[lab_id], keep

    return run


@pytest.mark.slow
@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_course_validate(lab_id, validated):
    verdict, _ = validated(lab_id)
    assert verdict.ok, "\n".join(verdict.problems)
    print(f"{lab_id}: solution ran in {verdict.solution.duration_s:.1f} s, release in {verdict.release.duration_s:.1f} s")


@pytest.mark.slow
@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_nbgrader_validate_agrees(lab_id, validated):
    """nbgrader's validator passes the executed solution and finds nothing passing in the release."""
    verdict, keep = validated(lab_id)
    lab = COURSE.lab(lab_id)
    solution = _nbgrader_verdict(executed_notebook(keep, lab, REFERENCE), invert=False)
    assert set(solution) <= {"passed"}, {k: v for k, v in solution.items() if k != "passed"}
    release = _nbgrader_verdict(executed_notebook(keep, lab, RELEASE), invert=True)
    assert not release.get("passed"), f"release passes tests without answers: {release.get('passed')}"
