"""Helpers for the workflow tests: a gradebook made once per test session, copied where needed.

nbgrader's Gradebook runs the ``alembic`` command when it creates a database (seconds on a
busy 2-core machine), so the tests create one empty gradebook and copy the file.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from autograder.record.gradebook import open_gradebook


@functools.lru_cache(maxsize=1)
def _template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="gradebook-template-"))
    atexit.register(shutil.rmtree, folder, True)  # nothing left in /tmp after the session
    path = folder / "gradebook.db"
    with open_gradebook(f"sqlite:///{path}", "template"):
        pass
    return path


def fresh_gradebook(course_root: Path) -> str:
    """Put an empty gradebook at ``<course_root>/grading/gradebook.db``; return its URL."""
    target = Path(course_root) / "grading" / "gradebook.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(_template(), target)
    return f"sqlite:///{target}"
