"""Every lab in course.toml: releases in sync, nbgrader-valid, and validated end to end.

Parametrised from the course description, so a new lab is tested as soon as it is listed.
"""

from __future__ import annotations

import os

import pytest

from autograder.build import build
from autograder.course import load_course
from autograder.execute import GRADING_ENV
from autograder.validate import validate_labs

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


def _validator(invert: bool):
    from nbgrader.validator import Validator
    from traitlets.config import Config

    config = Config()
    config.Execute.timeout = 300  # per cell; nbgrader's default of 30 s is tight on a busy 2-core machine
    validator = Validator(config=config)
    validator.invert = invert
    return validator


@pytest.fixture
def fast_kernel_env(monkeypatch):
    """Kernels started by nbgrader inherit fast, offline, headless settings."""
    for key, value in GRADING_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(REPO)


@pytest.mark.slow
@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_nbgrader_validate_passes_on_the_source(lab_id, fast_kernel_env):
    lab = COURSE.lab(lab_id)
    os.chdir(COURSE.source_notebook(lab).parent)
    results = _validator(invert=False).validate(str(COURSE.source_notebook(lab)))
    assert set(results) <= {"passed"}, {k: v for k, v in results.items() if k != "passed"}


@pytest.mark.slow
@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_nbgrader_validate_invert_passes_on_the_release(lab_id, fast_kernel_env):
    lab = COURSE.lab(lab_id)
    os.chdir(COURSE.release_notebook(lab).parent)
    results = _validator(invert=True).validate(str(COURSE.release_notebook(lab)))
    assert not results.get("passed"), f"release passes tests without answers: {results.get('passed')}"


@pytest.mark.slow
@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_course_validate(lab_id):
    (verdict,) = validate_labs(COURSE, [COURSE.lab(lab_id)], progress=False)
    assert verdict.ok, "\n".join(verdict.problems)
    print(f"{lab_id}: solution ran in {verdict.solution.duration_s:.1f} s, release in {verdict.release.duration_s:.1f} s")
