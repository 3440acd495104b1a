"""Global sensitivity analysis of trial-level outcomes: SALib sample → engine → outcome → indices.

How a factor sample is evaluated (the **fixed-cohort, common-random-numbers** design):

1. A small virtual cohort is enrolled once with the trial machinery
   (:func:`gutskin.trial.run.run_trial` on the design, seed ``seed``): the same patients
   (parameters, covariates, adherence, disease-activity noise, screening) as the first
   ``cohort`` randomized patients of ``gutskin trial DESIGN --seed S``.
2. Every factor sample is applied to *all* cohort patients (parameter factors shift
   the population median, so each patient keeps its own quantile; strain properties
   and doses act in every simulated arm that gives the strain or intervention), and
   every patient is simulated in the analysed arm and, for ``diff`` outcomes, in the
   reference arm — a paired comparison with the same noise paths, dosing days and
   measurement uniforms for every sample.  Patients are not re-screened when a factor
   changes their baseline: the cohort is fixed.
3. The outcome is the cohort statistic (mean, change, difference between arms; see
   :mod:`gutskin.sensitivity.outcomes`) of that sample.

Common random numbers make the outcome a smooth, deterministic function of the factors
(no Monte-Carlo noise from re-drawing patients), so the indices describe how the
*expected* trial result for this population responds to the factors; the cohort size
sets how well the cohort stands for the population, not the noise of the indices.

Cost: all samples × patients of a chunk are integrated in one batched engine call.  A
baseline burn-in per sample is run only when some factor can change the untreated
dynamics, and an arm is simulated once (not per sample) when no factor can act on it;
both are decided from the model equations (a parameter absent from the right-hand side
once the arm's unused inputs are zero, and the states they keep at zero, cannot act).
Evaluated chunks are cached in ``partial_dir`` (``.DIR.sensitivity-cache`` beside ``DIR``
from the CLI) and reused with ``resume=True``.

References
----------
Saltelli A, Ratto M, Andres T, et al. *Global Sensitivity Analysis. The Primer*. Wiley,
2008.
Saltelli A et al. Variance based sensitivity analysis of model output. Design and
estimator for the total sensitivity index. Comput Phys Commun 2010;181:259-270.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sympy as sp
from numpy.typing import NDArray

from gutskin.engine import Exposure, ModelSpec, Schedule, Treatment, integrate
from gutskin.engine.integrate import BatchResult, Status
from gutskin.engine.options import SolverOptions
from gutskin.engine.random import derived_seed, uniforms
from gutskin.model.interventions import arm_treatment, get_intervention
from gutskin.model.strains import Strain, load_strains
from gutskin.population import pipeline
from gutskin.population.covariates import apply_covariates
from gutskin.population.pipeline import Personalisation
from gutskin.population.sampling import (
    ACTIVITY_INPUT,
    NOISE_INPUT,
    parameter_uniforms,
    sample_parameters,
    truncated_lognormal,
)
from gutskin.sensitivity.factors import (
    Factor,
    FactorError,
    arm_strains,
    factor_table,
    resolve_factors,
    salib_problem,
    to_physical,
)
from gutskin.sensitivity.methods import MethodError, SensitivityMethod, get_method
from gutskin.sensitivity.outcomes import Outcome, OutcomeError, parse_outcome, reduce_outcome
from gutskin.simulation import get_model
from gutskin.trial.design import Design, DesignError, builtin_designs, load_design
from gutskin.trial.endpoints import REGISTRY as ENDPOINT_REGISTRY
from gutskin.trial.observation import N_UNIFORMS, observe_visits
from gutskin.trial.run import MODEL_OUTPUTS, iga_cuts, run_trial

__all__ = [
    "NOISE_PARAMETERS",
    "USER_ERRORS",
    "Cohort",
    "ModelEvaluator",
    "Plan",
    "SensitivityError",
    "SensitivityResult",
    "analyse_function",
    "build_cohort",
    "execute",
    "influential_parameters",
    "plan",
    "run_sensitivity",
    "sensitivity",
]

#: Parameters that shape the disease-activity noise input (its OU path), not the ODE.
NOISE_PARAMETERS = ("flare_sd", "flare_tau", "activity_sd", "activity_tau")
#: Default cohort size (patients evaluated for every factor sample).
DEFAULT_COHORT = 32
#: Rows (samples × patients) per engine call.
DEFAULT_CHUNK_ROWS = 2048


class SensitivityError(ValueError):
    """Invalid sensitivity-analysis input (design, arm, cohort, resume state)."""


def _derived_seed(seed: int, stream: int) -> int:
    # 32 bits: SALib seeds numpy's legacy global generator
    return derived_seed(seed, "sensitivity_sample", stream) & 0xFFFFFFFF


# --------------------------------------------------------------------------- structure
_INFLUENCE_CACHE: dict[tuple[str, frozenset[str], tuple[str, ...]], frozenset[str]] = {}


def influential_parameters(
    spec: ModelSpec, active_inputs: Sequence[str], outputs: Sequence[str] = ()
) -> frozenset[str]:
    """Parameters that can change the states or ``outputs`` when only ``active_inputs`` vary.

    Inputs not in ``active_inputs`` are set to their defaults; a state whose initial value
    is 0 and whose rate then vanishes at 0 (given the other such states at 0) stays 0 and
    is substituted.  A parameter absent from every remaining rate, from the initial-value
    expressions and from the expressions of ``outputs`` cannot influence them.  The
    analysis is structural (exact arithmetic zeros only) and errs on the side of
    "influential".

    Parameters
    ----------
    spec : ModelSpec
        The model.
    active_inputs : sequence of str
        Inputs that may be non-default (e.g. the arm's doses and the noise).
    outputs : sequence of str
        Observables (assignments) or states whose expressions count too.

    Returns
    -------
    frozenset of str
        Names of possibly influential parameters.
    """
    key = (spec.structure_hash(), frozenset(active_inputs), tuple(outputs))
    if key in _INFLUENCE_CACHE:
        return _INFLUENCE_CACHE[key]
    sym = spec.symbols
    rates = spec.expanded_rates
    sub: dict[sp.Basic, sp.Basic] = {
        sym[u.name]: sp.Float(u.default) for u in spec.inputs if u.name not in active_inputs
    }
    zero: set[str] = set()
    changed = True
    while changed:
        changed = False
        for s in spec.states:
            if s.name in zero or isinstance(s.initial, str) or float(s.initial) != 0.0:
                continue
            rep = dict(sub)
            rep.update({sym[z]: sp.Integer(0) for z in (*zero, s.name)})
            if rates[s.name].xreplace(rep) == 0:
                zero.add(s.name)
                changed = True
    rep = dict(sub)
    rep.update({sym[z]: sp.Integer(0) for z in zero})
    exprs = [rates[s] for s in spec.state_names if s not in zero]
    exprs += [spec.expanded_assignments[o] for o in outputs if o in spec.assignment_names]
    used: set[str] = set()
    for e in exprs:
        r = e.xreplace(rep)
        if r.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            r = e  # degenerate substitution: keep every symbol
        used |= {str(x) for x in r.free_symbols}
    for s in spec.states:
        if isinstance(s.initial, str):
            used |= {str(x) for x in spec._parse(s.initial, s.name).free_symbols}
    out = frozenset(p for p in spec.parameter_names if p in used)
    _INFLUENCE_CACHE[key] = out
    return out


# --------------------------------------------------------------------------- cohort
@dataclass(frozen=True)
class Cohort:
    """A fixed virtual cohort enrolled with the trial machinery.

    Attributes
    ----------
    spec : ModelSpec
        The model.
    design : Design
        The design it was screened under.
    seed : int
        Trial seed (fixes every patient stream).
    indices : array (C,)
        Patient numbers (keys of the per-patient random streams).
    params : array (C, P)
        Nominal patient parameters (covariate effects applied, as in the trial).
    uniforms : array (C, P)
        The uniforms behind the population draw (inverse-CDF sampling), reused to
        shift medians.
    sex : array (C,)
        Sex covariate (``"F"``/``"M"``), for :func:`gutskin.population.covariates.apply_covariates`.
    baseline : array (C, S)
        States at day 0 after the untreated burn-in.
    adherence : array (C,)
        Fraction of doses taken.
    population : Personalisation or None
        The source that seeded the patients (a microbiome table), re-applied whenever
        factor values change the parameters or the baseline.
    """

    spec: ModelSpec
    design: Design
    seed: int
    indices: NDArray[np.int64]
    params: NDArray[np.float64]
    uniforms: NDArray[np.float64]
    sex: NDArray[np.str_]
    baseline: NDArray[np.float64]
    adherence: NDArray[np.float64]
    population: Personalisation | None = None

    @property
    def size(self) -> int:
        return int(self.indices.size)

    @property
    def days(self) -> float:
        return float(self.design.duration_weeks) * 7.0

    @property
    def burn_in_days(self) -> float:
        return float(self.design.population.burn_in_days)


def build_cohort(
    design: Design,
    size: int = DEFAULT_COHORT,
    seed: int = 0,
    *,
    solver: SolverOptions | None = None,
    population: Personalisation | None = None,
) -> Cohort:
    """Enrol a fixed cohort: the first ``size`` randomized patients of the design's trial.

    Parameters
    ----------
    design : Design
        Trial design (population, entry criteria, burn-in, adherence).
    size : int
        Number of patients (>= 2).
    seed : int
        Trial seed.
    solver : SolverOptions, optional
        How the engine integrates (default ``SolverOptions()``, as in the trial).
    population : Personalisation, optional
        Source that seeds the patients (default: the design's ``population.from_table``,
        if any).

    Returns
    -------
    Cohort
    """
    if size < 2:
        raise SensitivityError(f"--cohort must be >= 2 patients, got {size}")
    spec = get_model(design.model)
    n_total = max(size, 2 * len(design.arms))
    solver = solver or SolverOptions()
    if population is None:
        from gutskin.microbiome.population import population_for_design
        from gutskin.microbiome.readers import TableError

        try:
            population = population_for_design(design, seed, spec)
        except TableError as exc:
            raise DesignError(str(exc)) from None
    trial = run_trial(
        design.model_copy(update={"sample_size": n_total}),
        seed=seed,
        solver=solver,
        analyse=False,
        population=population,
    )
    pts = trial.patients.iloc[:size]
    idx = pts["patient"].to_numpy(dtype=np.int64)
    sex = pts["sex"].to_numpy(dtype=str)
    assert trial.baseline is not None  # run_trial keeps the randomized patients' baseline
    base = trial.baseline.rows(idx)  # the trial's own burn-in: not simulated twice
    uni = parameter_uniforms(spec, idx, seed)
    return Cohort(
        spec=spec,
        design=design,
        seed=seed,
        indices=idx,
        params=base.params,
        uniforms=uni,
        sex=sex,
        baseline=np.ascontiguousarray(base.states),
        adherence=pts["adherence"].to_numpy(dtype=float),
        population=population,
    )


# --------------------------------------------------------------------------- evaluator
@dataclass
class _Arm:
    name: str
    slots: dict[str, int]
    overrides: dict[int, float]  # parameter column -> value (the arm's strain slots)
    times: NDArray[np.float64]
    values: NDArray[np.float64]  # (C, K, I) schedule, dose-factor exposures at level 0
    dose_parts: dict[int, tuple[int, NDArray[np.float64]]]  # factor -> (input col, (C, K))
    active_inputs: set[str]
    depends: bool = True
    nominal: NDArray[np.float64] | None = None  # (1, C, T) when not factor-dependent
    features: NDArray[np.float64] | None = None  # (C, F) smooth-noise features
    smooth: tuple[tuple[int, int, int], ...] = ()


class ModelEvaluator:
    """Outcome of factor samples on a fixed cohort: ``evaluator(x) -> y (n, T)``.

    Parameters
    ----------
    cohort : Cohort
        The fixed cohort (and its design).
    arm : str
        Analysed arm.
    outcome : Outcome
        What to compute.
    factors : sequence of Factor
        Columns of the samples passed to :meth:`__call__` (physical values).
    reference : str, optional
        Reference arm for ``diff`` outcomes (default: the design's reference arm).
    strains : mapping, optional
        Strain library.
    rtol, atol : float
        Solver tolerances.
    chunk_rows : int
        Samples × patients per engine call.
    """

    def __init__(
        self,
        cohort: Cohort,
        *,
        arm: str,
        outcome: Outcome,
        factors: Sequence[Factor],
        reference: str | None = None,
        strains: Mapping[str, Strain] | None = None,
        solver: SolverOptions | None = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
    ) -> None:
        self.cohort, self.outcome, self.factors = cohort, outcome, list(factors)
        self.spec = spec = cohort.spec
        self.design = design = cohort.design
        self.library = dict(strains) if strains is not None else load_strains()
        self._solver = solver or SolverOptions()  # as the trial's
        self.rtol, self.atol = self._solver.rtol, self._solver.atol
        self._solver_kw = self._solver.kwargs()
        self.chunk_rows = max(int(chunk_rows), cohort.size)
        arms = {a.name: a for a in design.arms}
        if arm not in arms:
            raise SensitivityError(f"arm {arm!r} is not in design {design.name!r}: {list(arms)}")
        self.arm = arm
        self.reference = None
        if outcome.needs_reference:
            ref = reference or design.reference_arm
            if ref not in arms:
                raise SensitivityError(f"reference arm {ref!r} is not in design {design.name!r}")
            if ref == arm:
                raise SensitivityError(
                    f"outcome {outcome.text!r} compares arm {arm!r} with the reference arm "
                    f"{ref!r}: choose another arm (--design {design.name}:ARM)"
                )
            self.reference = ref
        self.t_eval = np.unique(np.concatenate([[0.0], np.asarray(outcome.days, dtype=float)]))
        self.pos = np.searchsorted(self.t_eval, outcome.days)
        self.pidx = {n: j for j, n in enumerate(spec.parameter_names)}
        self._raw = sample_parameters(spec, cohort.indices, cohort.seed)
        self.failures: dict[str, int] = {}
        self.n_solves = 0
        outputs = (
            [v for v in MODEL_OUTPUTS.values()] + ["papules", "pustules"]
            if outcome.observed
            else [outcome.variable]
        )
        self._outputs = tuple(outputs)
        noise_factor = any(f.kind == "parameter" and f.target in NOISE_PARAMETERS for f in factors)
        self.noise_varies = noise_factor
        untreated = influential_parameters(spec, [NOISE_INPUT])
        self.burn_varies = any(
            f.kind == "parameter" and (f.target in untreated or f.target in NOISE_PARAMETERS)
            for f in factors
        )
        self._arms = {
            name: self._setup_arm(arms[name])
            for name in [arm] + ([self.reference] if self.reference else [])
        }
        if outcome.observed:
            self._obs_uniforms = self._observation_uniforms()
        for a in self._arms.values():
            if not a.depends:
                a.nominal = self._simulate(a, np.empty((1, len(self.factors))), nominal=True)

    # -- set-up -------------------------------------------------------------------
    def _setup_arm(self, arm: Any) -> _Arm:
        spec, design, cohort = self.spec, self.design, self.cohort
        days = cohort.days
        regs = [r.model_dump() for r in arm.regimens]
        tr = arm_treatment(regs, days, strains=self.library)
        exposures, overrides = list(tr.exposures), tr.overrides
        slots = {s: k + 1 for k, s in enumerate(arm_strains(regs, self.library))}
        owners = [
            get_intervention(r["intervention"], self.library).name
            for r in regs
            if get_intervention(r["intervention"], self.library).kind != "placebo"
        ]
        assert len(owners) == len(exposures)
        if design.placebo_response.skincare > 0 and "skincare" in spec.input_names:
            exposures = [
                *exposures,
                Exposure("skincare", design.placebo_response.skincare, 0.0, days),
            ]
            owners.append("")
        dose_factors = {
            j: [i for i, o in enumerate(owners) if o == f.target]
            for j, f in enumerate(self.factors)
            if f.kind == "dose"
        }
        dose_factors = {j: ex for j, ex in dose_factors.items() if ex}
        zeroed = {i for ex in dose_factors.values() for i in ex}

        def build(levels: Mapping[int, float]) -> Schedule:
            exs = tuple(replace(e, level=levels.get(i, e.level)) for i, e in enumerate(exposures))
            return pipeline.arm_schedule(
                spec,
                cohort.params,
                cohort.indices,
                cohort.seed,
                0.0,
                days,
                treatment=Treatment(exposures=exs),
                adherence=cohort.adherence,
                noise_from=-cohort.burn_in_days,
            )

        base = build(dict.fromkeys(zeroed, 0.0))
        k0 = int(np.searchsorted(base.times, 0.0, side="right") - 1)
        times, values = base.times[k0:], np.ascontiguousarray(base.values[:, k0:, :])
        parts: dict[int, tuple[int, NDArray[np.float64]]] = {}
        for j, ex in dose_factors.items():
            one = build({**dict.fromkeys(zeroed, 0.0), **dict.fromkeys(ex, 1.0)})
            col = spec.input_names.index(exposures[ex[0]].input)
            parts[j] = (col, one.values[:, k0:, col] - base.values[:, k0:, col])
        active = {e.input for e in exposures} | {NOISE_INPUT}
        influential = influential_parameters(spec, sorted(active), self._outputs)
        targets: dict[str, str] = {}
        depends = self.burn_varies or bool(parts)
        for f in self.factors:
            if f.kind == "parameter":
                pname = f.target
            elif f.kind == "strain" and f.target in slots:
                pname = f"pb{slots[f.target]}_{f.prop}"
            else:
                continue
            if pname in targets:
                raise FactorError(
                    f"factors {targets[pname]!r} and {f.name!r} both set parameter "
                    f"{pname!r} in arm {arm.name!r}"
                )
            targets[pname] = f.name
            if pname in influential or pname in NOISE_PARAMETERS:
                depends = True
        return _Arm(
            name=arm.name,
            slots=slots,
            overrides={self.pidx[k]: float(v) for k, v in overrides.items()},
            times=np.ascontiguousarray(times),
            values=values,
            dose_parts=parts,
            active_inputs=active,
            depends=depends,
            features=base.features,
            smooth=base.smooth,
        )

    def _observation_uniforms(self) -> NDArray[np.float64]:
        visits = [w * 7.0 for w in self.design.visits_weeks]
        rows, extra = [], len(visits)
        for t in self.t_eval:
            hit = [v for v, d in enumerate(visits) if abs(d - t) < 1e-9]
            if hit:
                rows.append(hit[0])
            else:
                rows.append(extra)
                extra += 1
        block = max(rows) + 1
        u = uniforms(self.cohort.seed, "observation", self.cohort.indices, block * N_UNIFORMS)
        return u.reshape(self.cohort.size, block, N_UNIFORMS)[:, rows, :]

    # -- evaluation ---------------------------------------------------------------
    @property
    def samples_per_call(self) -> int:
        """Factor samples evaluated per engine call."""
        return max(1, self.chunk_rows // self.cohort.size)

    @property
    def solves_per_sample(self) -> int:
        """Patient simulations per factor sample (burn-in counted as one)."""
        n = sum(1 for a in self._arms.values() if a.depends)
        return self.cohort.size * (n + (1 if self.burn_varies else 0))

    def nominal_x(self) -> NDArray[np.float64]:
        """The factors' nominal values as one sample (1, D)."""
        return np.array([[f.nominal for f in self.factors]], dtype=float)

    def _rows_params(self, x: NDArray[np.float64], arm: _Arm | None) -> NDArray[np.float64]:
        """Parameters of every sample × patient row, in the trial's order of effects.

        Population draw with the factors' medians → covariate effects → the arm's strain
        slots → strain-property factors.
        """
        n_s, c = x.shape[0], self.cohort.size
        varied: set[int] = set()
        if any(f.kind == "parameter" for f in self.factors):
            p = np.tile(self._raw, (n_s, 1))
            for j, f in enumerate(self.factors):
                if f.kind != "parameter":
                    continue
                col = self.pidx[f.target]
                prm = self.spec.parameters[col]
                lo = prm.lower if prm.lower is not None else 0.0
                hi = prm.upper if prm.upper is not None else math.inf
                p[:, col] = truncated_lognormal(
                    x[:, j][:, None], self.cohort.uniforms[None, :, col], prm.cv, lo, hi
                ).reshape(-1)
                varied.add(col)
            p = apply_covariates(self.spec, p, np.tile(self.cohort.sex, n_s).tolist())
            if self.cohort.population is not None:
                idx = np.tile(self.cohort.indices, n_s)
                p = self.cohort.population.personalise_parameters(self.spec, p, idx)
        else:
            p = np.tile(self.cohort.params, (n_s, 1))
        if arm is not None:
            for col, v in arm.overrides.items():
                if col not in varied:
                    p[:, col] = v
            for j, f in enumerate(self.factors):
                if f.kind == "strain" and f.target in arm.slots:
                    p[:, self.pidx[f"pb{arm.slots[f.target]}_{f.prop}"]] = np.repeat(x[:, j], c)
        return p

    def _noise(self, params: NDArray[np.float64], t1: float) -> Schedule:
        """Noise of every sample × patient row from the start of the burn-in to ``t1``."""
        c = self.cohort
        idx = np.tile(c.indices, params.shape[0] // c.size)
        sched = pipeline.noise_schedule(self.spec, params, idx, c.seed, -c.burn_in_days, t1)
        assert sched is not None  # noise factors exist only where the model has noise
        return sched

    def _with_noise(self, sched: Schedule, params: NDArray[np.float64], t1: float) -> Schedule:
        """``sched`` (rows = samples × patients) with each row's noise redrawn from ``params``.

        Smooth noise: the features of the rows' own noise parameters; daily noise: the
        noise input columns on ``sched``'s grid.
        """
        nz = self._noise(params, t1)
        if nz.features is not None:
            return replace(sched, features=nz.features, smooth=nz.smooth)
        values = sched.values.copy()
        grid = nz.on_grid(sched.times).values
        for name in (NOISE_INPUT, ACTIVITY_INPUT):
            if name in self.spec.input_names:
                col = self.spec.input_names.index(name)
                values[:, :, col] = grid[:, :, col]
        return replace(sched, values=values)

    def _baseline(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        n_s = x.shape[0]
        if not self.burn_varies:
            return np.tile(self.cohort.baseline, (n_s, 1))
        c, spec = self.cohort, self.spec
        params = self._rows_params(x, None)
        idx = np.tile(c.indices, n_s)
        burn = pipeline.untreated_schedule(
            spec,
            c.size,
            -c.burn_in_days,
            pipeline.noise_schedule(spec, c.params, c.indices, c.seed, -c.burn_in_days, 0.0),
        )
        sched = Schedule(
            times=burn.times,
            values=np.tile(burn.values, (n_s, 1, 1)),
            features=None if burn.features is None else np.tile(burn.features, (n_s, 1)),
            smooth=burn.smooth,
        )
        if self.noise_varies:
            sched = self._with_noise(sched, params, 0.0)
        res, _ = pipeline.burn_in(
            spec,
            params,
            idx,
            c.seed,
            c.burn_in_days,
            solver=self._solver,
            schedule=sched,
            population=c.population,
            chunk_size=max(1, sched.n_patients),
        )
        self.n_solves += sched.n_patients
        self._count(res)
        return np.ascontiguousarray(res.y[:, -1, :])

    def _count(self, res: BatchResult) -> None:
        for k, v in res.failures().items():
            self.failures[k] = self.failures.get(k, 0) + v

    def _values(self, res: BatchResult) -> NDArray[np.float64]:
        """Per-patient outcome variable at every ``t_eval`` (rows, T)."""
        spec, var = self.spec, self.outcome.variable

        def output(name: str) -> NDArray[np.float64]:
            return pipeline.output(spec, res, name)

        if not self.outcome.observed:
            return output(var)
        rows, n_t = res.y.shape[0], res.y.shape[1]
        expected = {k: output(v).reshape(-1) for k, v in MODEL_OUTPUTS.items()}
        uni = np.tile(self._obs_uniforms, (rows // self.cohort.size, 1, 1))
        m = self.design.measurement
        post = np.broadcast_to(self.t_eval[None, :] > 0, (rows, n_t)).reshape(-1)
        obs = observe_visits(
            expected,
            uni.reshape(-1, N_UNIFORMS),
            post_baseline=post,
            count_dispersion=m.count_dispersion,
            rater_cv=m.rater_cv,
            iga_rater_sd=m.iga_rater_sd,
            instrument_cv=m.instrument_cv,
            expectation_bias=self.design.placebo_response.expectation_bias,
            iga_cuts=iga_cuts(spec),
        )
        rec = ENDPOINT_REGISTRY.get(var)
        if rec is not None and rec.rule is not None and rec.severity is not None:
            x = np.asarray(obs[rec.severity], dtype=float).reshape(rows, n_t)
            return rec.responder(x, x[:, :1])  # against the first output time (baseline)
        return np.asarray(obs[var], dtype=float).reshape(rows, n_t)

    def _simulate(
        self,
        arm: _Arm,
        x: NDArray[np.float64],
        y0: NDArray[np.float64] | None = None,
        *,
        nominal: bool = False,
    ) -> NDArray[np.float64]:
        c = self.cohort.size
        if nominal:
            n_s = 1
            params = self._rows_params(self.nominal_x(), arm)
            values = arm.values.copy()
            y0 = self.cohort.baseline
        else:
            n_s = x.shape[0]
            params = self._rows_params(x, arm)
            values = np.tile(arm.values, (n_s, 1, 1))
            for j, (col, part) in arm.dose_parts.items():
                values[:, :, col] += np.repeat(x[:, j], c)[:, None] * np.tile(part, (n_s, 1))
        feats = None if arm.features is None else np.tile(arm.features, (n_s, 1))
        sched = Schedule(times=arm.times, values=values, features=feats, smooth=arm.smooth)
        if self.noise_varies and not nominal:
            sched = self._with_noise(sched, params, self.cohort.days)
        assert y0 is not None
        res = integrate(
            self.spec,
            y0,
            params,
            self.t_eval,
            sched,
            **self._solver_kw,
            chunk_size=max(1, values.shape[0]),
        )
        self.n_solves += values.shape[0]
        self._count(res)
        vals = self._values(res)
        vals = np.where((res.status == Status.OK)[:, None], vals, np.nan)
        return vals.reshape(n_s, c, -1)

    @property
    def arms_per_sample(self) -> list[str]:
        """Arms simulated for every sample (the others once, at nominal values)."""
        return [n for n, a in self._arms.items() if a.depends]

    def patient_values(self, x: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
        """Per-patient values of the outcome variable in each simulated arm.

        Parameters
        ----------
        x : array (n, D)
            Physical factor values.

        Returns
        -------
        dict of str to array (n, C, T)
            Arm -> values at ``self.t_eval`` (day 0 first); NaN for failed solves.
        """
        xa = np.atleast_2d(np.asarray(x, dtype=float))
        y0 = self._baseline(xa)
        out: dict[str, NDArray[np.float64]] = {}
        for name, a in self._arms.items():
            if a.depends:
                out[name] = self._simulate(a, xa, y0)
            else:
                assert a.nominal is not None
                out[name] = np.broadcast_to(a.nominal, (xa.shape[0], *a.nominal.shape[1:]))
        return out

    def _chunk(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        out = self.patient_values(x)
        arm = out[self.arm]
        ref = out[self.reference][:, :, self.pos] if self.reference else None
        return reduce_outcome(self.outcome, arm[:, :, self.pos], arm[:, :, 0], ref)

    def __call__(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Outcome of each factor sample.

        Parameters
        ----------
        x : array (n, D)
            Physical factor values (columns in ``factors`` order).

        Returns
        -------
        ndarray (n, T)
            Outcome per sample and output day.
        """
        xa = np.atleast_2d(np.asarray(x, dtype=float))
        if xa.shape[1] != len(self.factors):
            raise ValueError(f"x has {xa.shape[1]} columns, expected {len(self.factors)}")
        step = self.samples_per_call
        parts = [self._chunk(xa[s : s + step]) for s in range(0, xa.shape[0], step)]
        return np.vstack(parts) if parts else np.empty((0, len(self.outcome.days)))

    def fingerprint(self) -> dict[str, Any]:
        """What determines the outcome values (for the resume cache key)."""
        return {
            "design": self.design.model_dump(mode="json"),
            "arm": self.arm,
            "reference": self.reference,
            "outcome": self.outcome.text,
            "days": list(self.outcome.days),
            "cohort": self.cohort.indices.tolist(),
            "seed": self.cohort.seed,
            "rtol": self.rtol,
            "atol": self.atol,
            "model": self.spec.structure_hash(),
            "parameters": hashlib.sha256(self.cohort.params.tobytes()).hexdigest(),
        }


# --------------------------------------------------------------------------- generic run
@dataclass
class SensitivityResult:
    """Samples, outcomes and indices of one analysis.

    Attributes
    ----------
    method : str
        Method name.
    factors : list of Factor
        Analysed factors.
    days : tuple of float
        Output days (columns of ``y``); ``(nan,)`` for a scalar function.
    x : array (n, D)
        Samples in sampling space (log10 for log-scale factors).
    x_physical : array (n, D)
        Physical factor values.
    y : array (n, T)
        Outcome values.
    indices : DataFrame
        ``day, factor, factor2, index, value, conf, ci_low, ci_high``.
    nominal : array (T,)
        Outcome at the factors' nominal values (NaN if not evaluated).
    info : dict
        Sample sizes, timings, failures, notes.
    """

    method: str
    factors: list[Factor]
    days: tuple[float, ...]
    x: NDArray[np.float64]
    x_physical: NDArray[np.float64]
    y: NDArray[np.float64]
    indices: pd.DataFrame
    nominal: NDArray[np.float64]
    info: dict[str, Any] = field(default_factory=dict)
    outcome: Outcome | None = None

    def main(self, day: float | None = None) -> pd.DataFrame:
        """Main index of each factor at ``day`` (default: the last day), sorted."""
        m = get_method(self.method).main_index
        df = self.indices[self.indices["index"] == m]
        d = self.days[-1] if day is None else day
        if not (isinstance(d, float) and math.isnan(d)):
            df = df[np.isclose(df["day"].to_numpy(dtype=float), d)]
        return df.sort_values("value", ascending=False).reset_index(drop=True)


def _evaluate(
    func: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    xp: NDArray[np.float64],
    *,
    chunk: int,
    partial_dir: Path | None,
    resume: bool,
    key: str,
    progress: Callable[[int], None] | None,
) -> NDArray[np.float64]:
    n = xp.shape[0]
    if partial_dir is not None:
        meta = partial_dir / "key.json"
        if resume and partial_dir.exists():
            old = json.loads(meta.read_text()).get("key") if meta.exists() else None
            if old is not None and old != key:
                raise SensitivityError(
                    f"--resume: the cached evaluations in {partial_dir} were made with other "
                    "settings (method, samples, seed, factors, outcome, design or cohort); "
                    "run without --resume to start afresh"
                )
        elif partial_dir.exists():
            if not meta.is_file():
                raise SensitivityError(
                    f"{partial_dir}: exists but is not a gutskin evaluation cache (no key.json); "
                    "move it away"
                )
            shutil.rmtree(partial_dir)
        partial_dir.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"key": key, "n": n}))
    parts: list[NDArray[np.float64]] = []
    done = 0
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        path = partial_dir / f"chunk_{start:08d}_{stop:08d}.npy" if partial_dir else None
        if path is not None and resume and path.exists():
            y = np.load(path)
        else:
            y = np.asarray(func(xp[start:stop]), dtype=float)
            if y.ndim == 1:
                y = y[:, None]
            if path is not None:
                tmp = path.with_suffix(".tmp.npy")
                np.save(tmp, y)
                tmp.replace(path)
        parts.append(y)
        done = stop
        if progress is not None:
            progress(done)
    return np.vstack(parts)


def run_sensitivity(
    func: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    factors: Sequence[Factor],
    *,
    method: str | SensitivityMethod,
    samples: int,
    seed: int = 0,
    second_order: bool = False,
    groups: bool = False,
    days: Sequence[float] | None = None,
    conf_level: float = 0.95,
    num_resamples: int = 100,
    chunk: int = 256,
    partial_dir: str | Path | None = None,
    resume: bool = False,
    fingerprint: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    nominal: bool = True,
) -> SensitivityResult:
    """Sample the factors with SALib, evaluate ``func`` in chunks, estimate the indices.

    Parameters
    ----------
    func : callable
        ``func(x_physical (n, D)) -> y`` of shape (n,) or (n, T).
    factors : sequence of Factor
        The factors (bounds, scale).
    method : str or SensitivityMethod
        ``"morris"``, ``"sobol"`` or ``"pawn"``.
    samples : int
        Method sample size (trajectories, base sample or evaluations; see
        :mod:`gutskin.sensitivity.methods`).
    seed : int
        Fixes the SALib sample (derived stream 2000) and the bootstrap (stream 2001).
    second_order : bool
        Sobol' second-order indices.
    groups : bool
        Use the factors' groups (Sobol' and Morris).
    days : sequence of float, optional
        Labels of the outcome columns.
    conf_level : float
        Confidence level of the intervals.
    num_resamples : int
        Bootstrap resamples.
    chunk : int
        Samples per call of ``func`` (and per cached chunk).
    partial_dir : path, optional
        Cache of evaluated chunks; with ``resume`` matching chunks are reused.
    resume : bool
        Reuse cached chunks made with the same settings.
    fingerprint : mapping, optional
        What else determines ``func``'s values (part of the cache key).
    progress : callable, optional
        Called with the number of evaluated samples.
    nominal : bool
        Also evaluate the factors' nominal values.

    Returns
    -------
    SensitivityResult
    """
    m = get_method(method) if isinstance(method, str) else method
    if groups and not m.supports_groups:
        raise MethodError(f"grouped factors are supported by sobol and morris, not {m.name}")
    problem = salib_problem(factors, groups=groups)
    n_groups = len(set(problem["groups"])) if groups else len(factors)
    m.check(samples, n_groups, second_order=second_order)
    if not 0 < conf_level < 1:
        raise MethodError(f"confidence level must be in (0, 1), got {conf_level}")
    t0 = time.monotonic()
    x = m.sample(problem, samples, _derived_seed(seed, 0), second_order=second_order)
    xp = to_physical(factors, x)
    key_doc = {
        "method": m.name,
        "samples": samples,
        "seed": seed,
        "second_order": second_order,
        "groups": groups,
        "factors": factor_table(factors),
        "x": hashlib.sha256(np.ascontiguousarray(xp).tobytes()).hexdigest(),
        "chunk": chunk,
        "func": dict(fingerprint or {}),
    }
    key = hashlib.sha256(json.dumps(key_doc, sort_keys=True, default=str).encode()).hexdigest()
    y = _evaluate(
        func,
        xp,
        chunk=max(1, int(chunk)),
        partial_dir=Path(partial_dir) if partial_dir is not None else None,
        resume=resume,
        key=key,
        progress=progress,
    )
    t_eval = time.monotonic() - t0
    labels = tuple(float(d) for d in days) if days is not None else (math.nan,) * y.shape[1]
    if len(labels) != y.shape[1]:
        raise ValueError(f"days has {len(labels)} labels but the outcome has {y.shape[1]} columns")
    nom = np.full(y.shape[1], np.nan)
    if nominal:
        xn = np.array([[f.nominal for f in factors]], dtype=float)
        if np.all(np.isfinite(xn)):
            nom = np.asarray(func(xn), dtype=float).reshape(-1)
    frames = []
    notes: list[str] = []
    for t, label in enumerate(labels):
        col = y[:, t]
        rows = m.analyze(
            problem,
            x,
            col,
            _derived_seed(seed, 1),
            conf_level=conf_level,
            num_resamples=num_resamples,
            second_order=second_order,
        )
        used = min((int(r.get("n_used", col.size)) for r in rows), default=col.size)
        if 0 < used < col.size:
            notes.append(
                f"day {label:g}: {col.size - used} of {col.size} evaluations left out "
                "(whole sampling blocks with a failed solve)"
            )
        finite = col[np.isfinite(col)]
        if finite.size and np.ptp(finite) <= 1e-12 * max(1.0, float(np.abs(finite).max())):
            notes.append(f"day {label:g}: the outcome does not vary over the samples")
        if finite.size < col.size:
            notes.append(f"day {label:g}: {col.size - finite.size} evaluations gave no value")
        df = pd.DataFrame(rows)
        df.insert(0, "day", label)
        frames.append(df)
    indices = pd.concat(frames, ignore_index=True)
    info = {
        "method": m.name,
        "samples": samples,
        "evaluations": int(x.shape[0]),
        "n_factors": len(factors),
        "n_groups": n_groups,
        "second_order": second_order,
        "grouped": groups,
        "conf_level": conf_level,
        "num_resamples": num_resamples,
        "seed": seed,
        "sample_seed": _derived_seed(seed, 0),
        "analysis_seed": _derived_seed(seed, 1),
        "evaluation_s": round(t_eval, 3),
        "total_s": round(time.monotonic() - t0, 3),
        "notes": notes,
    }
    return SensitivityResult(
        method=m.name,
        factors=list(factors),
        days=labels,
        x=x,
        x_physical=xp,
        y=y,
        indices=indices,
        nominal=nom,
        info=info,
    )


def analyse_function(
    func: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    bounds: Mapping[str, tuple[float, float]],
    *,
    method: str,
    samples: int,
    seed: int = 0,
    second_order: bool = False,
    conf_level: float = 0.95,
    num_resamples: int = 100,
) -> SensitivityResult:
    """Sensitivity indices of a plain function of independent uniform factors.

    Parameters
    ----------
    func : callable
        ``func(x (n, D)) -> y (n,)``.
    bounds : mapping
        Factor name -> (lower, upper), in column order.
    method, samples, seed, second_order, conf_level, num_resamples
        As in :func:`run_sensitivity`.

    Returns
    -------
    SensitivityResult

    Examples
    --------
    The Ishigami function (Ishigami & Homma 1990) on ``[-pi, pi]^3``:

    >>> import numpy as np
    >>> def f(x):
    ...     return np.sin(x[:, 0]) * (1 + 0.1 * x[:, 2] ** 4) + 7 * np.sin(x[:, 1]) ** 2
    >>> res = analyse_function(f, {k: (-np.pi, np.pi) for k in ("x1", "x2", "x3")},
    ...                        method="sobol", samples=1024, seed=1)
    >>> res.indices.query("index == 'ST'")[["factor", "value"]]  # doctest: +SKIP
    """
    factors = [
        Factor(name=k, lower=float(lo), upper=float(hi), log=False, kind="parameter", target=k)
        for k, (lo, hi) in bounds.items()
    ]
    return run_sensitivity(
        func,
        factors,
        method=method,
        samples=samples,
        seed=seed,
        second_order=second_order,
        conf_level=conf_level,
        num_resamples=num_resamples,
        chunk=1 << 30,
        nominal=False,
    )


# --------------------------------------------------------------------------- model runs
@dataclass(frozen=True)
class Plan:
    """A validated model sensitivity analysis, ready to run (see :func:`plan`)."""

    design: Design
    design_file: Path | None
    arm: str
    reference: str | None
    outcome: Outcome
    factors: list[Factor]
    factors_file: Path | None
    method: SensitivityMethod
    samples: int
    seed: int
    second_order: bool
    groups: bool
    cohort: int
    every: float
    n_evaluations: int
    conf_level: float = 0.95
    solver: SolverOptions = field(default_factory=SolverOptions)

    def describe(self) -> dict[str, Any]:
        """Plain-data description (provenance)."""
        return {
            "design": self.design.name,
            "design_file": str(self.design_file) if self.design_file else None,
            "arm": self.arm,
            "reference_arm": self.reference,
            "outcome": self.outcome.text,
            "outcome_description": self.outcome.label,
            "outcome_unit": self.outcome.unit,
            "days": list(self.outcome.days),
            "method": self.method.name,
            "samples": self.samples,
            "evaluations": self.n_evaluations,
            "second_order": self.second_order,
            "grouped": self.groups,
            "cohort_size": self.cohort,
            "conf_level": self.conf_level,
            "solver_method": self.solver.method,
            "rtol": self.solver.rtol,
            "atol": self.solver.atol,
            "dense": self.solver.dense,
            "factors": factor_table(self.factors),
        }


def _split_design(text: str | Design | None) -> tuple[Design, Path | None, str | None]:
    if isinstance(text, Design):
        return text, None, None
    raw = text or "rinaldi2022"
    arm: str | None = None
    name = raw
    if ":" in raw and not Path(raw).exists():
        name, _, arm = raw.rpartition(":")
    design = load_design(name)
    path = None if name in builtin_designs() else Path(name)
    return design, path, arm or None


def plan(
    *,
    method: str,
    factors: str | Sequence[Factor],
    outcome: str,
    design: str | Design | None = None,
    arm: str | None = None,
    samples: int | None = None,
    seed: int = 0,
    second_order: bool = False,
    groups: bool = False,
    cohort: int = DEFAULT_COHORT,
    every: float = 7.0,
    conf_level: float = 0.95,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    solver: SolverOptions | None = None,
) -> Plan:
    """Validate the inputs of a model sensitivity analysis (cheap; nothing is simulated).

    Parameters
    ----------
    method : str
        ``morris``, ``sobol`` or ``pawn``.
    factors : str or sequence of Factor
        ``"default"``, ``"strain"``, a factors file path, or factors.
    outcome : str
        Outcome (see :mod:`gutskin.sensitivity.outcomes`).
    design : str or Design, optional
        Built-in design name or design file, optionally ``:ARM``; default ``rinaldi2022``.
    arm : str, optional
        Analysed arm (overrides ``:ARM``); default: the first arm that is not the
        reference arm.
    samples : int, optional
        Method sample size (default: the method's).
    seed : int
        Trial seed of the cohort and seed of the SALib sample.
    second_order, groups : bool
        Sobol' second-order indices; grouped factors.
    cohort : int
        Patients per factor sample.
    every : float
        Spacing (days) of a time-resolved outcome.
    conf_level : float
        Confidence level.
    rtol, atol : float
        Solver tolerances (used when ``solver`` is not given).
    solver : SolverOptions, optional
        How the engine integrates cohort and samples (default ``SolverOptions(rtol=rtol,
        atol=atol)``, dense output on, as in the trial).

    Returns
    -------
    Plan

    Raises
    ------
    SensitivityError, FactorError, OutcomeError, MethodError, DesignError
        With a one-line message naming the bad input.
    """
    m = get_method(method)
    d, dfile, arm_from = _split_design(design)
    arm = arm or arm_from
    names = [a.name for a in d.arms]
    if arm is None:
        others = [a for a in names if a != d.reference_arm]
        arm = others[0] if others else names[0]
    if arm not in names:
        raise SensitivityError(f"--design {d.name}:{arm}: no arm {arm!r}; arms are {names}")
    spec = get_model(d.model)
    out = parse_outcome(outcome, spec, duration_days=d.duration_weeks * 7.0, every=every)
    reference = d.reference_arm if out.needs_reference else None
    if reference == arm:
        raise SensitivityError(
            f"outcome {outcome!r} compares the arm with the reference arm {reference!r}; "
            f"choose another arm (--design {d.name}:ARM with ARM in {names})"
        )
    if cohort < 2 or cohort > 10_000:
        raise SensitivityError(f"--cohort must be between 2 and 10000 patients, got {cohort}")
    the_arm = next(a for a in d.arms if a.name == arm)
    doses: dict[str, float] = {}
    for r in the_arm.regimens:
        iv = get_intervention(r.intervention)
        doses.setdefault(iv.name, float(r.dose if r.dose is not None else iv.default_dose))
    ffile = None
    if isinstance(factors, str):
        fl = resolve_factors(
            factors, spec, regimens=the_arm.regimens, arm=f"arm {arm!r}", nominal_doses=doses
        )
        ffile = Path(factors) if factors not in ("default", "strain") else None
    else:
        fl = list(factors)
    if groups and not m.supports_groups:
        raise MethodError(f"grouped factors are supported by sobol and morris, not {m.name}")
    problem = salib_problem(fl, groups=groups)
    n_groups = len(set(problem["groups"])) if groups else len(fl)
    n = m.default_samples if samples is None else int(samples)
    m.check(n, n_groups, second_order=second_order)
    if not 0 < conf_level < 1:
        raise MethodError(f"--conf-level must be in (0, 1), got {conf_level}")
    return Plan(
        design=d,
        design_file=dfile,
        arm=arm,
        reference=reference,
        outcome=out,
        factors=fl,
        factors_file=ffile,
        method=m,
        samples=n,
        seed=seed,
        second_order=second_order,
        groups=groups,
        cohort=cohort,
        every=every,
        n_evaluations=m.n_evaluations(n, n_groups, second_order=second_order),
        conf_level=conf_level,
        solver=solver or SolverOptions(rtol=rtol, atol=atol),
    )


def execute(
    p: Plan,
    *,
    partial_dir: str | Path | None = None,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> SensitivityResult:
    """Run a planned model sensitivity analysis.

    Parameters
    ----------
    p : Plan
        From :func:`plan`.
    partial_dir : path, optional
        Cache of evaluated chunks (``.DIR.sensitivity-cache`` beside ``DIR`` from the CLI).
    resume : bool
        Reuse cached chunks made with identical settings.
    progress : callable, optional
        Called with the number of evaluated factor samples.
    chunk_rows : int
        Samples × patients per engine call.

    Returns
    -------
    SensitivityResult
        ``info`` adds cohort, solves and failures; ``outcome`` is set.
    """
    t0 = time.monotonic()
    cohort = build_cohort(p.design, p.cohort, p.seed, solver=p.solver)
    t_cohort = time.monotonic() - t0
    ev = ModelEvaluator(
        cohort,
        arm=p.arm,
        outcome=p.outcome,
        factors=p.factors,
        reference=p.reference,
        solver=p.solver,
        chunk_rows=chunk_rows,
    )
    res = run_sensitivity(
        ev,
        p.factors,
        method=p.method,
        samples=p.samples,
        seed=p.seed,
        second_order=p.second_order,
        groups=p.groups,
        days=p.outcome.days,
        conf_level=p.conf_level,
        chunk=ev.samples_per_call,
        partial_dir=partial_dir,
        resume=resume,
        fingerprint=ev.fingerprint(),
        progress=progress,
    )
    res.outcome = p.outcome
    res.info.update(
        {
            "cohort_size": cohort.size,
            "cohort_patients": cohort.indices.tolist(),
            "cohort_s": round(t_cohort, 3),
            "per_sample_burn_in": ev.burn_varies,
            "arms_per_sample": ev.arms_per_sample,
            "patient_solves": ev.n_solves,
            "solver_failures": dict(ev.failures),
            "total_s": round(time.monotonic() - t0, 3),
        }
    )
    return res


def sensitivity(
    *,
    method: str,
    factors: str | Sequence[Factor],
    outcome: str,
    design: str | Design | None = None,
    arm: str | None = None,
    samples: int | None = None,
    seed: int = 0,
    second_order: bool = False,
    groups: bool = False,
    cohort: int = DEFAULT_COHORT,
    every: float = 7.0,
    solver: SolverOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> SensitivityResult:
    """Global sensitivity analysis of a trial-level outcome (one call: :func:`plan` + run).

    Arguments as in :func:`plan`; ``solver`` (a
    :class:`~gutskin.engine.options.SolverOptions`) sets the method and tolerances of
    every integration.

    Examples
    --------
    >>> res = sensitivity(method="sobol", factors="strain",            # doctest: +SKIP
    ...                   outcome="pct_diff:inflammatory_lesions@56",
    ...                   design="rinaldi2022:probiotics", samples=128, cohort=16)
    >>> res.main()[["factor", "value", "ci_low", "ci_high"]]           # doctest: +SKIP
    """
    p = plan(
        method=method,
        factors=factors,
        outcome=outcome,
        design=design,
        arm=arm,
        samples=samples,
        seed=seed,
        second_order=second_order,
        groups=groups,
        cohort=cohort,
        every=every,
        solver=solver,
    )
    return execute(p, progress=progress)


#: Exceptions that mean bad user input (the CLI turns them into one-line errors).
USER_ERRORS: tuple[type[Exception], ...] = (
    SensitivityError,
    FactorError,
    OutcomeError,
    MethodError,
    DesignError,
)
