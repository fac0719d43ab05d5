"""Shared fixtures: a toy course for fast autograder tests, and the real course."""

from __future__ import annotations

import atexit
import getpass
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# Nothing left in /tmp after a run: torch creates its compiler cache folder (/tmp/torchinductor_<user>)
# on import, so point it at a folder of this run's own, removed at exit, before anything imports torch.
_TORCH_CACHE = tempfile.mkdtemp(prefix="course-tests-torch-")
os.environ["TORCHINDUCTOR_CACHE_DIR"] = _TORCH_CACHE
atexit.register(shutil.rmtree, _TORCH_CACHE, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """After pytest has removed this run's temporary folders, remove their parent too if it is empty."""
    parent = Path(tempfile.gettempdir()) / f"pytest-of-{getpass.getuser()}"

    def remove_if_empty() -> None:
        try:
            parent.rmdir()  # only succeeds when empty: another run's folders are left alone
        except OSError:
            pass

    atexit.register(remove_if_empty)

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
