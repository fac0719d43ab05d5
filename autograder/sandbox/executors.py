"""Where grading work runs: inline, a local process pool, or a Dask cluster.

All three yield ``(job, result or exception)`` pairs back in the calling process as jobs
finish, so that one process alone writes the gradebook whatever executes the notebooks.

Stopping: when the calling process is interrupted (SIGINT, or SIGTERM turned into an
exception by the ``course`` command), the local pool's workers are sent SIGTERM, which
unwinds the job each is running (its kernel is shut down, its files removed) and ends them;
any still alive after a grace period are killed. Workers ignore SIGINT themselves (Ctrl-C
reaches the whole process group; the calling process decides).
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

J = TypeVar("J")


def execute_jobs(fn: Callable[[J], Any], jobs: list[J], workers: int, scheduler: str | None = None) -> Iterator[tuple[J, Any]]:
    """Run ``fn`` on every job and yield ``(job, result)``; a raised exception is yielded as the result."""
    if not jobs:
        return
    if scheduler:
        yield from _dask(fn, jobs, workers, scheduler)
    elif workers <= 1:
        for job in jobs:
            try:
                yield job, fn(job)
            except Exception as error:  # a grader bug costs that job only
                yield job, error
    else:
        context = multiprocessing.get_context("spawn")  # no inherited threads or sockets
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init)
        try:
            futures = {pool.submit(_in_worker, fn, job): job for job in jobs}
            for future in as_completed(futures):
                try:
                    yield futures[future], future.result()
                except Exception as error:  # a crashed worker costs that job only
                    yield futures[future], error
        except BaseException:
            stop_pool(pool)
            raise
        pool.shutdown(wait=True)


_BUSY = False  # in a worker: running a job
_STOPPING = False  # in a worker: SIGTERM received


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum, frame) -> None:
    global _STOPPING
    _STOPPING = True
    if _BUSY:
        raise SystemExit(128 + signum)  # unwinds the job: its kernel is shut down, its files removed
    _exit_now(128 + signum)


def _exit_now(code: int) -> None:
    """Leave the worker at once, after its exit handlers (they remove its sandbox directory)."""
    try:
        atexit._run_exitfuncs()
    finally:
        os._exit(code)


def _in_worker(fn: Callable[[J], Any], job: J) -> Any:
    global _BUSY
    _BUSY = True
    try:
        return fn(job)
    finally:
        _BUSY = False
        if _STOPPING:
            _exit_now(143)


def stop_pool(pool: ProcessPoolExecutor, grace_s: float = 20.0) -> None:
    """End a pool's workers now: SIGTERM (each cleans up its job), then SIGKILL after ``grace_s``."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + grace_s
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(5)


def _dask(fn: Callable[[J], Any], jobs: list[J], workers: int, scheduler: str) -> Iterator[tuple[J, Any]]:
    try:
        import dask
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError as error:
        raise RuntimeError("grading on a Dask cluster needs `pip install distributed`") from error
    with contextlib.ExitStack() as stack:
        if scheduler == "local":
            # Dask's spill space and locks in a folder of our own, removed afterwards (its
            # default, <tmp>/dask-scratch-space, outlives the cluster).
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="course-dask-"))
            stack.enter_context(dask.config.set({"temporary-directory": scratch}))
            cluster = stack.enter_context(
                LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True, dashboard_address=None)
            )
            client = stack.enter_context(Client(cluster))
        else:
            client = stack.enter_context(Client(scheduler))
        futures = client.map(fn, jobs, pure=False)
        owner = {future.key: job for future, job in zip(futures, jobs)}
        for future in dask_completed(futures):
            try:
                yield owner[future.key], future.result()
            except Exception as error:
                yield owner[future.key], error
