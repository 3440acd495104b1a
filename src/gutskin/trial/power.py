"""Power by simulation: replicate trials over a grid of sample sizes.

Each replicate is one trial at the largest sample size of the grid; the trial of size
``n`` is its first ``n`` randomized patients, exactly as a real trial that stopped
enrolling earlier. Sizes are therefore compared on common random numbers (a smooth power
curve). Replicate ``r`` uses seed :func:`replicate_seed` ``(seed, r)``.

Where the patients come from (``pool``):

- by default, a virtual population simulated once (:mod:`gutskin.trial.pool`). Every
  replicate screens and randomizes its own patients from it, with its own screening,
  allocation, observation noise and dropout. This is many times faster, because no
  patient is burned in twice;
- with ``pool="fresh"``, new patients in every replicate: the exact method, each
  replicate a full :func:`~gutskin.trial.run.run_trial`.

By default only the design's primary comparison is analysed (``analyses="all"``: every
planned comparison).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import pandas as pd

from gutskin.engine.options import SolverOptions
from gutskin.engine.random import derived_seed
from gutskin.engine.workers import replicate_executor
from gutskin.population.pipeline import Personalisation
from gutskin.trial.design import Comparison, Design, DesignError
from gutskin.trial.result import TrialResult
from gutskin.trial.run import run_trial

__all__ = ["ANALYSES", "check_grid", "power_curve", "replicate_seed", "smallest_n"]

#: What a power run analyses: the primary comparison or every planned one.
ANALYSES: tuple[str, ...] = ("primary", "all")


def replicate_seed(seed: int, replicate: int) -> int:
    """Seed of replicate trial ``replicate`` of a power run with ``seed``."""
    return derived_seed(seed, "power_replicate", replicate)


def _subset(result: TrialResult, n: int) -> TrialResult:
    pts = result.patients.iloc[:n]
    keep = set(pts["patient"].tolist())
    ep = result.endpoints[result.endpoints["patient"].isin(keep)].reset_index(drop=True)
    design = result.design.model_copy(update={"sample_size": n})
    return TrialResult(
        design=design,
        seed=result.seed,
        endpoints=ep,
        patients=pts,
        n_screened=result.n_screened,
        solver_failures=result.solver_failures,
        n_candidates=result.n_candidates,
    )


def _workers(workers: int | None, replicates: int) -> int:
    n = (os.cpu_count() or 1) if workers is None else workers
    return max(1, min(int(n), replicates))


def _rows(
    full: TrialResult, grid: list[int], r: int, comparisons: list[Comparison] | None
) -> list[dict[str, Any]]:
    from gutskin.trial.analysis import analyse_trial

    rows: list[dict[str, Any]] = []
    for n in grid:
        sub = analyse_trial(_subset(full, n), comparisons=comparisons, summary=False)
        rows.extend(
            {
                **c,
                "n": n,
                "replicate": r,
                "n_candidates": full.n_candidates,
                "n_burned_in": full.n_screened,
            }
            for c in sub.comparisons
        )
    return rows


def _replicate(
    big: Design,
    grid: list[int],
    seed: int,
    r: int,
    solver: SolverOptions | None = None,
    population: Personalisation | None = None,
    comparisons: list[Comparison] | None = None,
) -> list[dict[str, Any]]:
    full = run_trial(
        big, seed=replicate_seed(seed, r), analyse=False, solver=solver, population=population
    )
    return _rows(full, grid, r, comparisons)


def _pool_chunk(
    pool: Any, draws: list[Any], first: int, grid: list[int], comparisons: list[Comparison] | None
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for k, draw in enumerate(draws):
        rows.extend(_rows(pool.trial(draw), grid, first + k, comparisons))
    return rows


def check_grid(
    design: Design,
    n_grid: Sequence[int],
    replicates: int,
    analyses: str,
    *,
    error: type[DesignError] = DesignError,
) -> list[int]:
    """The sorted sample sizes of ``n_grid``, after checking the grid, the replicate count
    and ``analyses``; a bad value raises ``error`` naming the option and what is allowed."""
    grid = sorted({int(n) for n in n_grid})
    if not grid or grid[0] < 2 * len(design.arms):
        raise error(
            f"--n: every sample size must be >= {2 * len(design.arms)} "
            f"(2 per arm), got {list(n_grid)}"
        )
    if replicates < 1:
        raise error(f"--replicates must be >= 1, got {replicates}")
    if analyses not in ANALYSES:
        raise error(f"--analyses must be one of {', '.join(ANALYSES)}, got {analyses!r}")
    return grid


def power_curve(
    design: Design,
    n_grid: Sequence[int],
    *,
    replicates: int,
    seed: int = 0,
    workers: int | None = None,
    solver: SolverOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    population: Personalisation | None = None,
    pool: int | Literal["fresh"] | None = None,
    analyses: Literal["primary", "all"] | str = "primary",
    stage: Callable[[str], None] | None = None,
    scheduler: Literal["inprocess", "dask"] | str = "inprocess",
    address: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Power of the primary (or every) planned comparison at each total sample size.

    Parameters
    ----------
    design : Design
        The trial design.
    n_grid : sequence of int
        Total sample sizes.
    replicates : int
        Replicate trials (each analysed at every size).
    seed : int
        Fixes every number of the run.
    workers : int, optional
        Processes (default: one per core, numba single-threaded in each); results are
        identical for any number of workers.
    solver : SolverOptions, optional
        Engine settings.
    progress : callable, optional
        ``progress(done, total)`` as replicates finish.
    population : Personalisation, optional
        Source seeding the candidates (a design with ``population.from_table`` needs
        one: :func:`gutskin.microbiome.population_for_design`).
    pool : int, "fresh" or None
        Eligible candidates in the virtual population the replicates draw from (default
        ``max(20 × largest n, 2000)``; :mod:`gutskin.trial.pool`), or ``"fresh"`` for new
        patients in every replicate.
    analyses : {"primary", "all"}
        The design's primary comparison (marked ``primary: true``, else the first), or
        every planned comparison.
    stage : callable, optional
        Called with a short text when a stage starts (pool, arms, replicates).
    scheduler : {"inprocess", "dask"}
        Where replicates run: ``workers`` processes on this machine, or a Dask cluster
        (:func:`gutskin.engine.workers.replicate_executor`: the one at ``address``, else a
        local one of ``workers`` processes).  Results are identical either way.
    address : str, optional
        Scheduler address of an existing Dask cluster (``tcp://HOST:PORT``).

    Returns
    -------
    power : DataFrame
        One row per comparison (endpoint, method, visit, arm) × n with ``power``,
        ``ci_low``, ``ci_high`` (Clopper–Pearson 95 %), ``n_replicates``,
        ``mean_estimate`` and ``pool`` (eligible candidates in the virtual population,
        or ``"fresh"``).
    raw : DataFrame
        Every replicate's comparison (estimate, p-value) for re-analysis.
    """
    from gutskin.trial.summaries import power_from_pvalues

    grid = check_grid(design, n_grid, replicates, analyses)
    if not (pool is None or pool == "fresh" or (isinstance(pool, int) and pool >= 1)):
        raise DesignError(f"--pool must be a positive integer or 'fresh', got {pool!r}")
    if scheduler not in ("inprocess", "dask"):
        raise DesignError(f"--scheduler must be inprocess or dask, got {scheduler!r}")
    if address and scheduler != "dask":
        raise DesignError("--address needs --scheduler dask")
    comparisons = [design.primary_comparison()] if analyses == "primary" else None
    big = design.model_copy(update={"sample_size": grid[-1]})
    rows: list[dict[str, Any]] = []
    n_workers = _workers(workers, replicates)
    parallel = n_workers > 1 or scheduler == "dask"

    def executor() -> Any:
        return replicate_executor(n_workers, scheduler=scheduler, address=address)

    if pool == "fresh":
        pool_size: int | str = "fresh"
        if stage:
            stage("replicate trials (fresh patients)")
        if not parallel:
            for r in range(replicates):
                rows.extend(_replicate(big, grid, seed, r, solver, population, comparisons))
                if progress:
                    progress(r + 1, replicates)
        else:
            with executor() as ex:
                futures = [
                    ex.submit(_replicate, big, grid, seed, r, solver, population, comparisons)
                    for r in range(replicates)
                ]
                for done, _fut in enumerate(as_completed(futures), start=1):
                    if progress:
                        progress(done, replicates)
                for fut in futures:  # in replicate order: results never depend on workers
                    rows.extend(fut.result())
    else:
        from gutskin.trial.pool import build_pool, pool_seed

        if stage:
            stage("virtual population")
        vp = build_pool(big, seed=pool_seed(seed), size=pool, solver=solver, population=population)
        pool_size = vp.n_eligible_reference
        draws = [vp.draw(replicate_seed(seed, r)) for r in range(replicates)]
        if stage:
            stage("arms of the randomized patients")
        vp.simulate_arms(draws)
        if stage:
            stage("replicate trials")
        # chunks of replicates, each with the rows of the pool it uses
        n_chunks = 1 if not parallel else min(replicates, 4 * n_workers)
        bounds = np.linspace(0, replicates, n_chunks + 1).astype(int)
        chunks = [(int(a), int(b)) for a, b in pairwise(bounds) if b > a]
        if not parallel:
            done = 0
            for a, b in chunks:
                for r in range(a, b):
                    rows.extend(_rows(vp.trial(draws[r]), grid, r, comparisons))
                    done += 1
                    if progress:
                        progress(done, replicates)
        else:
            with executor() as ex:
                futs = []
                for a, b in chunks:
                    part, moved = vp.part(draws[a:b])
                    futs.append(ex.submit(_pool_chunk, part, moved, a, grid, comparisons))
                done = 0
                for fut, (a, b) in zip(futs, chunks, strict=True):
                    rows.extend(fut.result())  # in replicate order
                    done += b - a
                    if progress:
                        progress(done, replicates)
    raw = pd.DataFrame(rows)
    alpha = design.analysis.alpha
    out = []
    keys = ["endpoint", "method", "visit_week", "arm", "reference", "n"]
    for key, g in raw.groupby(keys, sort=False):
        pw = power_from_pvalues(g["p_value"].to_numpy(dtype=float), alpha=alpha)
        out.append(
            {
                **dict(zip(keys, key, strict=True)),
                **pw,
                "mean_estimate": float(np.nanmean(g["estimate"].to_numpy(dtype=float))),
                "pool": pool_size,
            }
        )
    return pd.DataFrame(out), raw


def smallest_n(power: pd.DataFrame, target: float = 0.8) -> pd.DataFrame:
    """Smallest n of the grid whose estimated power reaches ``target`` per comparison."""
    keys = ["endpoint", "method", "visit_week", "arm"]
    rows = []
    for key, g in power.groupby(keys, sort=False):
        ok = g[g["power"] >= target].sort_values("n")
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "target": target,
                "smallest_n": int(ok["n"].iloc[0]) if len(ok) else None,
            }
        )
    return pd.DataFrame(rows)
