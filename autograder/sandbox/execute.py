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

from autograder.judge.hidden import HiddenTest
from autograder.judge.probes import new_nonce, probe_code
from autograder.judge.wire import MalformedRecord, ProbeRecord, records_from_outputs
from autograder.sandbox.sandbox import KERNEL_NAME, Sandbox

GRADING_ENV = {
    "COURSE_FAST": "1",  # grading and CI run the fast mode
    "COURSE_OFFLINE": "1",  # never download while grading
    # The inline backend: plt.show() and a cell's open figures become image/png outputs, kept in
    # the autograded notebook for hand-marking (the sanitiser caps their size).
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "TQDM_DISABLE": "1",
}


class BoundedClient(NotebookClient):
    """A notebook client that keeps at most ``max_output_bytes`` of output per cell and
    ``max_notebook_output_bytes`` for the whole notebook (a probe's record is counted apart)."""

    max_output_bytes = 1 << 20
    max_notebook_output_bytes = 8 << 20
    max_probe_bytes = 384 << 20  # a probe's record: arrays travel as base64 text

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._output_bytes: dict[int | str, int] = {}
        self.probing: str | None = None  # while a probe runs: its grade id (outputs counted apart)
        self.notebook_output_bytes = 0  # kept so far, all cells together (probes apart)
        self.notices: list[str] = []  # what the grader discarded, in words

    def output(self, outs, msg, display_id, cell_index):  # type: ignore[override]
        """Record an output unless the cell already produced more than the limit."""
        key: int | str = cell_index if self.probing is None else f"probe:{self.probing}"
        limit = self.max_output_bytes if self.probing is None else self.max_probe_bytes
        used = self._output_bytes.get(key, 0)
        size = len(json.dumps(msg.get("content", {}), default=str))
        if self.probing is None and self.notebook_output_bytes + size > self.max_notebook_output_bytes:
            if used <= limit:
                notice = f"output beyond {self.max_notebook_output_bytes >> 20} MiB for the whole notebook was discarded by the grader"
                outs.append(nbformat.v4.new_output("stream", name="stderr", text=f"[{notice}]\n"))
                self._output_bytes[key] = limit + 1
                if notice not in self.notices:
                    self.notices.append(notice)
            return None
        if used + size > limit:
            if used <= limit:
                outs.append(
                    nbformat.v4.new_output(
                        "stream", name="stderr", text=f"[output beyond {limit >> 10} KiB discarded by the grader]\n"
                    )
                )
                self._output_bytes[key] = limit + 1
            return None
        self._output_bytes[key] = used + size
        if self.probing is None:
            self.notebook_output_bytes += size
        return super().output(outs, msg, display_id, cell_index)


class _NotebookTimeout(Exception):
    """The whole notebook ran past its wall-clock budget."""


class _CellKilled(Exception):
    """A cell ran past its limit and ignored the interrupt: its kernel was stopped."""


@dataclass(frozen=True)
class Limits:
    """Time and output limits for one notebook run."""

    # Wall-clock limits are generous, so that a correct but slow notebook on a busy machine
    # is not cut off: the load-independent limit is the kernel's CPU time (SandboxLimits.cpu_s).
    # A cell or notebook that ran longer than the *normal* time is flagged for a re-run instead.
    cell_timeout_s: int = 600  # hard limit: interrupted here
    notebook_timeout_s: int = 3600  # hard limit: stopped here
    cell_normal_s: int = 120  # longer than this: flagged (re-run on an idle machine)
    notebook_normal_s: int = 900
    interrupt_grace_s: int = 10  # a cell still running this long after its interrupt is killed with its kernel
    startup_timeout_s: int = 120
    threads: int = 1  # per kernel, whatever the number of workers: results never depend on the machine
    max_output_bytes: int = 1 << 20  # per cell
    max_notebook_output_bytes: int = 8 << 20  # all cells together


@dataclass
class ExecutionOutcome:
    """What happened when a notebook ran."""

    notebook: NotebookNode
    completed: bool
    problem: str | None = None
    duration_s: float = 0.0
    records: dict[str, ProbeRecord | str] = field(default_factory=dict)  # grade id -> probe data, or why there is none
    notices: list[str] = field(default_factory=list)  # limits the submission ran into, for the student and a human


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
    probes: dict[int, HiddenTest] | None = None,
    seed: int = 0,
) -> ExecutionOutcome:
    """Run ``nb`` (modified in place) in a new kernel whose working directory is ``workdir``.

    With a ``sandbox`` the kernel runs inside it (its environment comes from the sandbox).
    A test cell listed in ``probes`` (index -> hidden test) runs as students see it (visible
    checks only); then its probe runs at ``seed`` in an execution of its own, and the outcome
    holds what the probe sent back (:mod:`autograder.judge`), never judged here.
    """
    probes = probes or {}
    records: dict[str, ProbeRecord | str] = {}
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
    client.max_notebook_output_bytes = limits.max_notebook_output_bytes
    started = time.monotonic()
    problem: str | None = None
    completed = False

    deadline = started + limits.notebook_timeout_s
    timed_out: list[int] = []
    slow: list[tuple[int, float]] = []  # (cell index, seconds) beyond the normal cell time

    async def run() -> None:
        async with client.async_setup_kernel(env=env or kernel_env(limits), cwd=str(workdir)):
            for index, cell in enumerate(nb.cells):
                original = cell.source
                if index in probes:
                    cell.source = probes[index].visible
                try:
                    await _run_cell(cell, index)
                finally:
                    cell.source = original
                if index in probes:
                    await _run_probe(probes[index], cell, index)

    async def _run_cell(cell: NotebookNode, index: int) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _NotebookTimeout
        # nbclient interrupts the cell at cell_timeout_s; one that ignores the interrupt
        # (SIGINT ignored or swallowed) is killed with its kernel interrupt_grace_s later.
        budget = min(remaining, limits.cell_timeout_s + limits.interrupt_grace_s)
        began = time.monotonic()
        try:
            await asyncio.wait_for(client.async_execute_cell(cell, index), budget)
        except (asyncio.TimeoutError, DeadKernelError) as error:
            if time.monotonic() - began < budget:
                raise  # the kernel died by itself
            # nbclient reports a cancelled cell as a dead kernel: the cause was our time limit
            if budget < remaining:
                raise _CellKilled from error
            timed_out.append(index)
            raise _NotebookTimeout from error
        finally:
            if time.monotonic() - began > limits.cell_normal_s:
                slow.append((index, time.monotonic() - began))

    async def _run_probe(test: HiddenTest, test_cell: NotebookNode, index: int) -> None:
        nonce = new_nonce()
        probe_cell = nbformat.v4.new_code_cell(probe_code(test, seed, nonce))
        client.probing = test.grade_id
        try:
            await _run_cell(probe_cell, index)
        finally:
            client.probing = None
            nb.cells[index] = test_cell  # nbclient stored the probe cell in the test cell's place
        try:
            records[test.grade_id], stray = records_from_outputs(probe_cell.outputs, nonce)
            if stray:
                client.notices.append(f"{test.grade_id}: {stray} probe records not sent by the probe were ignored (forged or replayed data)")
        except MalformedRecord as error:
            records[test.grade_id] = f"the test's data was malformed or missing ({error})"

    try:
        _run_keeping_signals(run())
        completed = True
    except _NotebookTimeout:
        pass
    except _CellKilled:
        problem = (
            f"a cell ran past its {limits.cell_timeout_s} s limit and ignored the interrupt: the kernel was stopped "
            "there and the cells after it did not run"
        )
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
    for test in probes.values():
        records.setdefault(test.grade_id, f"did not run: {problem or 'the notebook stopped before this test'}")
    duration = time.monotonic() - started
    notices = client.notices + resource_notices(nb)
    for index, seconds in slow:
        notices.append(
            f"cell {index + 1} ran {seconds:.0f} s, longer than the normal {limits.cell_normal_s} s: "
            "if the machine was busy, re-grade this submission on an idle machine"
        )
    if duration > limits.notebook_normal_s:
        notices.append(
            f"the notebook ran {duration:.0f} s, longer than the normal {limits.notebook_normal_s} s: "
            "if the machine was busy, re-grade this submission on an idle machine"
        )
    return ExecutionOutcome(nb, completed, problem, duration, records=records, notices=notices)


DISK_FULL = ("No space left on device", "File too large", "Disk quota exceeded", "database or disk is full")


def resource_notices(nb: NotebookNode) -> list[str]:
    """Limits on disk space the executed notebook ran into, said once."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text = " ".join(str(output.get(k, "")) for k in ("text", "evalue", "ename"))
            if any(marker in text for marker in DISK_FULL):
                return [
                    "a write failed: the sandbox's working directory and /tmp are size-capped tmpfs "
                    "(and each file is size-capped); keep files small or write fewer"
                ]
    return []


class _KeepSignalsLoop(asyncio.SelectorEventLoop):
    """An event loop on which nbclient cannot install its SIGINT/SIGTERM handlers.

    nbclient's handlers shut the kernel down and carry on (the student would get a zero for a
    dead kernel, and the grader would not stop), and leave SIGTERM at its default afterwards.
    The caller's handlers decide instead: ``course grade`` stops cleanly (executors.py)."""

    def add_signal_handler(self, sig, callback, *args):  # type: ignore[override]
        raise RuntimeError("the grader keeps its own signal handlers")  # nbclient skips its own


def _run_keeping_signals(coroutine) -> None:
    if hasattr(asyncio, "Runner"):  # Python 3.11+
        with asyncio.Runner(loop_factory=_KeepSignalsLoop) as runner:
            runner.run(coroutine)
        return
    loop = _KeepSignalsLoop()
    try:
        loop.run_until_complete(coroutine)
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _cleanup(client: NotebookClient) -> None:
    km = getattr(client, "km", None)
    if km is None:
        return
    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # the kernel is already gone: nothing left to clean
        pass
