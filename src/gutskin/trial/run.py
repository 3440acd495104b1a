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

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gutskin.engine import Exposure, ModelSpec, Schedule, SolverOptions, Treatment
from gutskin.engine.integrate import BatchResult
from gutskin.engine.random import uniforms
from gutskin.model.interventions import arm_treatment
from gutskin.model.strains import Strain
from gutskin.population import pipeline
from gutskin.population.pipeline import Personalisation
from gutskin.simulation import get_model
from gutskin.trial.design import ENDPOINTS, Design, DesignError
from gutskin.trial.endpoints import REGISTRY, responder_endpoints
from gutskin.trial.observation import N_UNIFORMS, observation_uniforms, observe_visits
from gutskin.trial.randomization import allocate
from gutskin.trial.result import AE_DRY_SKIN, AE_SHANNON_DROP, TrialResult

__all__ = [
    "MODEL_OUTPUTS",
    "Candidates",
    "TrialResult",
    "arm_treatment_of",
    "assemble_trial",
    "burn_in_candidates",
    "candidate_batches",
    "expected_outputs",
    "run_trial",
    "screening_observation",
    "treat_arm",
    "visit_times",
]

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
    a0 = noise.at(0.0)[:, spec.input_names.index(ACTIVITY_INPUT)]
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


def expected_outputs(spec: ModelSpec, res: BatchResult) -> dict[str, NDArray[np.float64]]:
    """The model's expected value of each observed quantity (:data:`MODEL_OUTPUTS`), (N, T)."""
    try:
        return {k: pipeline.output(spec, res, v) for k, v in MODEL_OUTPUTS.items()}
    except KeyError as exc:
        raise DesignError(f"{exc.args[0]}, needed by the trial") from None


def _observe_arrays(
    design: Design,
    spec: ModelSpec,
    expected: dict[str, NDArray[np.float64]],
    idx: NDArray[np.int64],
    seed: int,
    visit_numbers: list[int],
    post: list[bool],
) -> dict[str, NDArray[np.float64]]:
    """Observed endpoints (N·T, patient-major) from expected values (N, T)."""
    n = len(idx)
    uni = observation_uniforms(seed, idx, max(visit_numbers) + 1)[:, visit_numbers, :]
    m = design.measurement
    obs = observe_visits(
        {k: v.reshape(-1) for k, v in expected.items()},
        uni.reshape(-1, N_UNIFORMS),
        post_baseline=np.repeat(np.array(post)[None, :], n, axis=0).reshape(-1),
        count_dispersion=m.count_dispersion,
        rater_cv=m.rater_cv,
        iga_rater_sd=m.iga_rater_sd,
        instrument_cv=m.instrument_cv,
        expectation_bias=design.placebo_response.expectation_bias,
        iga_cuts=iga_cuts(spec),
    )
    return obs


def screening_observation(
    design: Design,
    spec: ModelSpec,
    base_expected: dict[str, NDArray[np.float64]],
    idx: NDArray[np.int64],
    seed: int,
) -> tuple[pd.DataFrame, NDArray[np.bool_]]:
    """The screening (baseline) visit's observations and who meets the entry criteria.

    ``base_expected`` holds each quantity's expected value on day 0, shape (N, 1).
    """
    obs = _observe_arrays(design, spec, base_expected, idx, seed, [0], [False])
    screen = pd.DataFrame(obs)
    screen["patient"] = idx
    screen["visit"] = 0
    return screen, _eligible(design, screen)


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


@dataclass(frozen=True)
class Candidates:
    """Candidates who came forward, burned in to their own day-0 baseline.

    What belongs to the patient: covariates, parameters, baseline states and the
    expected observations on day 0; ``ok`` is False where the burn-in failed.
    """

    indices: NDArray[np.int64]
    sex: NDArray[np.str_]
    age: NDArray[np.float64]
    params: NDArray[np.float64]
    y0: NDArray[np.float64]
    base_expected: dict[str, NDArray[np.float64]]
    ok: NDArray[np.bool_]

    def take(self, rows: NDArray[np.intp]) -> Candidates:
        """The candidates at ``rows``."""
        return Candidates(
            indices=self.indices[rows],
            sex=self.sex[rows],
            age=self.age[rows],
            params=self.params[rows],
            y0=self.y0[rows],
            base_expected={k: v[rows] for k, v in self.base_expected.items()},
            ok=self.ok[rows],
        )


def burn_in_candidates(
    design: Design,
    spec: ModelSpec,
    idx: NDArray[np.int64],
    seed: int,
    solver: SolverOptions,
    population: Personalisation | None = None,
) -> Candidates:
    """Draw candidates ``idx``, keep those who come forward and burn them in untreated.

    Presentation depends on day-0 disease activity and parameters only (not on the
    burn-in), so it is decided first and only those who come forward are integrated.
    """
    burn = design.population.burn_in_days
    cov = _covariates(design, idx, seed)
    params = pipeline.patient_parameters(
        spec, idx, seed, sex=cov["sex"].to_numpy(), population=population
    )
    # noise up to and including day 0: the burn-in and the day-0 activity that decides
    # presentation read the same path
    noise = pipeline.noise_schedule(spec, params, idx, seed, -burn, 1.0)
    sched = pipeline.untreated_schedule(spec, len(idx), -burn, noise)
    came = np.flatnonzero(_presents(spec, params, noise, idx, seed))
    idx, params = idx[came], params[came]
    sex = cov["sex"].to_numpy()[came]
    age = cov["age"].to_numpy(dtype=float)[came]
    if not len(came):
        n_s = len(spec.state_names)
        return Candidates(idx, sex, age, params, np.empty((0, n_s)), {}, np.zeros(0, bool))
    sched = sched.take(came)
    res, params = pipeline.burn_in(
        spec, params, idx, seed, burn, solver=solver, schedule=sched, population=population
    )
    return Candidates(
        indices=idx,
        sex=sex,
        age=age,
        params=params,
        y0=np.ascontiguousarray(res.y[:, -1, :]),
        base_expected={k: v[:, -1:] for k, v in expected_outputs(spec, res).items()},
        ok=np.asarray(res.ok, dtype=bool),
    )


def candidate_batches(
    design: Design,
    spec: ModelSpec,
    seed: int,
    solver: SolverOptions,
    population: Personalisation | None,
    *,
    limit: int,
    batch: int,
    shortfall: Callable[[int], str],
) -> Iterator[tuple[Candidates, int]]:
    """Screen candidates ``0, 1, 2, ...`` in batches: burn each batch in and yield it.

    Yields ``(candidates, drawn)``, ``drawn`` the candidates drawn so far; the caller
    takes what it needs and stops iterating when it has enough. Drawing past ``limit``
    candidates raises :class:`DesignError` with ``shortfall(drawn)`` as its message.
    Batches keep memory flat (a candidate's burn-in noise schedule is about 25 kB); who
    is taken does not depend on the batch size (per-patient streams, taken in order).
    """
    drawn = 0
    while True:
        if drawn >= limit:
            raise DesignError(shortfall(drawn))
        idx = np.arange(drawn, min(drawn + batch, limit), dtype=np.int64)
        drawn += len(idx)
        yield burn_in_candidates(design, spec, idx, seed, solver, population), drawn


def visit_times(
    design: Design,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.intp]]:
    """Visit weeks, the output times of the treatment period (days) and each visit's position."""
    days = design.duration_weeks * 7.0
    weeks = np.array(design.visits_weeks, dtype=float)
    t_eval = np.unique(np.concatenate([[0.0], weeks * 7.0, [days]]))
    return weeks, t_eval, np.searchsorted(t_eval, weeks * 7.0)


def arm_treatment_of(
    design: Design,
    spec: ModelSpec,
    arm_name: str,
    strains: Mapping[str, Strain] | None = None,
) -> Treatment:
    """The :class:`Treatment` of one arm: its regimens plus the shared placebo inputs."""
    days = design.duration_weeks * 7.0
    arm = next(a for a in design.arms if a.name == arm_name)
    tr = arm_treatment(arm.regimens, days, strains=strains)
    if design.placebo_response.skincare > 0 and "skincare" in spec.input_names:
        tr = tr.with_exposures(Exposure("skincare", design.placebo_response.skincare, 0.0, days))
    return tr


def treat_arm(
    design: Design,
    spec: ModelSpec,
    arm_name: str,
    y0: NDArray[np.float64],
    params: NDArray[np.float64],
    idx: NDArray[np.int64],
    seed: int,
    adherence: NDArray[np.float64],
    solver: SolverOptions,
    strains: Mapping[str, Strain] | None = None,
) -> BatchResult:
    """Patients from their baseline under one arm (regimens and the shared placebo inputs),
    at the visits only (:func:`visit_times`); ``strains`` is the strain library (default
    the packaged one)."""
    tr = arm_treatment_of(design, spec, arm_name, strains)
    _, t_eval, visit_pos = visit_times(design)
    res = pipeline.treat(
        spec,
        y0,
        params,
        idx,
        seed,
        t_eval,
        treatment=tr,
        solver=solver,
        adherence=adherence,
        noise_from=-design.population.burn_in_days,
    )
    return BatchResult(
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


def run_trial(
    design: Design,
    *,
    seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
    solver: SolverOptions | None = None,
    analyse: bool = True,
    population: Personalisation | None = None,
    model: ModelSpec | None = None,
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
    model : ModelSpec, optional
        The model to simulate instead of the design's named one (e.g. a variant made with
        :meth:`~gutskin.engine.spec.ModelSpec.with_parameters`).
    """
    spec = model if model is not None else get_model(design.model)
    opts = solver or SolverOptions()
    if population is None and design.population.from_table is not None:
        raise DesignError(
            "population.from_table: this design seeds its patients from a microbiome table; "
            "build it with gutskin.microbiome.population_for_design(design, seed) "
            "and pass it as run_trial(..., population=...) (the CLI does this for you)"
        )
    n_target = design.sample_size
    limit = int(np.ceil(design.population.max_screened_per_randomized * n_target))
    enrolled: list[pd.DataFrame] = []
    y_base: list[NDArray[np.float64]] = []
    p_base: list[NDArray[np.float64]] = []
    n_enrolled = 0
    screened = 0  # candidates drawn (those who came forward: n_presented)
    n_presented = 0

    def shortfall(drawn: int) -> str:
        return (
            f"population.inclusion: screened {drawn} candidates but only {n_enrolled} of "
            f"{n_target} met the entry criteria; relax population.inclusion or raise "
            "population.max_screened_per_randomized"
        )

    batch = min(max(32, 2 * n_target), 4096)
    for cand, screened in candidate_batches(  # noqa: B007 (read after the loop)
        design, spec, seed, opts, population, limit=limit, batch=batch, shortfall=shortfall
    ):
        n_presented += len(cand.indices)
        if len(cand.indices):
            screen, eligible = screening_observation(
                design, spec, cand.base_expected, cand.indices, seed
            )
            take = np.flatnonzero(eligible & cand.ok)[: n_target - n_enrolled]
            if len(take):
                part = screen.iloc[take].copy()
                part["sex"] = cand.sex[take]
                part["age"] = cand.age[take]
                enrolled.append(part)
                y_base.append(cand.y0[take])
                p_base.append(cand.params[take])
                n_enrolled += len(take)
            if progress:
                progress("screening", n_enrolled, n_target)
        if n_enrolled >= n_target:
            break

    base = pd.concat(enrolled, ignore_index=True)
    idx = base["patient"].to_numpy(dtype=np.int64)
    y0 = np.vstack(y_base)
    params = np.vstack(p_base)
    arms = allocate(design, base, seed)
    adherence = _adherence(design, idx, seed)
    visits: dict[str, dict[str, NDArray[np.float64]]] = {}
    status = np.zeros(len(idx), dtype=np.int64)
    failures: dict[str, int] = {}
    done = 0
    for arm in design.arms:
        sel = np.flatnonzero(arms == arm.name)
        if not len(sel):
            continue
        res = treat_arm(
            design, spec, arm.name, y0[sel], params[sel], idx[sel], seed, adherence[sel], opts
        )
        status[sel] = res.status
        for name, cnt in res.failures().items():
            failures[name] = failures.get(name, 0) + cnt
        visits[arm.name] = expected_outputs(spec, res)
        done += len(sel)
        if progress:
            progress("treatment", done, len(idx))
    result = assemble_trial(
        design,
        spec,
        seed=seed,
        base=base,
        arms=arms,
        visits=visits,
        status=status,
        adherence=adherence,
        dropout_week=_dropout_weeks(design, idx, seed),
        n_screened=n_presented,
        failures=failures,
        n_candidates=screened,
    )
    result = replace(result, baseline=pipeline.Baseline(idx, params, y0))
    if analyse:
        from gutskin.trial.analysis import analyse_trial

        result = analyse_trial(result)
    return result


def assemble_trial(
    design: Design,
    spec: ModelSpec,
    *,
    seed: int,
    base: pd.DataFrame,
    arms: NDArray[np.str_],
    visits: dict[str, dict[str, NDArray[np.float64]]],
    status: NDArray[np.int64],
    adherence: NDArray[np.float64],
    dropout_week: NDArray[np.float64],
    n_screened: int,
    failures: dict[str, int],
    n_candidates: int,
) -> TrialResult:
    """Observe the randomized patients at every visit and make the trial's tables.

    ``base`` is the screening observation of the randomized patients (``patient``, the
    observed endpoints, ``sex``, ``age``), in randomization order; ``visits[arm]`` the
    expected values at the visits of that arm's patients (rows in ``base`` order among
    the arm's patients).  Observation noise comes from ``seed``'s per-patient streams.
    """
    idx = base["patient"].to_numpy(dtype=np.int64)
    weeks, _, _ = visit_times(design)
    n_vis = len(weeks)
    parts: list[dict[str, NDArray[Any]]] = []
    for arm in design.arms:
        sel = np.flatnonzero(arms == arm.name)
        if not len(sel):
            continue
        obs = _observe_arrays(
            design,
            spec,
            visits[arm.name],
            idx[sel],
            seed,
            list(range(n_vis)),
            [bool(w > 0) for w in weeks],
        )
        obs["_pos"] = np.repeat(sel, n_vis)
        obs["visit"] = np.tile(np.arange(n_vis), len(sel))
        parts.append(obs)
    col: dict[str, NDArray[Any]] = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    pos, visit = col.pop("_pos"), col.pop("visit")
    # rows ordered by patient number, then visit
    order = np.lexsort((visit, idx[pos]))
    pos, visit = pos[order], visit[order]
    col = {k: v[order] for k, v in col.items()}
    # the baseline visit is the screening visit: its records replace visit 0
    is0 = visit == 0
    for name in col:
        if name in base.columns:
            col[name][is0] = base[name].to_numpy(dtype=float)[pos[is0]]
    patient = idx[pos]
    visit_week = weeks[visit]
    ok = status == 0
    with np.errstate(invalid="ignore"):
        observed = ~(visit_week >= dropout_week[pos]) & ok[pos]
    # responder endpoints, by their rules in the endpoint registry
    responders = [e for e in responder_endpoints() if e.severity in col]
    for e in responders:
        assert e.severity is not None
        base_sev = base[e.severity].to_numpy(dtype=float)[pos]
        col[e.name] = e.responder(col[e.severity], base_sev)
    # adverse-event-like flags the model supports (relative to the patient's own baseline)
    b_seb = base["sebum"].to_numpy(dtype=float)[pos]
    b_sh = base["gut_shannon"].to_numpy(dtype=float)[pos]
    col["ae_dry_skin"] = (col["sebum"] < AE_DRY_SKIN * b_seb).astype(float)
    col["ae_gut_diversity_loss"] = (col["gut_shannon"] < b_sh - AE_SHANNON_DROP).astype(float)
    for name in (*(e.name for e in responders), "ae_dry_skin", "ae_gut_diversity_loss"):
        col[name][is0] = np.nan
    value_cols = [c for c in ENDPOINTS if c in col]
    ae_cols = ["ae_dry_skin", "ae_gut_diversity_loss"]
    # every per-visit value is missing where the visit is not observed (after dropout,
    # or after a solver failure): endpoints, the papule/pustule counts behind
    # ``inflammatory`` and the adverse-event flags alike
    for name in (*value_cols, "papules", "pustules", *ae_cols):
        col[name] = np.where(observed, col[name], np.nan)
    sex = base["sex"].to_numpy(dtype=object)
    age = base["age"].to_numpy(dtype=float)
    ep = pd.DataFrame(
        {
            "patient": patient,
            "arm": np.asarray(arms, dtype=object)[pos],
            "visit": visit.astype(np.int64),
            "visit_week": visit_week,
            "observed": observed.astype(bool),
            "sex": sex[pos],
            "age": age[pos],
            **{c: col[c] for c in value_cols},
            "papules": col["papules"],
            "pustules": col["pustules"],
            **{c: col[c] for c in ae_cols},
        }
    )
    pts = pd.DataFrame(
        {
            "patient": idx,
            "arm": arms,
            "sex": base["sex"],
            "age": base["age"],
            "adherence": adherence,
            "dropout_week": dropout_week,
            "solver_ok": ok,
            "solver_status": status,
        }
    )
    return TrialResult(
        design=design,
        seed=seed,
        endpoints=ep,
        patients=pts,
        n_screened=n_screened,
        solver_failures=failures,
        n_candidates=n_candidates,
    )


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
