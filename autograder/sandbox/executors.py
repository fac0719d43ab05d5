"""Where grading work runs: inline, a local process pool, or a Dask cluster.

All three yield ``(job, result or exception)`` pairs back in the calling process as jobs
finish, so that one process alone writes the gradebook whatever executes the notebooks.
"""

from __future__ import annotations

import multiprocessing
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
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(fn, job): job for job in jobs}
            for future in as_completed(futures):
                try:
                    yield futures[future], future.result()
                except Exception as error:  # a crashed worker costs that job only
                    yield futures[future], error


def _dask(fn: Callable[[J], Any], jobs: list[J], workers: int, scheduler: str) -> Iterator[tuple[J, Any]]:
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError as error:
        raise RuntimeError("grading on a Dask cluster needs `pip install distributed`") from error
    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = client.map(fn, jobs, pure=False)
        owner = {future.key: job for future, job in zip(futures, jobs)}
        for future in dask_completed(futures):
            try:
                yield owner[future.key], future.result()
            except Exception as error:
                yield owner[future.key], error
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
