"""Replicate workers get one BLAS/OpenMP thread; the caller's environment is restored."""

import os

from gutskin.engine.workers import THREAD_ENV, single_thread_env


def test_single_thread_env_sets_and_restores(monkeypatch) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "7")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with single_thread_env():
        assert all(os.environ[k] == "1" for k in THREAD_ENV)
    assert os.environ["OPENBLAS_NUM_THREADS"] == "7"
    assert "OMP_NUM_THREADS" not in os.environ


def test_spawned_worker_sees_one_blas_thread() -> None:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with single_thread_env(), ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        seen = pool.submit(os.getenv, "OPENBLAS_NUM_THREADS").result()
    assert seen == "1"
