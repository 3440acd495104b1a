"""Model runs of a sensitivity analysis: the outcome of factor samples on a fixed cohort.

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
(no Monte-Carlo noise from re-drawing patients): the indices describe how the expected
trial result of this population responds to the factors.

Cost: all samples × patients of a chunk are integrated in one batched engine call. A
sample gets its own burn-in only when some factor can change the untreated dynamics, and
an arm is simulated once when no factor can act on it; both are read from the model
equations (:func:`gutskin.engine.structure.influential_parameters`), which also tell which
factors a burn-in or an arm depends on, so samples that agree on those share one solve
(:class:`SolveReuse`; consecutive Morris points differ in one factor). Every patient's
solve is independent of its batch, so results do not depend on reuse, chunking or order.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gutskin.engine import Exposure, Schedule, Treatment, integrate
from gutskin.engine.integrate import BatchResult, Status
from gutskin.engine.options import SolverOptions
from gutskin.engine.structure import influential_parameters
from gutskin.model.interventions import arm_treatment, get_intervention
from gutskin.model.strains import Strain, load_strains
from gutskin.population import pipeline
from gutskin.population.covariates import apply_covariates
from gutskin.population.sampling import (
    ACTIVITY_INPUT,
    NOISE_INPUT,
    sample_parameters,
    truncated_lognormal,
)
from gutskin.sensitivity.cohort import Cohort, SensitivityError
from gutskin.sensitivity.factor_sets import arm_strains
from gutskin.sensitivity.factors import Factor, FactorError
from gutskin.sensitivity.outcomes import Outcome, reduce_outcome
from gutskin.sensitivity.reuse import SolveReuse, failure_counts
from gutskin.trial.endpoints import REGISTRY as ENDPOINT_REGISTRY
from gutskin.trial.observation import N_UNIFORMS, observation_uniforms, observe_visits
from gutskin.trial.screening import MODEL_OUTPUTS, iga_cuts

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "NOISE_PARAMETERS",
    "ModelEvaluator",
    "influential_parameters",
]

#: Parameters that shape the disease-activity noise input (its OU path), not the ODE.
NOISE_PARAMETERS = ("flare_sd", "flare_tau", "activity_sd", "activity_tau")
#: Rows (samples × patients) per engine call.
DEFAULT_CHUNK_ROWS = 2048


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
    relevant: tuple[int, ...] = ()  # factor columns the arm's run can depend on


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
    reuse : bool
        Share the burn-in and the arms' runs between samples that agree on every factor
        that can act on them (default; see :class:`SolveReuse`).  Results are the same
        either way up to round-off: a factor that structurally cannot act (e.g. a
        strain property whose strain load is exactly zero) still moves the solver's
        round-off (here the load is 1e-16 rather than 0), which the adaptive steps
        amplify to at most the order of the solver tolerance.
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
        reuse: bool = True,
    ) -> None:
        self.cohort, self.outcome, self.factors = cohort, outcome, list(factors)
        self.reuse = reuse
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
        self._burn_cols = tuple(
            j
            for j, f in enumerate(self.factors)
            if f.kind == "parameter" and (f.target in untreated or f.target in NOISE_PARAMETERS)
        )
        self.burn_varies = bool(self._burn_cols)
        self._burn_reuse = SolveReuse(self._burn_cols, enabled=reuse)
        self.n_reused = 0
        self._arms = {
            name: self._setup_arm(arms[name])
            for name in [arm] + ([self.reference] if self.reference else [])
        }
        self._arm_reuse = {
            name: SolveReuse(a.relevant, enabled=reuse) for name, a in self._arms.items()
        }
        if outcome.observed:
            self._obs_uniforms = self._observation_uniforms()
        for a in self._arms.values():
            if not a.depends:
                a.nominal, status = self._simulate(
                    a, np.empty((1, len(self.factors))), nominal=True
                )
                self._add_failures(failure_counts(status))

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
        relevant = set(self._burn_cols) | set(parts)
        for j, f in enumerate(self.factors):
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
                relevant.add(j)
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
            relevant=tuple(sorted(relevant)),
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
        u = observation_uniforms(self.cohort.seed, self.cohort.indices, max(rows) + 1)
        return u[:, rows, :]

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
        """Baseline states of every sample × patient row (shared burn-ins: SolveReuse)."""
        n_s, c = x.shape[0], self.cohort.size
        if not self.burn_varies:
            return np.tile(self.cohort.baseline, (n_s, 1))
        reuse = self._burn_reuse
        keys = reuse.keys(x)
        new = reuse.missing(keys)
        if new:
            states, status = self._burn(x[new])
            for k, i in enumerate(new):
                rows = slice(k * c, (k + 1) * c)
                reuse.put(keys[i], states[rows], failure_counts(status[rows]))
        self.n_reused += (n_s - len(new)) * c
        parts = []
        for key in keys:
            value, fails = reuse.get(key)
            parts.append(value)
            self._add_failures(fails)
        reuse.trim(c)
        return np.ascontiguousarray(np.concatenate(parts))

    def _burn(self, x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Burn-in of every sample × patient row: states at day 0 and solver status."""
        n_s = x.shape[0]
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
        return np.ascontiguousarray(res.y[:, -1, :]), res.status

    def _add_failures(self, fails: Mapping[str, int]) -> None:
        for k, v in fails.items():
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
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Values (n, C, T) of the outcome variable in ``arm`` and the solver status (n*C,)."""
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
        vals = self._values(res)
        vals = np.where((res.status == Status.OK)[:, None], vals, np.nan)
        return vals.reshape(n_s, c, -1), res.status

    def _run_arm(
        self, arm: _Arm, x: NDArray[np.float64], y0: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """:meth:`_simulate` of the samples not yet run with the same relevant factor
        values; the others reuse their values (see :class:`SolveReuse`)."""
        c = self.cohort.size
        reuse = self._arm_reuse[arm.name]
        keys = reuse.keys(x)
        new = reuse.missing(keys)
        if new:
            rows = (np.asarray(new)[:, None] * c + np.arange(c)[None, :]).reshape(-1)
            vals, status = self._simulate(arm, x[new], np.ascontiguousarray(y0[rows]))
            for k, i in enumerate(new):
                reuse.put(keys[i], vals[k], failure_counts(status[k * c : (k + 1) * c]))
        self.n_reused += (x.shape[0] - len(new)) * c
        parts = []
        for key in keys:
            value, fails = reuse.get(key)
            parts.append(value)
            self._add_failures(fails)
        reuse.trim(c)
        return np.stack(parts)

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
                out[name] = self._run_arm(a, xa, y0)
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
