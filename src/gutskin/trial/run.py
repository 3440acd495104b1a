"""Run an in-silico randomized controlled trial from a :class:`Design`.

Flow: screen candidates (sample parameters and covariates, burn in untreated
with disease-activity noise to each one's own baseline, observe at screening,
apply entry criteria) until the sample size is reached → randomize → simulate
each arm from baseline with its regimens, per-patient adherence and the shared
placebo-response inputs → observe at every visit → apply dropout → analyse.
Every random number comes from a named per-patient stream (or, for the
allocation sequence, a trial-level stream), so the same seed gives the same
trial and a patient's data do not depend on who else was screened.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gutskin.engine import Exposure, ModelSpec, Schedule, SolverOptions
from gutskin.engine.integrate import BatchResult
from gutskin.engine.random import uniforms
from gutskin.model.interventions import arm_treatment
from gutskin.population import pipeline
from gutskin.population.pipeline import Personalisation
from gutskin.simulation import get_model
from gutskin.trial.design import ENDPOINTS, Design, DesignError
from gutskin.trial.endpoints import REGISTRY
from gutskin.trial.observation import N_UNIFORMS, gags_improved, iga_success, observe_visits
from gutskin.trial.randomization import allocate
from gutskin.trial.result import AE_DRY_SKIN, AE_SHANNON_DROP, TrialResult

__all__ = ["MODEL_OUTPUTS", "TrialResult", "run_trial"]

#: Model output (state or observable) read for each expected quantity: the registry's
#: observed endpoints plus the papule and pustule counts that make up ``inflammatory``.
MODEL_OUTPUTS: dict[str, str] = {
    **{e.name: e.model_output for e in REGISTRY.values() if e.model_output is not None},
    "papules": "papules",
    "pustules": "pustules",
}


def _covariates(design: Design, idx: NDArray[np.int64], seed: int) -> pd.DataFrame:
    lo = design.population.age.min if design.population.age.min is not None else 12.0
    hi = design.population.age.max if design.population.age.max is not None else 40.0
    u = uniforms(seed, "screening", idx, 2)
    return pd.DataFrame(
        {
            "sex": np.where(u[:, 0] < design.population.female_fraction, "F", "M"),
            "age": lo + (hi - lo) * u[:, 1],
        },
        index=idx,
    )


def _presents(
    spec: ModelSpec,
    params: NDArray[np.float64],
    noise: Schedule | None,
    idx: NDArray[np.int64],
    seed: int,
) -> NDArray[np.bool_]:
    """Which candidates come forward for screening (care seeking while acne is active).

    A candidate presents with probability ``Phi(care_seeking * z)``, ``z`` the standardised
    slow disease activity at screening (``disease_activity / activity_sd`` on day 0), a
    uniform from the patient's ``"presentation"`` stream deciding.  With ``care_seeking``
    0 (or no slow activity) everyone presents.
    """
    from scipy.special import ndtr

    from gutskin.population.sampling import ACTIVITY_INPUT

    names = spec.parameter_names
    if (
        noise is None
        or "care_seeking" not in names
        or ACTIVITY_INPUT not in spec.input_names
        or "activity_sd" not in names
    ):
        return np.ones(len(idx), dtype=bool)
    beta = params[:, names.index("care_seeking")]
    sd = params[:, names.index("activity_sd")]
    seg = int(np.searchsorted(noise.times, 0.0, side="right")) - 1
    a0 = noise.values[:, seg, spec.input_names.index(ACTIVITY_INPUT)]
    z = np.divide(a0, sd, out=np.zeros_like(a0), where=sd > 0)
    u = uniforms(seed, "presentation", idx, 1)[:, 0]
    active = (beta > 0) & (sd > 0)
    return np.where(active, u < ndtr(beta * z), True)


def iga_cuts(spec: ModelSpec) -> NDArray[np.float64] | None:
    """The model's IGA cut points (log of 1 + weighted lesion count), or None for the default.

    Read from the observation parameters ``iga_cut_1`` .. ``iga_cut_4`` (weighted lesion
    counts at which IGA rises to 1 .. 4) where the model has them.
    """
    names = [f"iga_cut_{k}" for k in range(1, 5)]
    if not all(n in spec.parameter_names for n in names):
        return None
    values = spec.parameter_values()
    return np.log1p(np.array([values[n] for n in names], dtype=np.float64))


def _observe(
    design: Design,
    spec: ModelSpec,
    res: BatchResult,
    idx: NDArray[np.int64],
    seed: int,
    visit_numbers: list[int],
    post: list[bool],
) -> pd.DataFrame:
    """Observed endpoints at each output time of ``res`` (one column per visit)."""
    n, n_t = res.y.shape[0], res.y.shape[1]
    block = (max(visit_numbers) + 1, N_UNIFORMS)
    uni = uniforms(seed, "observation", idx, block[0] * block[1]).reshape(len(idx), *block)
    uni = uni[:, visit_numbers, :]
    try:
        expected = {k: pipeline.output(spec, res, v).reshape(-1) for k, v in MODEL_OUTPUTS.items()}
    except KeyError as exc:
        raise DesignError(f"{exc.args[0]}, needed by the trial") from None
    m = design.measurement
    obs = observe_visits(
        expected,
        uni.reshape(-1, N_UNIFORMS),
        post_baseline=np.repeat(np.array(post)[None, :], n, axis=0).reshape(-1),
        count_dispersion=m.count_dispersion,
        rater_cv=m.rater_cv,
        iga_rater_sd=m.iga_rater_sd,
        instrument_cv=m.instrument_cv,
        expectation_bias=design.placebo_response.expectation_bias,
        iga_cuts=iga_cuts(spec),
    )
    frame = pd.DataFrame({k: v for k, v in obs.items()})
    frame["patient"] = np.repeat(idx, n_t)
    frame["visit"] = np.tile(visit_numbers, n)
    return frame


def _eligible(design: Design, screen: pd.DataFrame) -> NDArray[np.bool_]:
    inc = design.population.inclusion
    ok = np.ones(len(screen), dtype=bool)
    for col, rng in (
        ("iga", inc.iga),
        ("inflammatory", inc.inflammatory),
        ("noninflammatory", inc.noninflammatory),
    ):
        if rng.min is not None:
            ok &= screen[col].to_numpy() >= rng.min
        if rng.max is not None:
            ok &= screen[col].to_numpy() <= rng.max
    ok &= screen["nodules"].to_numpy() <= inc.nodules_max
    return ok


def _dropout_weeks(design: Design, idx: NDArray[np.int64], seed: int) -> NDArray[np.float64]:
    rate = design.dropout.rate_per_week
    if rate <= 0:
        return np.full(len(idx), np.nan)
    shape = {"constant": 1.0, "early": 0.6, "late": 2.0}[design.dropout.pattern]
    # Weibull with the same 1-week hazard ... scale chosen so P(drop by week 1) = rate
    scale = (-np.log1p(-rate)) ** (-1.0 / shape)
    u = uniforms(seed, "dropout", idx, 1)[:, 0]
    return scale * (-np.log1p(-u)) ** (1.0 / shape)


def run_trial(
    design: Design,
    *,
    seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
    solver: SolverOptions | None = None,
    analyse: bool = True,
    population: Personalisation | None = None,
) -> TrialResult:
    """Simulate and analyse one trial.

    Parameters
    ----------
    design : Design
        Validated design.
    seed : int
        Fixes every random number of the trial.
    progress : callable, optional
        ``progress(stage, done, total)`` with stage ``"screening"`` or ``"treatment"``.
    solver : SolverOptions, optional
        How the engine integrates (default ``SolverOptions()``: auto method, rtol 1e-6,
        atol 1e-8, dense output).
    analyse : bool
        Compute summaries and comparisons (``False`` for raw replicates).
    population : Personalisation, optional
        Source that seeds the screened candidates (required when the design has
        ``population.from_table``:
        :func:`gutskin.microbiome.population_for_design` builds it).
    """
    spec = get_model(design.model)
    opts = solver or SolverOptions()
    if population is None and design.population.from_table is not None:
        raise DesignError(
            "population.from_table: this design seeds its patients from a microbiome table; "
            "build it with gutskin.microbiome.population_for_design(design, seed) "
            "and pass it as run_trial(..., population=...) (the CLI does this for you)"
        )
    days = design.duration_weeks * 7.0
    burn = design.population.burn_in_days
    n_target = design.sample_size
    limit = int(np.ceil(design.population.max_screened_per_randomized * n_target))
    enrolled: list[pd.DataFrame] = []
    y_base: list[NDArray[np.float64]] = []
    p_base: list[NDArray[np.float64]] = []
    n_enrolled = 0
    screened = 0  # candidates drawn (those who came forward: n_presented)
    n_presented = 0
    batch = max(32, 2 * n_target)
    while n_enrolled < n_target:
        if screened >= limit:
            raise DesignError(
                f"population.inclusion: screened {screened} candidates but only {n_enrolled} of "
                f"{n_target} met the entry criteria; relax population.inclusion or raise "
                "population.max_screened_per_randomized"
            )
        idx = np.arange(screened, min(screened + batch, limit), dtype=np.int64)
        screened += len(idx)
        cov = _covariates(design, idx, seed)
        params = pipeline.patient_parameters(
            spec, idx, seed, sex=cov["sex"].to_numpy(), population=population
        )
        # noise up to and including day 0: the burn-in and the day-0 activity that
        # decides presentation read the same path
        noise = pipeline.noise_schedule(spec, params, idx, seed, -burn, 1.0)
        sched = pipeline.untreated_schedule(spec, len(idx), -burn, noise)
        # Presentation depends on day-0 disease activity and parameters only (not on the
        # burn-in), so only the candidates who come forward are burned in and screened.
        came = np.flatnonzero(_presents(spec, params, noise, idx, seed))
        n_presented += len(came)
        if not len(came):
            continue
        idx, params = idx[came], params[came]
        cov = cov.iloc[came]
        sched = Schedule(times=sched.times, values=sched.values[came])
        res, params = pipeline.burn_in(
            spec, params, idx, seed, burn, solver=opts, schedule=sched, population=population
        )
        screen = _observe(design, spec, res, idx, seed, [0, 0], [False, False])
        screen = screen.iloc[1::2].reset_index(drop=True)
        ok = _eligible(design, screen) & res.ok
        take = np.flatnonzero(ok)[: n_target - n_enrolled]
        if len(take):
            part = screen.iloc[take].copy()
            part["sex"] = cov["sex"].to_numpy()[take]
            part["age"] = cov["age"].to_numpy()[take]
            enrolled.append(part)
            y_base.append(res.y[take, -1, :])
            p_base.append(params[take])
            n_enrolled += len(take)
        if progress:
            progress("screening", n_enrolled, n_target)

    base = pd.concat(enrolled, ignore_index=True)
    idx = base["patient"].to_numpy(dtype=np.int64)
    y0 = np.vstack(y_base)
    params = np.vstack(p_base)
    arms = allocate(design, base, seed)
    base["arm"] = arms
    # treatment period, arm by arm
    weeks = np.array(design.visits_weeks, dtype=float)
    t_eval = np.unique(np.concatenate([[0.0], weeks * 7.0, [days]]))
    visit_pos = np.searchsorted(t_eval, weeks * 7.0)
    rows = []
    status = np.zeros(len(idx), dtype=np.int64)
    failures: dict[str, int] = {}
    adherence = _adherence(design, idx, seed)
    done = 0
    for arm in design.arms:
        sel = np.flatnonzero(arms == arm.name)
        if not len(sel):
            continue
        tr = arm_treatment(arm.regimens, days)
        if design.placebo_response.skincare > 0 and "skincare" in spec.input_names:
            tr = tr.with_exposures(
                Exposure("skincare", design.placebo_response.skincare, 0.0, days)
            )
        res = pipeline.treat(
            spec,
            y0[sel],
            params[sel],
            idx[sel],
            seed,
            t_eval,
            treatment=tr,
            solver=opts,
            adherence=adherence[sel],
            noise_from=-burn,
        )
        status[sel] = res.status
        for name, cnt in res.failures().items():
            failures[name] = failures.get(name, 0) + cnt
        sub = BatchResult(
            t=res.t[visit_pos],
            y=res.y[:, visit_pos, :],
            observables=res.observables[:, visit_pos, :],
            status=res.status,
            n_accepted=res.n_accepted,
            n_rejected=res.n_rejected,
            n_rhs=res.n_rhs,
            n_jac=res.n_jac,
            method_used=res.method_used,
        )
        obs = _observe(
            design, spec, sub, idx[sel], seed, list(range(len(weeks))), [w > 0 for w in weeks]
        )
        obs["arm"] = arm.name
        rows.append(obs)
        done += len(sel)
        if progress:
            progress("treatment", done, len(idx))
    ep = pd.concat(rows, ignore_index=True)
    ep["visit_week"] = weeks[ep["visit"].to_numpy()]
    # the baseline visit is the screening visit: replace visit-0 records
    b = base.set_index("patient")
    is0 = ep["visit"].to_numpy() == 0
    for col in b.columns:
        if col in ep.columns and col not in ("arm", "visit"):
            ep.loc[is0, col] = b.loc[ep.loc[is0, "patient"], col].to_numpy()
    drop = _dropout_weeks(design, idx, seed)
    pts = pd.DataFrame(
        {
            "patient": idx,
            "arm": arms,
            "sex": base["sex"],
            "age": base["age"],
            "adherence": adherence,
            "dropout_week": drop,
            "solver_ok": status == 0,
            "solver_status": status,
        }
    )
    dmap = dict(zip(idx, drop, strict=True))
    okmap = dict(zip(idx, status == 0, strict=True))
    dw = ep["patient"].map(dmap).to_numpy()
    observed = ~(ep["visit_week"].to_numpy() >= dw) & ep["patient"].map(okmap).to_numpy()
    ep["observed"] = observed.astype(bool)
    ep["sex"] = ep["patient"].map(dict(zip(idx, base["sex"], strict=True)))
    ep["age"] = ep["patient"].map(dict(zip(idx, base["age"], strict=True)))
    # responder endpoints relative to baseline
    b_iga = ep["patient"].map(dict(zip(idx, base["iga"], strict=True))).to_numpy()
    b_gags = ep["patient"].map(dict(zip(idx, base["gags"], strict=True))).to_numpy()
    ep["iga_success"] = iga_success(ep["iga"].to_numpy(), b_iga)
    ep["gags_improved"] = gags_improved(ep["gags"].to_numpy(), b_gags)
    ep.loc[is0, ["iga_success", "gags_improved"]] = np.nan
    # adverse-event-like flags the model supports (relative to the patient's own baseline)
    b_seb = ep["patient"].map(dict(zip(idx, base["sebum"], strict=True))).to_numpy()
    b_sh = ep["patient"].map(dict(zip(idx, base["gut_shannon"], strict=True))).to_numpy()
    ep["ae_dry_skin"] = (ep["sebum"].to_numpy() < AE_DRY_SKIN * b_seb).astype(float)
    ep["ae_gut_diversity_loss"] = (ep["gut_shannon"].to_numpy() < b_sh - AE_SHANNON_DROP).astype(
        float
    )
    ep.loc[is0, ["ae_dry_skin", "ae_gut_diversity_loss"]] = np.nan
    value_cols = [c for c in ENDPOINTS if c in ep.columns]
    ae_cols = ["ae_dry_skin", "ae_gut_diversity_loss"]
    # every per-visit value is missing where the visit is not observed (after dropout,
    # or after a solver failure): endpoints, the papule/pustule counts behind
    # ``inflammatory`` and the adverse-event flags alike
    ep.loc[~ep["observed"], [*value_cols, "papules", "pustules", *ae_cols]] = np.nan
    cols = [
        "patient",
        "arm",
        "visit",
        "visit_week",
        "observed",
        "sex",
        "age",
        *value_cols,
        "papules",
        "pustules",
        *ae_cols,
    ]
    ep = ep[cols].sort_values(["patient", "visit"]).reset_index(drop=True)
    result = TrialResult(
        design=design,
        seed=seed,
        endpoints=ep,
        patients=pts,
        n_screened=n_presented,
        solver_failures=failures,
        n_candidates=screened,
    )
    if analyse:
        from gutskin.trial.analysis import analyse_trial

        result = analyse_trial(result)
    return result


def _adherence(design: Design, idx: NDArray[np.int64], seed: int) -> NDArray[np.float64]:
    m, c = design.adherence.mean, design.adherence.concentration
    if m >= 1.0:
        return np.ones(len(idx))
    if m <= 0.0:
        return np.zeros(len(idx))
    from scipy.special import betaincinv

    # Beta(m c, (1 - m) c) by its inverse CDF of the patient's "adherence" uniform
    u = uniforms(seed, "adherence", idx, 1)[:, 0]
    return np.asarray(betaincinv(m * c, (1 - m) * c, u), dtype=np.float64)
