"""Readying a lab's datasets in the data cache before any of its notebooks run.

Sandboxed kernels see the cache read-only and have no network, so a dataset a notebook
would download, unpack or convert on first use must already be there. ``course.toml`` lists
each lab's datasets (``data = ["mnist"]``); this module readies them, in the grader's own
process, with the same cache the kernels are given. Failing here stops grading before any
submission runs: a missing dataset would otherwise cost every student their marks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from autograder.course import Lab


class DataNotReady(RuntimeError):
    """A dataset a lab needs could not be readied; the message says which and how to fix it."""


@dataclass(frozen=True)
class Readied:
    """One dataset readied for a lab, and how long that took."""

    lab: str
    name: str
    seconds: float


def prepare_lab_data(labs: Iterable[Lab], report: Callable[[Readied], None] | None = None) -> list[Readied]:
    """Ready every dataset the ``labs`` list (each once); raise :class:`DataNotReady` on failure."""
    from course_utils.data.cache import DataUnavailable
    from course_utils.data.registry import prepare

    done: list[Readied] = []
    seen: set[str] = set()
    for lab in labs:
        for name in lab.data:
            if name in seen:
                continue
            seen.add(name)
            start = time.monotonic()
            try:
                prepare(name)
            except (DataUnavailable, OSError, KeyError, ImportError, ValueError) as error:
                raise DataNotReady(
                    f"{lab.id} needs the dataset {name!r}, which could not be readied: {error}"
                ) from error
            item = Readied(lab.id, name, time.monotonic() - start)
            done.append(item)
            if report is not None:
                report(item)
    return done
