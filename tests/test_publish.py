"""``course publish``: the student-facing repository holds labs, helpers and docs, never a secret."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

from autograder.authoring.build import build
from autograder.cli import main
from autograder.course import load_course
from autograder.authoring.leaks import course_secrets, normalise, readable_text, secret_lines
from autograder.authoring.publish import MANAGED, PublishError, check_colab, publish

REPO = Path(__file__).resolve().parents[1]
COLAB = re.compile(r"https://colab\.research\.google\.com/github/([^/]+/[^/]+)/blob/([^/]+)/([^)\s]+)")


def _with_package(root: Path) -> Path:
    """Give a course the repository's pyproject.toml and course_utils (what publish packages)."""
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(REPO / "course_utils", root / "course_utils", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return root


def _assert_no_secrets(course, tree: Path, lines_too: bool) -> None:
    """Every hidden-test block and solution region of every lab in course.toml is absent from ``tree``."""
    secrets = course_secrets(course)
    assert {s.kind for s in secrets} >= {"solution", "hidden test"}
    lines = secret_lines(secrets, min_chars=8) if lines_too else []
    files = [p for p in tree.rglob("*") if p.is_file() and ".git" not in p.parts]
    assert files
    for path in files:
        text = readable_text(path)
        if text is None:
            continue
        flat = normalise(text)
        for secret in secrets:
            if len(secret.normalised) >= 10:
                assert secret.normalised not in flat, f"{path.relative_to(tree)} holds {secret.kind} text from {secret.where}"
        for line in lines:
            assert line not in flat, f"{path.relative_to(tree)} holds the secret line {line!r}"
        for marker in ("BEGIN HIDDEN TESTS", "BEGIN SOLUTION", "BEGIN MARK SCHEME"):
            assert marker not in text, f"{path.relative_to(tree)} holds {marker}"


def test_publish_writes_only_the_student_tree(toy_course, tmp_path, capsys):
    _with_package(toy_course.root)
    target = tmp_path / "public"
    (target / ".git").mkdir(parents=True)
    (target / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (target / "NOTES.md").write_text("kept")
    (target / "labs" / "lab99_gone").mkdir(parents=True)
    assert main(["--root", str(toy_course.root), "publish", str(target)]) == 0
    assert "published" in capsys.readouterr().out
    assert sorted(p.name for p in target.iterdir()) == sorted([*MANAGED, ".git", "NOTES.md"])
    assert not (target / "labs" / "lab99_gone").exists()
    assert (target / ".git" / "HEAD").is_file() and (target / "NOTES.md").read_text() == "kept"
    for private in ("solutions", "autograder", "grading", "tests", "nbgrader_config.py", "course.toml"):
        assert not list(target.rglob(private)), private
    assert sorted(p.relative_to(target).as_posix() for p in (target / "labs").rglob("*") if p.is_file()) == [
        "labs/lab01_toy/lab01_toy.ipynb",
        "labs/lab01_toy/numbers.txt",
    ]
    _assert_no_secrets(toy_course, target, lines_too=True)

    # The package: same name and core dependencies as the course's pyproject, course_utils only.
    root_project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    project = tomllib.loads((target / "pyproject.toml").read_text())
    assert project["project"]["name"] == root_project["name"] == "deep-learning-labs"
    assert project["project"]["dependencies"] == root_project["dependencies"]
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["course_utils*"]
    assert "Colab" in (target / "README.md").read_text() and "jupyter lab labs/" in (target / "README.md").read_text()
    assert "MIT License" in (target / "LICENSE").read_text()


def test_colab_links_and_install_lines_point_into_the_published_tree(toy_course, tmp_path):
    _with_package(toy_course.root)
    target = tmp_path / "public"
    report = publish(toy_course, target)
    links = COLAB.findall((target / "colab_links.md").read_text())
    assert len(links) == len(toy_course.labs)
    for repo, ref, path in links:
        assert (repo, ref) == (toy_course.public_repo, toy_course.public_ref) == ("someone/toy", "v1")
        assert path.startswith("labs/") and (target / path).is_file(), path
    for lab in toy_course.labs:
        cells = json.loads((target / "labs" / lab.id / lab.notebook).read_text())["cells"]
        setup = "".join(next(c for c in cells if c.get("id") == "colab-setup")["source"])
        assert f'"{report.package} @ git+https://github.com/someone/toy@v1"' in setup
    assert check_colab(target, toy_course, report.package) == []
    (target / "labs" / "lab01_toy" / "lab01_toy.ipynb").unlink()
    assert any("lacks" in p for p in check_colab(target, toy_course, report.package))


def test_the_published_pyproject_builds_a_wheel_of_course_utils_only(toy_course, tmp_path):
    _with_package(toy_course.root)
    target = tmp_path / "public"
    publish(toy_course, target)
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(dist), str(target)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = dist.glob("*.whl")
    assert wheel.name.startswith("deep_learning_labs-")
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    assert tops == {"course_utils", wheel.name.split("-py3")[0] + ".dist-info"}


def test_publish_refuses_leaks_stale_releases_and_unsafe_targets(toy_course, tmp_path):
    root = _with_package(toy_course.root)
    hidden = next(s for s in course_secrets(toy_course) if s.kind == "hidden test")
    (root / "course_utils" / "oops.py").write_text('"""Copied by mistake."""\n' + hidden.text)
    target = tmp_path / "public"
    with pytest.raises(PublishError, match="hidden test"):
        publish(toy_course, target)
    assert not target.exists()
    (root / "course_utils" / "oops.py").unlink()

    release = toy_course.release_notebook(toy_course.labs[0])
    release.write_text(release.read_text().replace("Toy", "Changed by hand"))
    with pytest.raises(PublishError, match="out of date"):
        publish(toy_course, target)
    for bad in (root, root.parent, root / "solutions" / "x", root / "labs"):
        with pytest.raises(PublishError):
            publish(toy_course, bad)
    assert main(["--root", str(root), "publish", str(root)]) == 2


def test_publishing_the_real_course_leaks_nothing(tmp_path):
    """Every lab of the repository's course.toml, built and published into a scratch copy."""
    real = load_course(REPO)
    copy = tmp_path / "course"
    copy.mkdir()
    shutil.copy(REPO / "course.toml", copy / "course.toml")
    for lab in real.labs:
        shutil.copytree(real.source_notebook(lab).parent, copy / "solutions" / lab.id, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    course = load_course(_with_package(copy))
    build(course)
    target = tmp_path / "public"
    publish(course, target)
    _assert_no_secrets(course, target, lines_too=False)
    links = COLAB.findall((target / "colab_links.md").read_text())
    assert len(links) == len(course.labs) and all((target / path).is_file() for _, _, path in links)


def test_the_repository_colab_links_point_into_labs():
    links_file = REPO / "colab_links.md"
    if not links_file.is_file():
        pytest.skip("colab_links.md is not built yet (course build)")
    course = load_course(REPO)
    links = COLAB.findall(links_file.read_text(encoding="utf-8"))
    assert len(links) == len(course.labs)
    for repo, ref, path in links:
        assert (repo, ref) == (course.public_repo, course.public_ref)
        assert path.startswith("labs/") and (REPO / path).is_file(), f"{path} is not in labs/: run course build"
