"""Replicate simulations of every validation target (``docs/validation.md``).

Trial targets draw their replicate trials from one virtual population per design
(:func:`pooled_trials`); cohort and population targets are simulated per replicate
(:func:`run_validation`). Replicate ``r`` uses seed ``replicate_seed(seed, r)`` (as
``gutskin power``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gutskin.calibrate.objective import evaluate
from gutskin.calibrate.targets import TargetSet
from gutskin.engine.workers import replicate_executor

__all__ = ["ReplicateObjective", "pooled_trials", "run_validation"]


def _validation_replicate(
    ts: TargetSet,
    values: Mapping[str, float] | None,
    seed: int,
    r: int,
    trials: Mapping[str, Any],
) -> dict[str, Any]:
    """Every target of replicate ``r``; its trials come ready-made from the pools."""
    from gutskin.trial.power import replicate_seed

    return dict(evaluate(ts, values, seed=replicate_seed(seed, r), scale="validate", trials=trials))


def _rinaldi_replicate(ts: TargetSet, values: Mapping[str, float] | None, seed: int, r: int) -> Any:
    """Replicate ``r`` of the Rinaldi trial with fresh patients (when it is not pooled)."""
    from gutskin.calibrate.objective import _run_design, model_variant
    from gutskin.trial.design import DesignError
    from gutskin.trial.power import replicate_seed

    with model_variant(values) as model:
        try:
            return _run_design(ts, "rinaldi2022", model, replicate_seed(seed, r), None)
        except DesignError:
            return None


def pooled_trials(
    ts: TargetSet,
    values: Mapping[str, float] | None,
    counts: Mapping[str, int],
    *,
    seed: int,
    pool_size: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, list[Any]]:
    """``counts[design]`` replicate trials of each design, drawn from one virtual population.

    The trial targets' replicates share patients simulated once per design
    (:mod:`gutskin.trial.pool`, default size max(20 × n, 2000) eligible); each replicate
    has its own screening, allocation, observation noise and dropout, from
    ``replicate_seed(seed, r)`` as before. A design the parameters cannot fill gives
    ``None`` for every replicate (its targets are then NaN). Only designs for which the
    pool is smaller than the replicates' own patients (``counts × n``) are pooled; the
    others are left out and simulated fresh by :func:`~gutskin.calibrate.objective.evaluate`.
    """
    from gutskin.calibrate.objective import model_variant
    from gutskin.engine.random import derived_seed, name_key
    from gutskin.trial.design import DesignError
    from gutskin.trial.pool import MIN_ELIGIBLE, POOL_FACTOR, build_pool
    from gutskin.trial.power import replicate_seed

    out: dict[str, list[Any]] = {}
    with model_variant(values) as model:
        for dname, n_reps in counts.items():
            n = ts.designs[dname].sample_size
            wanted = pool_size or max(POOL_FACTOR * n, MIN_ELIGIBLE)
            if wanted >= n_reps * n:
                continue  # fresh patients cost no more than the pool
            if progress:
                progress(f"virtual population of {dname}")
            design = ts.designs[dname].model_copy(update={"model": model.name})
            try:
                pool = build_pool(
                    design,
                    seed=derived_seed(seed, "pool", name_key(dname)),
                    size=pool_size,
                    model=model,
                )
                draws = [pool.draw(replicate_seed(seed, r)) for r in range(n_reps)]
                pool.simulate_arms(draws)
                out[dname] = [pool.trial(d) for d in draws]
            except DesignError:
                out[dname] = [None] * n_reps
    return out


def run_validation(
    ts: TargetSet,
    values: Mapping[str, float] | None,
    *,
    replicates: int = 20,
    rinaldi_replicates: int = 200,
    seed: int = 0,
    workers: int | None = 1,
    pool_size: int | None = None,
    progress: Callable[[str], None] | None = None,
    scheduler: str = "inprocess",
    address: str | None = None,
) -> dict[str, list[Any]]:
    """Replicate simulations of every target; Rinaldi targets get ``rinaldi_replicates``.

    Trial targets draw their replicate trials from one virtual population per design
    (:func:`pooled_trials`). Cohort and population targets are simulated per replicate,
    in ``workers`` processes (None: one per core; numba single-threaded in each) or on a
    Dask cluster (``scheduler="dask"``, a local one or the one at ``address``), collected
    in replicate order, so results do not depend on ``workers`` or the scheduler.

    Returns
    -------
    dict
        Target id -> list of per-replicate simulated values.
    """
    import os

    from gutskin.calibrate.objective import trial_statistic

    n_rin = max(replicates, rinaldi_replicates)
    designs = sorted({t.options["design"] for t in ts.targets if t.simulator == "trial"})
    counts = {d: (n_rin if d == "rinaldi2022" else replicates) for d in designs}
    trials = pooled_trials(ts, values, counts, seed=seed, pool_size=pool_size, progress=progress)
    n_workers = max(1, min(replicates, (os.cpu_count() or 1) if workers is None else workers))
    reps: dict[str, list[Any]] = {t.id: [] for t in ts.targets}

    def report(done: int) -> None:
        if progress:
            progress(f"replicate {done}/{replicates}")

    def of(r: int) -> dict[str, Any]:
        return {d: trials[d][r] for d in trials}

    results: list[dict[str, Any]] = []
    if n_workers == 1 and scheduler != "dask":
        for r in range(replicates):
            results.append(_validation_replicate(ts, values, seed, r, of(r)))
            report(r + 1)
    else:
        with replicate_executor(n_workers, scheduler=scheduler, address=address) as pool:
            futures = [
                pool.submit(_validation_replicate, ts, values, seed, r, of(r))
                for r in range(replicates)
            ]
            for k, fut in enumerate(futures, start=1):
                results.append(fut.result())  # in replicate order
                report(k)
    # the Rinaldi trial targets' further replicates need no simulation beyond the pool
    rin = [t for t in ts.targets if t.simulator == "trial" and t.options["design"] == "rinaldi2022"]
    if "rinaldi2022" in trials:
        extra = [trials["rinaldi2022"][r] for r in range(replicates, n_rin)]
    else:
        extra = [_rinaldi_replicate(ts, values, seed, r) for r in range(replicates, n_rin)]
    for res in extra:
        results.append(
            {t.id: (trial_statistic(res, t) if res is not None else float("nan")) for t in rin}
        )
    for sim in results:
        for key, v in sim.items():
            reps[key].append(v)
    return reps


@dataclass(frozen=True)
class ReplicateObjective:
    """``J`` on the means of replicate trials drawn from one virtual population per design.

    The single-cohort objective (:func:`~gutskin.calibrate.objective.objective`) runs each
    design once with a large cohort, whose mean differs from the mean of replicate trials at
    the real sample size by several points (docs/calibration.md, "Objective noise"). This
    one averages ``replicates`` replicate trials per design (``rinaldi_replicates`` for
    Rinaldi 2022) drawn from pools of ``pool_size`` eligible patients (common random
    numbers: the same seeds for every candidate), exactly as ``make validate`` does at
    its larger counts, so the fit and the validation report see the same statistic.

    Attributes
    ----------
    replicates, rinaldi_replicates : int
        Replicate trials per design, and for the Rinaldi 2022 design.
    pool_size : int or None
        Eligible patients per pool (None: ``max(20 n, 2000)``).
    groups : tuple of str
        Restrict the objective to fitted targets of these groups (empty: all fitted).
    """

    replicates: int = 6
    rinaldi_replicates: int = 60
    pool_size: int | None = 2000
    groups: tuple[str, ...] = ()

    def targets(self, ts: TargetSet) -> list[Any]:
        """The fitted targets this objective sums over."""
        return [t for t in ts.fitted() if not self.groups or t.group in self.groups]

    def means(self, ts: TargetSet, values: Mapping[str, float] | None, *, seed: int) -> dict:
        """Mean over replicates of each target of :meth:`targets`."""
        sub = dataclasses.replace(ts, targets=self.targets(ts))
        reps = run_validation(
            sub,
            values,
            replicates=self.replicates,
            rinaldi_replicates=self.rinaldi_replicates,
            seed=seed,
            workers=1,
            pool_size=self.pool_size,
        )
        return {k: float(np.nanmean(v)) if len(v) else float("nan") for k, v in reps.items()}

    def __call__(self, ts: TargetSet, values: Mapping[str, float] | None, *, seed: int) -> float:
        """``J = sum z^2`` over :meth:`targets` (a target left undefined counts ``PENALTY``)."""
        from gutskin.calibrate.objective import residuals

        sub = dataclasses.replace(ts, targets=self.targets(ts))
        z = residuals(sub, self.means(ts, values, seed=seed))
        return float(sum(v * v for v in z.values()))


def check_groups(ts: TargetSet, groups: Sequence[str]) -> None:
    """Raise ``ValueError`` naming any group that has no fitted target."""
    have = {t.group for t in ts.fitted()}
    bad = [g for g in groups if g not in have]
    if bad:
        raise ValueError(
            f"groups {bad} have no fitted target; fitted groups: {', '.join(sorted(have))}"
        )
