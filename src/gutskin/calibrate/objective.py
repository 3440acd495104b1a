"""Simulated counterparts of the calibration targets and the weighted objective.

Every trial target is simulated with its own design through the same machinery as
``gutskin trial`` (:func:`gutskin.trial.run.run_trial`); mechanistic and population
targets use a light-weight cohort (sampled virtual patients, untreated burn-in with
disease-activity noise to each patient's baseline, then the regimens), following the
virtual-patient recipe of Miyano et al. (evidence brief §2.8).  Candidate parameter values
replace the medians of the between-patient distributions (``spec.with_parameters``) and the
candidate is registered as a temporary model variant, so the trial code runs unchanged.

The objective is ``J(theta) = sum_k z_k^2`` with ``z_k = (sim_k - obs_k) / sd_k`` over the
fitted targets (distance outside the reported range for range targets), i.e. -2 log
likelihood up to a constant under independent Gaussian target errors.  Common random
numbers - the same seeds, hence the same virtual patients, flare paths and measurement
draws for every candidate - keep ``J`` smooth in ``theta`` and make it deterministic.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gutskin.calibrate.targets import Target, TargetError, TargetSet
from gutskin.engine import ModelSpec, SolverOptions
from gutskin.engine.integrate import BatchResult
from gutskin.population import pipeline
from gutskin.trial.design import DesignError

__all__ = [
    "BURN_IN_DAYS",
    "DEFAULT_SEED",
    "PENALTY",
    "evaluate",
    "model_variant",
    "objective",
    "residuals",
]

#: Seed of the common random numbers used by the objective.
DEFAULT_SEED = 2026
#: Untreated burn-in of cohort/population simulations (days), as the trial designs.
BURN_IN_DAYS = 240.0
#: z assigned to a target whose simulation failed or is undefined.
PENALTY = 10.0
_counter = itertools.count()


def base_model() -> ModelSpec:
    """The registered ``acne`` model."""
    from gutskin.simulation import get_model

    return get_model("acne")


@contextmanager
def model_variant(values: Mapping[str, float] | None) -> Iterator[ModelSpec]:
    """The acne model with ``values`` as medians, as an object (nothing is registered).

    A context manager for the callers that used it as one; the spec travels to
    ``run_trial(..., model=spec)`` and the cohort functions.
    """
    if not values:
        yield base_model()
        return
    yield base_model().with_parameters(**{k: float(v) for k, v in values.items()})


# --------------------------------------------------------------------------- trials
def _arm_change(ep: pd.DataFrame, arm: str, endpoint: str, week: float) -> float:
    """% change of the arm mean at ``week`` vs baseline (patients observed at ``week``)."""
    g = ep[ep["arm"] == arm]
    post = g[(g["visit_week"] == week) & g["observed"]][["patient", endpoint]].dropna()
    if post.empty:
        return float("nan")
    base = g[g["visit_week"] == 0].set_index("patient")[endpoint]
    b = float(base.reindex(post["patient"]).mean())
    a = float(post[endpoint].mean())
    return 100.0 * (a - b) / b if b > 0 else float("nan")


def _patient_changes(ep: pd.DataFrame, arm: str, endpoint: str, week: float) -> pd.DataFrame:
    """Per patient observed at ``week``: baseline and value (columns ``base``, ``post``)."""
    g = ep[ep["arm"] == arm]
    post = g[(g["visit_week"] == week) & g["observed"]].set_index("patient")[endpoint]
    base = g[g["visit_week"] == 0].set_index("patient")[endpoint]
    return pd.DataFrame({"base": base.reindex(post.index), "post": post}).dropna()


def _spread(ep: pd.DataFrame, arm: str, endpoint: str, week: float, stat: str) -> float:
    """Per-patient change statistics of an arm: mean or SD of the absolute change, SD of
    the % change (patients with a positive baseline), or the largest fold rise."""
    d = _patient_changes(ep, arm, endpoint, week)
    if len(d) < 2:
        return float("nan")
    change = d["post"] - d["base"]
    if stat == "mean_change":
        return float(change.mean())
    if stat == "sd_change":
        return float(change.std(ddof=1))
    pos = d["base"] > 0
    if pos.sum() < 2:
        return float("nan")
    if stat == "sd_pct_change":
        return float((100.0 * change[pos] / d["base"][pos]).std(ddof=1))
    return float((d["post"][pos] / d["base"][pos]).max())  # max_fold_change


#: Trial statistics computed from per-patient changes (:func:`_spread`).
SPREAD_STATISTICS = ("mean_change", "sd_change", "sd_pct_change", "max_fold_change")


def trial_statistic(result: Any, target: Target) -> Any:
    """The simulated value of a trial target from one :class:`TrialResult`.

    Returns a float, or for ``direction``/``ordering`` a mapping arm -> % change.
    """
    o = target.options
    ep = result.endpoints
    stat = target.statistic
    week = float(o["visit_week"])
    if stat == "pct_change_of_means":
        return _arm_change(ep, o["arm"], o["endpoint"], week)
    if stat == "proportion":
        g = ep[(ep["arm"] == o["arm"]) & (ep["visit_week"] == week) & ep["observed"]]
        v = g[o["endpoint"]].dropna()
        return float(v.mean()) if len(v) else float("nan")
    if stat == "dropout":
        pts = result.patients[result.patients["arm"] == o["arm"]]
        return float((pts["dropout_week"] <= week).mean())
    if stat in ("baseline_mean", "baseline_sd"):
        g = ep[(ep["arm"] == o["arm"]) & (ep["visit_week"] == 0)][o["endpoint"]].dropna()
        return float(g.mean() if stat == "baseline_mean" else g.std(ddof=1))
    if stat in SPREAD_STATISTICS:
        return _spread(ep, o["arm"], o["endpoint"], week, stat)
    arms: list[str] = list(o.get("arms") or o.get("order") or [])
    return {a: _arm_change(ep, a, o["endpoint"], week) for a in arms}


def _run_design(
    ts: TargetSet,
    design_name: str,
    model: ModelSpec,
    seed: int,
    sample_size: int | None,
    solver: SolverOptions | None = None,
) -> Any:
    from gutskin.trial.run import run_trial

    d = ts.designs[design_name]
    upd: dict[str, Any] = {"model": model.name}
    if sample_size is not None:
        upd["sample_size"] = sample_size
    return run_trial(d.model_copy(update=upd), seed=seed, analyse=False, model=model, solver=solver)


# --------------------------------------------------------------------------- cohorts
def simulate_cohort(
    spec: ModelSpec,
    n: int,
    seed: int,
    regimens: Sequence[Mapping[str, Any]] = (),
    days: float = 0.0,
    burn_in: float = BURN_IN_DAYS,
    solver: SolverOptions | None = None,
) -> tuple[ModelSpec, BatchResult]:
    """``n`` virtual patients: untreated burn-in to baseline (t = 0), then ``regimens``.

    Output times are ``[-burn_in, 0]`` plus ``days`` when ``days > 0``; burn-in and
    treatment are one integration (the regimens start at day 0).  Patient draws come
    from the named per-patient streams, so a cohort is common random numbers across
    parameter candidates.  ``solver`` defaults to ``SolverOptions()`` (dense output).
    """
    from gutskin.model.interventions import arm_treatment

    idx = np.arange(n, dtype=np.int64)
    end = max(days, 0.0)
    tr = arm_treatment(regimens, days) if regimens and days > 0 else pipeline.Treatment()
    params = tr.apply(spec.parameter_names, pipeline.patient_parameters(spec, idx, seed))
    t_eval = [-burn_in, 0.0] + ([end] if end > 0 else [])
    res = pipeline.treat(
        spec,
        pipeline.initial_states(spec, params),
        params,
        idx,
        seed,
        t_eval,
        treatment=tr,
        solver=solver or SolverOptions(),
        noise_from=-burn_in,
    )
    return spec, res


def _select(spec: ModelSpec, res: BatchResult, select: Mapping[str, float]) -> NDArray[np.bool_]:
    inf = pipeline.output(spec, res, "inflammatory_lesions")[:, 1]
    ok = res.ok.copy()
    if "inflammatory_min" in select:
        ok &= inf >= float(select["inflammatory_min"])
    return ok


def cohort_statistic(
    spec: ModelSpec, target: Target, seed: int, solver: SolverOptions | None = None
) -> float:
    """Simulated value of a ``cohort`` or ``relation`` target."""
    o = target.options
    days = float(o["weeks"]) * 7.0
    spec, res = simulate_cohort(
        spec, int(o.get("n", 100)), seed, o["regimens"], days, solver=solver
    )
    ok = _select(spec, res, o.get("select") or {})
    if ok.sum() < 3:
        return float("nan")
    x = pipeline.output(spec, res, o["output"])[ok]
    change = 100.0 * (x[:, 2].mean() - x[:, 1].mean()) / x[:, 1].mean()
    if target.statistic == "pct_change_of_means":
        return float(change)
    seb = pipeline.output(spec, res, "sebum")[ok]
    seb_red = 100.0 * (1.0 - seb[:, 2].mean() / seb[:, 1].mean())
    return float(-change / seb_red) if seb_red > 1.0 else float("nan")


def population_statistic(
    spec: ModelSpec, target: Target, seed: int, cache: dict[Any, Any] | None = None
) -> float:
    """Simulated acne-vs-control contrast of an untreated population.

    Acne = at least ``cases.inflammatory_min`` inflammatory lesions (whole face, expected
    count; default 5), control = fewer than ``controls.inflammatory_max`` (default 1).
    A target sets them to its study's inclusion criteria where these are known (the
    defaults are model definitions, assumed; stated in docs/calibration.md).
    """
    o = target.options
    n = int(o.get("n", 400))
    key = (id(spec), n, seed)
    if cache is not None and key in cache:
        res = cache[key]
    else:
        _, res = simulate_cohort(spec, n, seed)
        if cache is not None:
            cache[key] = res
    inf = pipeline.output(spec, res, "inflammatory_lesions")[:, 1]
    acne = res.ok & (inf >= float((o.get("cases") or {}).get("inflammatory_min", 5.0)))
    ctrl = res.ok & (inf < float((o.get("controls") or {}).get("inflammatory_max", 1.0)))
    if acne.sum() < 3 or ctrl.sum() < 3:
        return float("nan")
    x = pipeline.output(spec, res, o["output"])[:, 1]
    a, c = float(x[acne].mean()), float(x[ctrl].mean())
    if target.statistic == "ratio_of_means":
        return a / c if c > 0 else float("nan")
    return a - c


def strain_statistic(target: Target) -> float:
    """A strain-library property in percent (e.g. LS03 anti-IL-8 suppression)."""
    from gutskin.model.strains import load_strains

    s = load_strains()[target.options["strain"]]
    return 100.0 * float(s.properties[target.options["property"]].value)


# --------------------------------------------------------------------------- evaluation
def evaluate(
    ts: TargetSet,
    values: Mapping[str, float] | None,
    *,
    seed: int = DEFAULT_SEED,
    targets: Sequence[Target] | None = None,
    scale: str = "fit",
    trials: Mapping[str, Any] | None = None,
    solver: SolverOptions | None = None,
) -> dict[str, Any]:
    """Simulate ``targets`` (default: all) at parameter medians ``values``.

    Parameters
    ----------
    ts : TargetSet
        Targets and designs.
    values : mapping or None
        Parameter medians replacing the table values (``None``: the table).
    seed : int
        Seed of every trial, cohort and population (common random numbers).
    targets : sequence of Target, optional
        Subset to simulate.
    scale : {"fit", "validate"}
        ``"fit"``: one trial per design at its ``fit_sample_size`` (a large virtual
        cohort); ``"validate"``: the design's own sample size (one replicate trial).
    trials : mapping, optional
        Design name -> an already simulated :class:`~gutskin.trial.result.TrialResult`
        (e.g. a replicate drawn from a virtual population) used instead of running the
        design; ``None`` as a value marks a design that could not be filled (NaN).
    solver : SolverOptions, optional
        Engine settings of every trial and cohort (default: the trial's
        ``SolverOptions()``, dense output on, for trials and cohorts alike).

    Returns
    -------
    dict
        Target id -> float, or arm -> % change mapping for direction/ordering targets;
        ``nan`` where undefined; ``None`` for targets without model counterpart.
    """
    todo = list(ts.targets if targets is None else targets)
    out: dict[str, Any] = {}
    with model_variant(values) as model:
        spec = model
        by_design: dict[str, list[Target]] = {}
        for t in todo:
            if t.simulator == "trial":
                by_design.setdefault(t.options["design"], []).append(t)
        for dname, group in by_design.items():
            n = ts.fit_sample_sizes[dname] if scale == "fit" else None
            try:
                if trials is not None and dname in trials:
                    res = trials[dname]
                    if res is None:
                        raise DesignError(f"design {dname!r} could not be filled")
                else:
                    res = _run_design(ts, dname, model, seed, n, solver)
            except DesignError:
                # this parameter set cannot fill the design (e.g. too few candidates meet
                # the entry criteria): its targets are undefined, which the objective
                # penalises
                for t in group:
                    out[t.id] = float("nan")
                continue
            except Exception as exc:
                ids = ", ".join(t.id for t in group)
                raise TargetError(
                    f"design {dname!r} (target(s) {ids}): the simulation failed: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            for t in group:
                out[t.id] = trial_statistic(res, t)
        cache: dict[Any, Any] = {}
        for t in todo:
            if t.simulator in ("cohort", "relation"):
                out[t.id] = cohort_statistic(spec, t, seed, solver)
            elif t.simulator == "population":
                out[t.id] = population_statistic(spec, t, seed, cache)
            elif t.simulator == "strain_property":
                out[t.id] = strain_statistic(t)
            elif t.simulator == "not_represented":
                out[t.id] = None
    return out


def residuals(ts: TargetSet, simulated: Mapping[str, Any]) -> dict[str, float]:
    """Standardised residual ``z`` of each fitted target (``PENALTY`` where undefined)."""
    z = {}
    for t in ts.fitted():
        v = simulated.get(t.id)
        if v is None or not np.isfinite(v):
            z[t.id] = PENALTY
        else:
            z[t.id] = float(t.z(float(v)))
    return z


def objective(
    ts: TargetSet,
    values: Mapping[str, float] | None,
    *,
    seed: int = DEFAULT_SEED,
    solver: SolverOptions | None = None,
) -> float:
    """``J = sum z^2`` over the fitted targets at ``values`` (deterministic for a seed)."""
    sim = evaluate(ts, values, seed=seed, targets=ts.fitted(), scale="fit", solver=solver)
    return float(sum(v * v for v in residuals(ts, sim).values()))
