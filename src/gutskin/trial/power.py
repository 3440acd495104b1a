"""Power by simulation: replicate trials over a grid of sample sizes.

Each replicate simulates one trial at the largest sample size of the grid;
the trial of size ``n`` is its first ``n`` randomized patients, exactly as a
real trial that stopped enrolling earlier.  Sizes are therefore compared on
common random numbers (a smooth power curve) and the model is simulated once
per replicate, not once per size.  Replicate ``r`` uses seed
``SeedSequence(seed, spawn_key=(1000, r))`` so replicates are independent and
reproducible.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from typing import Any

import numpy as np
import pandas as pd

from gutskin.engine.options import SolverOptions
from gutskin.engine.random import derived_seed
from gutskin.engine.workers import replicate_pool
from gutskin.population.pipeline import Personalisation
from gutskin.trial.design import Design, DesignError
from gutskin.trial.result import TrialResult
from gutskin.trial.run import run_trial

__all__ = ["power_curve", "replicate_seed", "smallest_n"]


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


def _replicate(
    big: Design,
    grid: list[int],
    seed: int,
    r: int,
    solver: SolverOptions | None = None,
    population: Personalisation | None = None,
) -> list[dict[str, Any]]:
    from gutskin.trial.analysis import analyse_trial

    full = run_trial(
        big, seed=replicate_seed(seed, r), analyse=False, solver=solver, population=population
    )
    rows: list[dict[str, Any]] = []
    for n in grid:
        sub = analyse_trial(_subset(full, n))
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
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Power of each planned comparison at each total sample size.

    ``population`` seeds every replicate's candidates (a design with
    ``population.from_table`` needs one: :func:`gutskin.microbiome.population_for_design`);
    the replicates differ in their patients, not in the table.

    Returns
    -------
    power : DataFrame
        One row per comparison (endpoint, method, visit, arm) × n with
        ``power``, ``ci_low``, ``ci_high`` (Clopper–Pearson 95 %), ``replicates``.
    raw : DataFrame
        Every replicate's comparison (estimate, p-value) for re-analysis.

    Replicates run in ``workers`` processes (default: one per core, numba single-threaded
    in each); results are identical for any number of workers.
    """
    from gutskin.trial.statistics import power_from_pvalues

    grid = sorted({int(n) for n in n_grid})
    if not grid or grid[0] < 2 * len(design.arms):
        raise DesignError(
            f"--n: every sample size must be >= {2 * len(design.arms)} "
            f"(2 per arm), got {list(n_grid)}"
        )
    if replicates < 1:
        raise DesignError(f"--replicates must be >= 1, got {replicates}")
    big = design.model_copy(update={"sample_size": grid[-1]})
    rows: list[dict[str, Any]] = []
    n_workers = _workers(workers, replicates)
    if n_workers == 1:
        for r in range(replicates):
            rows.extend(_replicate(big, grid, seed, r, solver, population))
            if progress:
                progress(r + 1, replicates)
    else:
        with replicate_pool(n_workers) as pool:
            futures = [
                pool.submit(_replicate, big, grid, seed, r, solver, population)
                for r in range(replicates)
            ]
            for done, _fut in enumerate(as_completed(futures), start=1):
                if progress:
                    progress(done, replicates)
            for fut in futures:  # in replicate order: results never depend on workers
                rows.extend(fut.result())
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
