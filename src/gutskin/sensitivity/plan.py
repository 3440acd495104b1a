"""The plan of a model sensitivity analysis: validated inputs, ready to run.

:func:`plan` checks the design (``NAME[:ARM]``), the analysed and reference arms, the
outcome, the factors, the method and its sample size, and the cohort size; nothing is
simulated.  :func:`gutskin.sensitivity.driver.execute` runs the resulting :class:`Plan`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gutskin.engine.options import SolverOptions
from gutskin.model.interventions import get_intervention
from gutskin.sensitivity.cohort import DEFAULT_COHORT, SensitivityError
from gutskin.sensitivity.factor_sets import resolve_factors
from gutskin.sensitivity.factors import Factor, factor_table, salib_problem
from gutskin.sensitivity.methods import MethodError, SensitivityMethod, get_method
from gutskin.sensitivity.outcomes import Outcome, parse_outcome
from gutskin.simulation import get_model
from gutskin.trial.design import Design, builtin_designs, load_design

__all__ = ["Plan", "plan"]


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
