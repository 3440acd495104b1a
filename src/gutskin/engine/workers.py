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
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

__all__ = [
    "DASK_CONNECT_TIMEOUT",
    "SCHEDULERS",
    "THREAD_ENV",
    "check_dask_address",
    "dask_client",
    "init_worker",
    "replicate_executor",
    "replicate_pool",
    "single_thread_env",
]

#: Where replicate jobs run: worker processes on this machine, or a Dask cluster.
SCHEDULERS = ("inprocess", "dask")
#: Seconds to wait for a Dask scheduler given by an address.
DASK_CONNECT_TIMEOUT = 10

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


def check_dask_address(address: str) -> None:
    """Refuse an unreachable Dask scheduler before anything is written (``ValueError``).

    The check is a TCP connection to ``host:port`` (``tcp://`` addresses; other
    protocols are left to Dask), so a wrong address is one error line in a few seconds.
    """
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme not in ("tcp", ""):
        return
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ValueError(f"--address {address!r}: expected tcp://HOST:PORT")
    try:
        with socket.create_connection((parts.hostname, port), timeout=DASK_CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        raise ValueError(
            f"cannot reach the Dask scheduler at {address} ({exc.strerror or exc}); "
            "check --address, or run without it for a local cluster"
        ) from None


@contextmanager
def replicate_executor(
    n_workers: int, *, scheduler: str = "inprocess", address: str | None = None
) -> Iterator[Executor]:
    """A ``concurrent.futures`` executor for replicate jobs.

    ``scheduler="inprocess"``: :func:`replicate_pool` (``n_workers`` spawned processes).
    ``scheduler="dask"``: a Dask cluster, the one at ``address`` or a local one of
    ``n_workers`` single-threaded worker processes, through
    :meth:`distributed.Client.get_executor`; every worker runs :func:`init_worker`.
    Callers collect results in submission order, so they do not depend on the scheduler
    or the number of workers.
    """
    if scheduler not in SCHEDULERS:
        raise ValueError(f"scheduler must be one of {', '.join(SCHEDULERS)}, got {scheduler!r}")
    if scheduler == "inprocess":
        with replicate_pool(n_workers) as pool:
            yield pool
        return
    if address:
        check_dask_address(address)
    with dask_client(n_workers, address) as client:
        client.run(init_worker)
        with client.get_executor(pure=False) as ex:
            yield ex


@contextmanager
def dask_client(n_workers: int | None, address: str | None) -> Iterator[Any]:
    """A ``distributed.Client``: of the cluster at ``address``, or of a local one.

    The local cluster has ``n_workers`` (at least 1) single-threaded worker processes,
    spawned with :func:`single_thread_env` in force.  Client and local cluster are closed
    on exit.  Raises ``ValueError`` (one line) when the scheduler cannot be reached.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - dask is a pinned dependency
        raise ValueError("scheduler 'dask' needs the packages dask and distributed") from None
    cluster = None
    if address:
        try:
            client = Client(address, timeout=DASK_CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise ValueError(
                f"cannot reach the Dask scheduler at {address} ({type(exc).__name__}); "
                "check --address, or run without it for a local cluster"
            ) from None
    else:
        with single_thread_env():
            cluster = LocalCluster(
                n_workers=max(1, n_workers or 1),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
        client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
