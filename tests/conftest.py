"""Shared fixtures: a toy course for fast autograder tests, and the real course."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from toy_course import make_course  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def toy_root(tmp_path: Path) -> Path:
    """A fresh toy course directory (course.toml, one lab source)."""
    return make_course(tmp_path / "toy")


@pytest.fixture
def toy_course(toy_root: Path):
    """The toy course, loaded and built."""
    from autograder.authoring.build import build
    from autograder.course import load_course

    course = load_course(toy_root)
    build(course)
    return course


@pytest.fixture(autouse=True)
def _isolated_data(tmp_path_factory, monkeypatch):
    """Never touch the user's cache or the network from tests."""
    monkeypatch.setenv("COURSE_DATA", str(tmp_path_factory.mktemp("course-data")))
    monkeypatch.setenv("COURSE_OFFLINE", "1")


@pytest.fixture(scope="module")
def torch_one_thread():
    """Tiny tensors run faster on one thread, and a shared CI machine stays fair."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
