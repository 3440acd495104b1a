"""Screening of a trial's candidates: covariates, care seeking, the untreated burn-in,
the observation at screening and the entry criteria.

:func:`candidate_batches` screens candidates ``0, 1, 2, ...`` in batches; ``run_trial``
(:mod:`gutskin.trial.run`) and the virtual population of replicate jobs
(:mod:`gutskin.trial.pool`) take from it what they need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gutskin.engine import ModelSpec, Schedule, SolverOptions
from gutskin.engine.integrate import BatchResult
from gutskin.engine.random import uniforms
from gutskin.population import pipeline
from gutskin.population.pipeline import Personalisation
from gutskin.trial.design import Design, DesignError
from gutskin.trial.endpoints import REGISTRY
from gutskin.trial.observation import N_UNIFORMS, observation_uniforms, observe_visits

__all__ = [
    "MODEL_OUTPUTS",
    "Candidates",
    "burn_in_candidates",
    "candidate_batches",
    "expected_outputs",
    "iga_cuts",
    "screening_observation",
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
