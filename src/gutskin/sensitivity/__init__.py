"""Global sensitivity analysis of model and trial-level outcomes (SALib sample → engine → indices).

- :func:`sensitivity` — one call: factors, outcome, design arm, method → indices.
- :func:`plan` / :func:`execute` — validate first (cheap), then run (the CLI's path).
- :func:`analyse_function` — the same methods on a plain function (test problems).
- :data:`METHODS` — ``morris``, ``sobol``, ``pawn`` (SALib samplers and estimators).
- :func:`make_factor`, :func:`load_factors`, :func:`parse_outcome` — factors and outcomes.

Modules: :mod:`~gutskin.sensitivity.plan` (validated inputs),
:mod:`~gutskin.sensitivity.cohort` (the fixed cohort), :mod:`~gutskin.sensitivity.evaluator`
(model runs of factor samples), :mod:`~gutskin.sensitivity.driver` (sampling, cached
evaluation, indices).  See ``docs/sensitivity-guide.md`` and
:mod:`gutskin.sensitivity.evaluator` for the fixed-cohort, common-random-numbers
evaluation design.
"""

from gutskin.sensitivity.cohort import Cohort, SensitivityError, build_cohort
from gutskin.sensitivity.driver import (
    SensitivityResult,
    analyse_function,
    execute,
    run_sensitivity,
    sensitivity,
)
from gutskin.sensitivity.evaluator import ModelEvaluator
from gutskin.sensitivity.factor_files import load_factors
from gutskin.sensitivity.factor_sets import default_factors, strain_factors
from gutskin.sensitivity.factors import Factor, FactorError, make_factor
from gutskin.sensitivity.methods import METHODS, MethodError, get_method
from gutskin.sensitivity.outcomes import STATS, Outcome, OutcomeError, parse_outcome
from gutskin.sensitivity.plan import Plan, plan

__all__ = [
    "METHODS",
    "STATS",
    "Cohort",
    "Factor",
    "FactorError",
    "MethodError",
    "ModelEvaluator",
    "Outcome",
    "OutcomeError",
    "Plan",
    "SensitivityError",
    "SensitivityResult",
    "analyse_function",
    "build_cohort",
    "default_factors",
    "execute",
    "get_method",
    "load_factors",
    "make_factor",
    "parse_outcome",
    "plan",
    "run_sensitivity",
    "sensitivity",
    "strain_factors",
]
