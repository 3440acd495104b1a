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

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gutskin.engine import Exposure, ModelSpec, SolverOptions, Treatment
from gutskin.engine.integrate import BatchResult
from gutskin.engine.random import uniforms
from gutskin.model.interventions import arm_treatment
from gutskin.model.strains import Strain
from gutskin.population import pipeline
from gutskin.population.pipeline import Personalisation
from gutskin.simulation import get_model
from gutskin.trial.design import ENDPOINTS, Design, DesignError
from gutskin.trial.endpoints import responder_endpoints
from gutskin.trial.randomization import allocate
from gutskin.trial.result import AE_DRY_SKIN, AE_SHANNON_DROP, TrialResult
from gutskin.trial.screening import (  # noqa: F401 (_presents is named in acne_model.yaml)
    MODEL_OUTPUTS,
    Candidates,
    _observe_arrays,
    _presents,
    burn_in_candidates,
    candidate_batches,
    expected_outputs,
    screening_observation,
)

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


def _dropout_weeks(design: Design, idx: NDArray[np.int64], seed: int) -> NDArray[np.float64]:
    rate = design.dropout.rate_per_week
    if rate <= 0:
        return np.full(len(idx), np.nan)
    shape = {"constant": 1.0, "early": 0.6, "late": 2.0}[design.dropout.pattern]
    # Weibull with the same 1-week hazard ... scale chosen so P(drop by week 1) = rate
    scale = (-np.log1p(-rate)) ** (-1.0 / shape)
    u = uniforms(seed, "dropout", idx, 1)[:, 0]
    return scale * (-np.log1p(-u)) ** (1.0 / shape)


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
