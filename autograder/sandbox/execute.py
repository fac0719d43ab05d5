"""Executing a notebook in a fresh kernel with limits on time and output.

Errors in cells never stop execution (every test cell gets its chance); a cell that runs
too long is interrupted; a notebook that runs past its wall-clock budget, or whose kernel
dies, stops there and the cells after it count as not run.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from autograder.judge.harness import ProofSession, imported_modules
from autograder.sandbox.sandbox import KERNEL_NAME, Sandbox

GRADING_ENV = {
    "COURSE_FAST": "1",  # grading and CI run the fast mode
    "COURSE_OFFLINE": "1",  # never download while grading
    "MPLBACKEND": "Agg",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "TQDM_DISABLE": "1",
}


class BoundedClient(NotebookClient):
    """A notebook client that keeps at most ``max_output_bytes`` of output per cell."""

    max_output_bytes = 1 << 20

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._output_bytes: dict[int, int] = {}

    def output(self, outs, msg, display_id, cell_index):  # type: ignore[override]
        """Record an output unless the cell already produced more than the limit."""
        used = self._output_bytes.get(cell_index, 0)
        size = len(json.dumps(msg.get("content", {}), default=str))
        if used + size > self.max_output_bytes:
            if used <= self.max_output_bytes:
                outs.append(
                    nbformat.v4.new_output(
                        "stream", name="stderr", text=f"[output beyond {self.max_output_bytes >> 10} KiB discarded by the grader]\n"
                    )
                )
                self._output_bytes[cell_index] = self.max_output_bytes + 1
            return None
        self._output_bytes[cell_index] = used + size
        return super().output(outs, msg, display_id, cell_index)


class _NotebookTimeout(Exception):
    """The whole notebook ran past its wall-clock budget."""


@dataclass(frozen=True)
class Limits:
    """Time and output limits for one notebook run."""

    cell_timeout_s: int = 120
    notebook_timeout_s: int = 900
    startup_timeout_s: int = 120
    threads: int = 1
    max_output_bytes: int = 1 << 20  # per cell


@dataclass
class ExecutionOutcome:
    """What happened when a notebook ran."""

    notebook: NotebookNode
    completed: bool
    problem: str | None = None
    duration_s: float = 0.0
    proven: set[str] = field(default_factory=set)  # test cells that proved they ran to the end
    restored: set[str] = field(default_factory=set)  # helpers a submission had replaced


def grading_env(limits: Limits) -> dict[str, str]:
    """Grading settings every kernel gets: fast, offline, headless, and its share of the threads."""
    threads = str(max(1, limits.threads))
    return {**GRADING_ENV, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}


def kernel_env(limits: Limits) -> dict[str, str]:
    """The environment of an unsandboxed grading kernel: this process's plus the grading settings."""
    return {**os.environ, **grading_env(limits)}


def _sandbox_kernel_manager(sandbox: Sandbox, workdir: Path) -> tuple[AsyncKernelManager, dict]:
    connection_file, config = sandbox.prepare(workdir)
    km = AsyncKernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=sandbox.kernel_dirs),
        transport="ipc",
        ip=str(connection_file.parent / "kernel"),
        connection_file=str(connection_file),
    )
    return km, config


def execute_notebook(
    nb: NotebookNode,
    workdir: Path,
    limits: Limits = Limits(),
    kernel_name: str = "python3",
    env: dict[str, str] | None = None,
    sandbox: Sandbox | None = None,
    proof_cells: dict[int, str] | None = None,
) -> ExecutionOutcome:
    """Run ``nb`` (modified in place) in a new kernel whose working directory is ``workdir``.

    With a ``sandbox`` the kernel runs inside it (its environment comes from the sandbox).
    Cells listed in ``proof_cells`` (index -> grade id) run through the proof harness
    (:mod:`autograder.judge.harness`); the outcome says which of them proved they completed.
    """
    proof_cells = proof_cells or {}
    session = ProofSession(imports=imported_modules(nb))
    private_dir: Path | None = None
    if sandbox is not None:
        km, sandbox_config = _sandbox_kernel_manager(sandbox, workdir)
    else:
        # Unix sockets in a private directory: no TCP port races between parallel kernels.
        private_dir = Path(tempfile.mkdtemp(prefix="course-kernel-"))
        km, sandbox_config = AsyncKernelManager(kernel_name=kernel_name, transport="ipc", ip=str(private_dir / "kernel")), None
    client = BoundedClient(
        nb,
        km=km,
        timeout=limits.cell_timeout_s,
        startup_timeout=limits.startup_timeout_s,
        kernel_name=kernel_name,
        allow_errors=True,
        interrupt_on_timeout=True,
        record_timing=True,  # cell timestamps: lets benchmarks separate overhead from work
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(workdir)}},
    )
    client.max_output_bytes = limits.max_output_bytes
    started = time.monotonic()
    problem: str | None = None
    completed = False

    deadline = started + limits.notebook_timeout_s
    timed_out: list[int] = []

    async def run() -> None:
        async with client.async_setup_kernel(env=env or kernel_env(limits), cwd=str(workdir)):
            if proof_cells:
                msg_id = client.kc.execute(session.prelude(), silent=True, store_history=False)
                reply = await client.async_wait_for_reply(msg_id)
                if reply is None or reply["content"].get("status") != "ok":
                    raise RuntimeError("the grading prelude failed to run")
            for index, cell in enumerate(nb.cells):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _NotebookTimeout
                original = cell.source
                if index in proof_cells:
                    cell.source = session.wrap(proof_cells[index], original)
                try:
                    await asyncio.wait_for(client.async_execute_cell(cell, index), remaining)
                except asyncio.TimeoutError as error:
                    timed_out.append(index)
                    raise _NotebookTimeout from error
                finally:
                    cell.source = original
                    if index in proof_cells:
                        session.collect(cell, proof_cells[index])

    try:
        asyncio.run(run())
        completed = True
    except _NotebookTimeout:
        pass
    except CellTimeoutError:
        problem = f"a cell ran longer than {limits.cell_timeout_s} s and could not be interrupted"
    except DeadKernelError:
        problem = "the kernel died (the code exited Python, crashed, or ran out of memory)"
    except RuntimeError as error:
        problem = f"the kernel could not run the notebook: {error}"
    finally:
        _cleanup(client)
        if sandbox is not None and sandbox_config is not None:
            sandbox.cleanup_kernel(sandbox_config)
        if private_dir is not None:
            shutil.rmtree(private_dir, ignore_errors=True)
    if timed_out or (not completed and time.monotonic() >= deadline):
        # Whatever the kernel reported while being stopped, the cause was the time limit.
        completed = False
        problem = f"the notebook ran longer than its {limits.notebook_timeout_s} s limit and was stopped"
    return ExecutionOutcome(nb, completed, problem, time.monotonic() - started, proven=session.proven, restored=session.restored)


def _cleanup(client: NotebookClient) -> None:
    km = getattr(client, "km", None)
    if km is None:
        return
    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # the kernel is already gone: nothing left to clean
        pass
