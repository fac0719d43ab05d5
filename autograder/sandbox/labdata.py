"""Readying a lab's datasets in the data cache before any of its notebooks run.

Sandboxed kernels see the cache read-only and have no network, so a dataset a notebook
would download, unpack or convert on first use must already be there. ``course.toml`` lists
each lab's datasets (``data = ["mnist"]``); this module readies them, in the grader's own
process, with the same cache the kernels are given. Failing here stops grading before any
submission runs: a missing dataset would otherwise cost every student their marks.
"""

from __future__ import annotations

import os
import stat
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
            _readable_by_kernels()
            done.append(item)
            if report is not None:
                report(item)
    return done


def _readable_by_kernels() -> None:
    """Let every user read the data cache: sandboxed kernels run as an unprivileged user, and
    files the grader wrote through private temporary files (mode 0600) would stay unreadable.
    The cache holds public datasets only."""
    from course_utils.data.cache import cache_dir

    for folder, _, files in os.walk(cache_dir()):
        for path in [folder, *(os.path.join(folder, f) for f in files)]:
            try:
                mode = os.lstat(path).st_mode
                if stat.S_ISLNK(mode):
                    continue
                wanted = mode | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
                if stat.S_ISDIR(mode):
                    wanted |= stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
                if wanted != mode:
                    os.chmod(path, stat.S_IMODE(wanted))
            except OSError:
                pass  # not ours to change: the kernel reports it if it needs the file
