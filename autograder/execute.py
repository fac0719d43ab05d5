"""Executing a notebook in a fresh kernel with limits on time and output.

Errors in cells never stop execution (every test cell gets its chance); a cell that runs
too long is interrupted; a notebook that runs past its wall-clock budget, or whose kernel
dies, stops there and the cells after it count as not run.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

GRADING_ENV = {
    "COURSE_FAST": "1",  # grading and CI run the fast mode
    "COURSE_OFFLINE": "1",  # never download while grading
    "MPLBACKEND": "Agg",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "TQDM_DISABLE": "1",
}


class _NotebookTimeout(Exception):
    """The whole notebook ran past its wall-clock budget."""


@dataclass(frozen=True)
class Limits:
    """Time and output limits for one notebook run."""

    cell_timeout_s: int = 120
    notebook_timeout_s: int = 900
    startup_timeout_s: int = 120
    threads: int = 1


@dataclass
class ExecutionOutcome:
    """What happened when a notebook ran."""

    notebook: NotebookNode
    completed: bool
    problem: str | None = None
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def kernel_env(limits: Limits, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a grading kernel starts with: this process's, plus grading settings."""
    env = dict(os.environ)
    env.update(GRADING_ENV)
    threads = str(max(1, limits.threads))
    env.update({"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads})
    env.update(extra or {})
    return env


def execute_notebook(
    nb: NotebookNode,
    workdir: Path,
    limits: Limits = Limits(),
    kernel_name: str = "python3",
    env: dict[str, str] | None = None,
) -> ExecutionOutcome:
    """Run ``nb`` (modified in place) in a new kernel whose working directory is ``workdir``."""
    client = NotebookClient(
        nb,
        timeout=limits.cell_timeout_s,
        startup_timeout=limits.startup_timeout_s,
        kernel_name=kernel_name,
        allow_errors=True,
        interrupt_on_timeout=True,
        record_timing=False,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(workdir)}},
    )
    started = time.monotonic()
    problem: str | None = None
    completed = False

    deadline = started + limits.notebook_timeout_s

    async def run() -> None:
        async with client.async_setup_kernel(env=env or kernel_env(limits), cwd=str(workdir)):
            for index, cell in enumerate(nb.cells):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _NotebookTimeout
                try:
                    await asyncio.wait_for(client.async_execute_cell(cell, index), remaining)
                except asyncio.TimeoutError as error:
                    raise _NotebookTimeout from error

    try:
        asyncio.run(run())
        completed = True
    except _NotebookTimeout:
        problem = f"the notebook ran longer than its {limits.notebook_timeout_s} s limit and was stopped"
    except CellTimeoutError:
        problem = f"a cell ran longer than {limits.cell_timeout_s} s and could not be interrupted"
    except DeadKernelError:
        problem = "the kernel died (the code exited Python, crashed, or ran out of memory)"
    except RuntimeError as error:
        problem = f"the kernel could not run the notebook: {error}"
    finally:
        _cleanup(client)
    return ExecutionOutcome(nb, completed, problem, time.monotonic() - started)


def _cleanup(client: NotebookClient) -> None:
    km = getattr(client, "km", None)
    if km is None:
        return
    try:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    except Exception:  # the kernel is already gone: nothing left to clean
        pass
