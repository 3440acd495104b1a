"""Assurance: the probability that a trial succeeds, given what we do not know about the model.

Power answers "if the model is exactly right, how often does this trial reach p < alpha?".
Assurance (O'Hagan, Stevens & Campbell, *Pharm Stat* 2005;4:187-201) averages that power
over the uncertainty about the model itself. The simulation has two levels:

- the **outer** loop draws ``M`` parameter sets from an uncertainty source: a prior
  (:class:`PriorUncertainty`, :func:`prior_uncertainty`) or an ensemble of parameter sets
  (:class:`EnsembleUncertainty`, :func:`read_ensemble`);
- the **inner** loop runs the replicate trials of :func:`gutskin.trial.power.power_curve`
  for each set, on a virtual population (:mod:`gutskin.trial.pool`) of that model.

Each draw's power is its replicate trials' rejection rate; assurance is the (weighted) mean
of the draws' powers. Every draw reuses power's replicate seeds and pool seed (common random
numbers across sample sizes and across draws), so a draw whose parameters equal the point
values gives exactly the point-estimate power, and differences between draws come from the
parameters, not from new patients. A draw that changes only strain properties (which act
only through an arm's treatment) keeps the untreated virtual population and the arms the
strain is not in, and simulates only the arms it changes.

Quantities are named as parameters of the model (``parameters.csv``), whose population
**median** is drawn, or as ``STRAIN.property`` (e.g. ``LS03.engraftment``), a property of a
probiotic strain in the design's arms.

Random numbers: draw ``d`` of quantity ``name`` is the inverse CDF of uniform ``d`` of the
run stream ``"assurance_draw"`` (sub-key: the name), so adding a quantity does not change
the draws of the others; the rows an ensemble run samples come from ``"assurance_rows"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gutskin.engine import ModelSpec, SolverOptions
from gutskin.engine.workers import replicate_executor
from gutskin.model.strains import Strain, StrainError, load_strains
from gutskin.population.pipeline import Personalisation
from gutskin.simulation import get_model
from gutskin.trial.design import Comparison, Design
from gutskin.trial.power import _rows, _workers, check_grid, replicate_seed
from gutskin.trial.run import arm_treatment_of
from gutskin.trial.uncertainty import (
    DEFAULT_DRAWS,
    ENSEMBLE_RESERVED,
    MAX_ENSEMBLE_BYTES,
    AssuranceError,
    EnsembleUncertainty,
    PriorUncertainty,
    Uncertain,
    Uncertainty,
    _check_source,
    default_quantities,
    prior_uncertainty,
    read_ensemble,
)

__all__ = [
    "DEFAULT_DRAWS",
    "ENSEMBLE_RESERVED",
    "MAX_ENSEMBLE_BYTES",
    "AssuranceError",
    "AssuranceResult",
    "EnsembleUncertainty",
    "PriorUncertainty",
    "Uncertain",
    "assurance",
    "default_quantities",
    "prior_uncertainty",
    "read_ensemble",
    "weighted_quantile",
]


def _variant(
    spec: ModelSpec, library: Mapping[str, Strain], values: Mapping[str, float]
) -> tuple[ModelSpec, dict[str, Strain]]:
    """The model and strain library of one draw."""
    params = {k: float(v) for k, v in values.items() if "." not in k}
    lib = dict(library)
    by_strain: dict[str, dict[str, float]] = {}
    for k, v in values.items():
        if "." in k:
            sid, prop = k.split(".", 1)
            by_strain.setdefault(sid, {})[prop] = float(v)
    for sid, props in by_strain.items():
        try:
            lib[sid] = lib[sid].with_values(**props)
        except StrainError as exc:  # pragma: no cover - checked in _check_source
            raise AssuranceError(str(exc)) from None
    return (spec.with_parameters(**params) if params else spec), lib


@dataclass(frozen=True)
class _Job:
    """What a worker needs to run draws (pickled once per chunk)."""

    design: Design
    grid: list[int]
    seed: int
    replicates: int
    comparisons: list[Comparison] | None
    spec: ModelSpec
    strains: dict[str, Strain]
    solver: SolverOptions
    population: Personalisation | None
    pool_size: int | None
    pool: Any = None  # a shared PatientPool part (strain-only uncertainty), else None
    reps: list[Any] | None = None  # its replicate draws, renumbered to the part


def _draw_chunk(job: _Job, items: list[tuple[int, dict[str, float]]]) -> list[dict[str, Any]]:
    """Every replicate row of the draws ``items`` (``(draw, values)``; draw -1: point)."""
    from gutskin.trial.pool import build_pool, pool_seed

    rows: list[dict[str, Any]] = []
    if job.pool is not None:
        # the arms no draw of the chunk changes (e.g. placebo) are simulated once, here
        assert job.reps is not None
        design, spec0 = job.pool.design, job.pool.spec
        libs = [_variant(job.spec, job.strains, values)[1] for _, values in items]
        stable = [
            arm.name
            for arm in design.arms
            if all(
                arm_treatment_of(design, spec0, arm.name, lib)
                == arm_treatment_of(design, spec0, arm.name, job.strains)
                for lib in libs
            )
        ]
        job.pool.simulate_arms(job.reps, arms=stable)
    for d, values in items:
        spec, lib = _variant(job.spec, job.strains, values)
        if job.pool is not None:
            vp, reps = job.pool.with_strains(lib), job.reps
        else:
            vp = build_pool(
                job.design,
                seed=pool_seed(job.seed),
                size=job.pool_size,
                solver=job.solver,
                population=job.population,
                model=spec,
                strains=lib,
            )
            reps = [vp.draw(replicate_seed(job.seed, r)) for r in range(job.replicates)]
        assert reps is not None
        vp.simulate_arms(reps)
        for r, rep in enumerate(reps):
            for row in _rows(vp.trial(rep), job.grid, r, job.comparisons):
                rows.append({"draw": d, **row, "pool": vp.n_eligible_reference})
    return rows


def weighted_quantile(
    x: Iterable[float], w: Iterable[float], q: float | Sequence[float]
) -> NDArray[np.float64]:
    """Weighted quantiles by midpoint plotting positions (Hazen's rule for equal weights).

    Value ``i`` of the sorted sample sits at cumulative probability ``F_i - w_i / 2``
    (weights normalised); quantiles interpolate linearly between, and are clamped to the
    smallest and largest value outside.
    """
    xs = np.asarray(list(x), dtype=np.float64)
    ws = np.asarray(list(w), dtype=np.float64)
    order = np.argsort(xs, kind="stable")
    xs, ws = xs[order], ws[order] / ws.sum()
    pos = np.cumsum(ws) - ws / 2.0
    return np.asarray(np.interp(np.asarray(q, dtype=np.float64), pos, xs), dtype=np.float64)


def _exact_mean(values: Sequence[float], weights: Sequence[float]) -> float:
    """Weighted mean in exact rational arithmetic (equal values give exactly that value)."""
    fw = [Fraction(float(w)) for w in weights]
    num = sum((Fraction(float(v)) * w for v, w in zip(values, fw, strict=True)), Fraction(0))
    return float(num / sum(fw, Fraction(0)))


@dataclass(frozen=True, eq=False)
class AssuranceResult:
    """The outputs of :func:`assurance`.

    Attributes
    ----------
    summary : DataFrame
        Per comparison (``endpoint, method, visit_week, arm, reference``) × ``n``:
        ``point_power`` (the model at its point values), ``assurance`` (power averaged
        over the draws, weighted), ``power_median``, ``power_q10``, ``power_q90`` (median
        and 80 % interval of power across draws, weighted quantiles), ``n_draws``,
        ``n_replicates``.
    draws : DataFrame
        Per draw × comparison: ``draw``, ``member`` (ensemble runs), each quantity's value,
        ``weight``, ``true_effect`` (the mean estimate over the draw's replicate trials at
        the largest n: the effect the trial estimates under that parameter set),
        ``power_n<N>`` per sample size, and ``pool`` (eligible candidates of its virtual
        population).
    power : DataFrame
        Per draw × comparison × n: ``power``, ``ci_low``, ``ci_high``, ``n_replicates``,
        ``mean_estimate``.
    point : DataFrame
        The point-estimate power curve, as :func:`gutskin.trial.power.power_curve` returns it.
    raw : DataFrame
        Every replicate's comparison of every draw (``draw`` -1: the point values).
    names : tuple of str
        The uncertain quantities.
    source : str
        ``prior``, ``calibrated`` or the ensemble file.
    """

    summary: pd.DataFrame
    draws: pd.DataFrame
    power: pd.DataFrame
    point: pd.DataFrame
    raw: pd.DataFrame
    names: tuple[str, ...]
    source: str

    def smallest_n(self, target: float = 0.8) -> pd.DataFrame:
        """Smallest n of the grid whose assurance reaches ``target``, per comparison."""
        keys = ["endpoint", "method", "visit_week", "arm"]
        rows = []
        for key, g in self.summary.groupby(keys, sort=False):
            ok = g[g["assurance"] >= target].sort_values("n")
            rows.append(
                {
                    **dict(zip(keys, key, strict=True)),
                    "target_assurance": target,
                    "smallest_n": int(ok["n"].iloc[0]) if len(ok) else None,
                    "assurance_at_largest_n": float(g.sort_values("n")["assurance"].iloc[-1]),
                }
            )
        return pd.DataFrame(rows)


def assurance(
    design: Design,
    n_grid: Sequence[int],
    *,
    uncertainty: Uncertainty,
    replicates: int,
    draws: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    solver: SolverOptions | None = None,
    population: Personalisation | None = None,
    pool: int | None = None,
    analyses: Literal["primary", "all"] | str = "primary",
    strains: Mapping[str, Strain] | None = None,
    model: ModelSpec | None = None,
    progress: Callable[[int, int], None] | None = None,
    stage: Callable[[str], None] | None = None,
    scheduler: Literal["inprocess", "dask"] | str = "inprocess",
    address: str | None = None,
) -> AssuranceResult:
    """Assurance and the power band over parameter uncertainty, at each total sample size.

    Parameters
    ----------
    design : Design
        The trial design.
    n_grid : sequence of int
        Total sample sizes.
    uncertainty : PriorUncertainty or EnsembleUncertainty
        Where the parameter sets come from (:func:`prior_uncertainty`,
        :func:`read_ensemble`).
    replicates : int
        Replicate trials per parameter set (each analysed at every size).
    draws : int, optional
        Parameter sets: default :data:`DEFAULT_DRAWS` for a prior, every row of an
        ensemble (fewer: sampled without replacement).
    seed : int
        Fixes every number of the run; replicate ``r`` of every draw uses power's seed
        :func:`~gutskin.trial.power.replicate_seed` ``(seed, r)``.
    workers : int, optional
        Processes (default: one per core); results are identical for any number.
    solver : SolverOptions, optional
        Engine settings.
    population : Personalisation, optional
        Source seeding the candidates (a design with ``population.from_table``).
    pool : int, optional
        Eligible candidates in each virtual population (default as
        :func:`~gutskin.trial.pool.build_pool`).
    analyses : {"primary", "all"}
        The design's primary comparison or every planned one.
    strains : mapping, optional
        Strain library (a user strain YAML merged, with its priors); default packaged.
    model : ModelSpec, optional
        The model at its point values (default: the design's named one).
    progress : callable, optional
        ``progress(done, total)`` as parameter sets finish (the point values included).
    stage : callable, optional
        Called with a short text when a stage starts.
    scheduler : {"inprocess", "dask"}
        Where draws run (:func:`gutskin.engine.workers.replicate_executor`).
    address : str, optional
        Scheduler address of an existing Dask cluster.

    Returns
    -------
    AssuranceResult

    References
    ----------
    O'Hagan A, Stevens JW, Campbell MJ. Assurance in clinical trial design. *Pharm Stat*
    2005;4(3):187-201. doi:10.1002/pst.175
    """
    from gutskin.trial.pool import build_pool, pool_seed

    grid = check_grid(design, n_grid, replicates, analyses, error=AssuranceError)
    if pool is not None and not (isinstance(pool, int) and pool >= 1):
        raise AssuranceError(
            f"--pool must be a positive integer with --uncertainty ('fresh' is not supported), "
            f"got {pool!r}"
        )
    spec0 = model if model is not None else get_model(design.model)
    lib0 = dict(strains) if strains is not None else load_strains()
    _check_source(uncertainty, spec0, lib0, design)
    table = uncertainty.table(draws, seed)
    names = tuple(uncertainty.names)
    strain_only = all("." in n for n in names)
    comparisons = [design.primary_comparison()] if analyses == "primary" else None
    big = design.model_copy(update={"sample_size": grid[-1]})
    opts = solver or SolverOptions()
    items: list[tuple[int, dict[str, float]]] = [(-1, {})] + [
        (int(r["draw"]), {n: float(r[n]) for n in names}) for _, r in table.iterrows()
    ]
    job = _Job(big, grid, seed, replicates, comparisons, spec0, lib0, opts, population, pool)
    if strain_only:
        if stage:
            stage("virtual population")
        base = build_pool(
            big,
            seed=pool_seed(seed),
            size=pool,
            solver=opts,
            population=population,
            model=spec0,
            strains=lib0,
        )
        reps = [base.draw(replicate_seed(seed, r)) for r in range(replicates)]
        part, moved = base.part(reps, states=True)
        job = _Job(
            big, grid, seed, replicates, comparisons, spec0, lib0, opts, population, pool,
            part, moved,
        )  # fmt: skip
    if stage:
        stage(f"{len(items) - 1} parameter sets x {replicates} replicate trials")
    n_workers = _workers(workers, len(items))
    parallel = n_workers > 1 or scheduler == "dask"
    n_chunks = 1 if not parallel else min(len(items), 4 * n_workers)
    bounds = np.linspace(0, len(items), n_chunks + 1).astype(int)
    chunks = [items[a:b] for a, b in pairwise(bounds) if b > a]
    rows: list[dict[str, Any]] = []
    done = 0
    if not parallel:
        for it in items:
            rows.extend(_draw_chunk(job, [it]))
            done += 1
            if progress:
                progress(done, len(items))
    else:
        with replicate_executor(n_workers, scheduler=scheduler, address=address) as ex:
            futs = [ex.submit(_draw_chunk, job, c) for c in chunks]
            sizes = {id(f): len(c) for f, c in zip(futs, chunks, strict=True)}
            for fut in as_completed(futs):
                done += sizes[id(fut)]
                if progress:
                    progress(done, len(items))
            for fut in futs:  # in draw order: results never depend on workers
                rows.extend(fut.result())
    raw = pd.DataFrame(rows)
    return _summarise(raw, table, names, grid, design.analysis.alpha, uncertainty.label)


_KEYS = ["endpoint", "method", "visit_week", "arm", "reference"]


def _summarise(
    raw: pd.DataFrame,
    table: pd.DataFrame,
    names: tuple[str, ...],
    grid: list[int],
    alpha: float,
    source: str,
) -> AssuranceResult:
    from gutskin.trial.summaries import power_from_pvalues

    per: list[dict[str, Any]] = []
    for key, g in raw.groupby(["draw", *_KEYS, "n"], sort=False):
        pw = power_from_pvalues(g["p_value"].to_numpy(dtype=float), alpha=alpha)
        per.append(
            {
                **dict(zip(["draw", *_KEYS, "n"], key, strict=True)),
                **pw,
                "mean_estimate": float(np.nanmean(g["estimate"].to_numpy(dtype=float))),
                "pool": int(g["pool"].iloc[0]),
            }
        )
    power = pd.DataFrame(per).sort_values(["draw", *_KEYS, "n"], kind="stable")
    power = power.reset_index(drop=True)
    point = power[power["draw"] == -1].drop(columns="draw").reset_index(drop=True)
    by_draw = power[power["draw"] >= 0].merge(table[["draw", "weight"]], on="draw")
    summary = []
    for key, g in by_draw.groupby([*_KEYS, "n"], sort=False):
        p = g["power"].to_numpy(dtype=float)
        w = g["weight"].to_numpy(dtype=float)
        q10, q50, q90 = weighted_quantile(p, w, [0.1, 0.5, 0.9])
        pt = point
        for k, v in zip([*_KEYS, "n"], key, strict=True):
            pt = pt[pt[k] == v]
        summary.append(
            {
                **dict(zip([*_KEYS, "n"], key, strict=True)),
                "point_power": float(pt["power"].iloc[0]) if len(pt) else math.nan,
                "assurance": _exact_mean(p.tolist(), w.tolist()),
                "power_median": float(q50),
                "power_q10": float(q10),
                "power_q90": float(q90),
                "n_draws": len(g),
                "n_replicates": int(g["n_replicates"].iloc[0]),
            }
        )
    summ = pd.DataFrame(summary)
    # one row per draw x comparison: the draw's values, its effect and power per n
    largest = power[(power["draw"] >= 0) & (power["n"] == grid[-1])]
    wide = largest[["draw", *_KEYS, "mean_estimate", "pool"]].rename(
        columns={"mean_estimate": "true_effect"}
    )
    for n in grid:
        col = power[(power["draw"] >= 0) & (power["n"] == n)][["draw", *_KEYS, "power"]]
        wide = wide.merge(col.rename(columns={"power": f"power_n{n}"}), on=["draw", *_KEYS])
    draws = table.merge(wide, on="draw").sort_values(["draw", *_KEYS], kind="stable")
    return AssuranceResult(
        summary=summ,
        draws=draws.reset_index(drop=True),
        power=power,
        point=point,
        raw=raw,
        names=names,
        source=source,
    )
