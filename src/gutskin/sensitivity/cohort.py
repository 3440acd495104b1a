"""The fixed virtual cohort of a model sensitivity analysis.

A small virtual cohort is enrolled once with the trial machinery
(:func:`gutskin.trial.run.run_trial` on the design, seed ``seed``): the same patients
(parameters, covariates, adherence, disease-activity noise, screening) as the first
``cohort`` randomized patients of ``gutskin trial DESIGN --seed S``.  Every factor sample
is then evaluated on these patients (:mod:`gutskin.sensitivity.evaluator`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gutskin.engine import ModelSpec
from gutskin.engine.options import SolverOptions
from gutskin.population.pipeline import Personalisation
from gutskin.population.sampling import parameter_uniforms
from gutskin.simulation import get_model
from gutskin.trial.design import Design, DesignError
from gutskin.trial.run import run_trial

__all__ = ["DEFAULT_COHORT", "Cohort", "SensitivityError", "build_cohort"]

#: Default cohort size (patients evaluated for every factor sample).
DEFAULT_COHORT = 32


class SensitivityError(ValueError):
    """Invalid sensitivity-analysis input (design, arm, cohort, resume state)."""


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
