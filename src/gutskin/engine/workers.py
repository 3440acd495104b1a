"""Worker processes for replicate jobs (power, validation): one thread each.

Each worker runs whole replicates, so every library inside it should use one
thread: numba's threads (set in :func:`init_worker`) and the BLAS/OpenMP pools of
numpy and scipy.  The BLAS pool is sized when numpy is first imported, before any
initializer runs, so :func:`single_thread_env` puts the limits in the environment the
spawned workers inherit.  Without them two workers on a 2-core machine start four
BLAS threads that spin against each other on the many small matrices of the trial
statistics (measured: 0.35 -> 1.25 power replicates/s, benchmarks/README.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

__all__ = ["THREAD_ENV", "init_worker", "replicate_pool", "single_thread_env"]

#: Environment variables that size the thread pools of BLAS and OpenMP libraries.
THREAD_ENV: tuple[str, ...] = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


@contextmanager
def single_thread_env() -> Iterator[None]:
    """Set every :data:`THREAD_ENV` variable to 1 while worker processes are spawned.

    The calling process keeps its own pools (already sized); its environment is
    restored on exit.
    """
    saved = {k: os.environ.get(k) for k in THREAD_ENV}
    os.environ.update({k: "1" for k in THREAD_ENV})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def init_worker() -> None:
    """Initializer of a replicate worker: numba on one thread."""
    import numba

    numba.set_num_threads(1)


@contextmanager
def replicate_pool(n_workers: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``n_workers`` spawned replicate workers, one thread each.

    Spawned (not forked: numba's threading layer and open files are not fork-safe), with
    :func:`single_thread_env` in force while they start and :func:`init_worker` as the
    initializer.
    """
    import multiprocessing as mp

    # workers are spawned at the first submit: the limits stay set until the pool is done
    with single_thread_env():
        pool = ProcessPoolExecutor(
            n_workers, mp_context=mp.get_context("spawn"), initializer=init_worker
        )
        try:
            yield pool
        except BaseException:
            # interrupted or failed: the workers end now, with their parent, instead of
            # finishing the replicates still queued
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
