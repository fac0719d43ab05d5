"""The two run modes: ``full`` for students, ``fast`` for CI and grading.

Fast mode is switched on by the environment variable ``COURSE_FAST`` (``1``, ``true``
or ``yes``). Notebooks never test the mode themselves: they ask :func:`budget` for an
epoch count or a subset size, and the answer depends on the mode.
"""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")

FAST_ENV_VAR = "COURSE_FAST"
_TRUE_WORDS = {"1", "true", "yes", "on"}


def is_fast() -> bool:
    """Return True when the course runs in fast mode (``COURSE_FAST`` is set truthy)."""
    return os.environ.get(FAST_ENV_VAR, "").strip().lower() in _TRUE_WORDS


def mode() -> str:
    """Return the current mode's name: ``"fast"`` or ``"full"``."""
    return "fast" if is_fast() else "full"


def budget(full: T, fast: T) -> T:
    """Return ``fast`` in fast mode and ``full`` otherwise (epochs, subset sizes, widths...)."""
    return fast if is_fast() else full
