"""Factors of a sensitivity analysis: what is varied, over which range, on which scale.

A factor is one of

* a **model parameter** (any name in ``parameters.csv``, e.g. ``gut_skin_gain``);
* a **strain property** ``<STRAIN>.<property>`` (e.g. ``LS03.anti_il8``), one of
  :data:`gutskin.model.strains.STRAIN_PROPERTIES`; it sets the slot parameter
  ``pb<slot>_<property>`` of every simulated arm that gives that strain;
* an **intervention dose** ``<intervention>.dose`` (e.g. ``botanical.dose``,
  ``LS03.dose`` in CFU/day); it replaces the dose of every regimen of that
  intervention in the simulated arms.

Bounds come from the parameter table (``lower``, ``upper``; strain properties use the
``pb1_<property>`` range, doses the intervention's allowed dose range) or from a factors
file.  A factor on the log scale is sampled uniformly in ``log10`` between its bounds
(default for table ranges with ``lower > 0`` and ``upper / lower >= 10``).

A parameter with between-patient variability (``cv > 0``) is varied through its
*population median*: every cohort patient keeps its own quantile of the truncated
lognormal (the same uniform draw as :func:`gutskin.population.sample_parameters`), so the
whole cohort shifts with the factor.  A parameter with ``cv = 0`` is set to the factor
value in every patient.

This module holds :class:`Factor`, :func:`make_factor` and the SALib views of a factor
list; the named factor sets (``--factors default`` / ``strain``) are in
:mod:`gutskin.sensitivity.factor_sets`, factors files in
:mod:`gutskin.sensitivity.factor_files`.

References
----------
Saltelli A, Ratto M, Andres T, et al. *Global Sensitivity Analysis. The Primer*.
Wiley, 2008 (chapter 1: choosing factors and their ranges).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from gutskin.engine.spec import ModelSpec
from gutskin.model.interventions import InterventionError, get_intervention
from gutskin.model.strains import STRAIN_PROPERTIES, Strain, load_strains

__all__ = [
    "Factor",
    "FactorError",
    "factor_table",
    "make_factor",
    "salib_problem",
    "to_physical",
]

Kind = Literal["parameter", "strain", "dose"]

#: A table range spanning at least this ratio (with lower > 0) is sampled on the log scale.
LOG_RATIO = 10.0


class FactorError(ValueError):
    """A factor (name, bounds or factors file) is invalid; the message names it."""


@dataclass(frozen=True)
class Factor:
    """One uncertain input of a sensitivity analysis.

    Attributes
    ----------
    name : str
        As written by the user: a parameter name, ``STRAIN.property`` or
        ``intervention.dose``.
    lower, upper : float
        Bounds in physical units (``lower < upper``).
    log : bool
        Sample uniformly in ``log10(value)`` (requires ``lower > 0``).
    kind : {"parameter", "strain", "dose"}
        What the factor sets.
    target : str
        Parameter name, strain id or intervention name.
    prop : str or None
        Strain property for ``kind == "strain"``.
    nominal : float
        Value used when the factor is not varied (table value, strain property, dose).
    unit : str
        Physical unit.
    group : str or None
        Optional group (Sobol' and Morris then report one index per group).
    """

    name: str
    lower: float
    upper: float
    log: bool
    kind: Kind
    target: str
    prop: str | None = None
    nominal: float = float("nan")
    unit: str = ""
    group: str | None = field(default=None, compare=False)

    @property
    def bounds(self) -> tuple[float, float]:
        """Bounds in the sampling space (``log10`` for log-scale factors)."""
        if self.log:
            return (math.log10(self.lower), math.log10(self.upper))
        return (self.lower, self.upper)


def _table_bounds(spec: ModelSpec, pname: str) -> tuple[float, float] | None:
    p = spec.parameter(pname)
    if p.lower is None or p.upper is None or not p.lower < p.upper:
        return None
    return float(p.lower), float(p.upper)


def _default_log(lo: float, hi: float) -> bool:
    return lo > 0 and hi / lo >= LOG_RATIO


def _suggest(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(close)}?" if close else ""


def _fixed_per_analysis(spec: ModelSpec, name: str) -> str:
    """Why a parameter cannot vary per sample ('' when it can).

    Population parameters act when the cohort is drawn or screened (the shared-cause
    correlation, which candidates come forward) and observation parameters at grading (IGA
    cut points); both are applied once, to the fixed cohort of the analysis, so
    per-sample values would be silently ignored.
    """
    meta = spec.metadata or {}
    if name in (meta.get("population_parameters") or ()):
        return (
            "a population parameter (it acts when the cohort is drawn or screened, once for the "
            "fixed cohort of the analysis); vary it across separate `gutskin trial` runs "
            "or calibrate it instead"
        )
    if name in (meta.get("observation_parameters") or ()):
        return (
            "an observation parameter (IGA cut points grade the fixed cohort once, at "
            "their table values); choose another outcome than IGA, or vary it across "
            "separate `gutskin trial` runs"
        )
    return ""


def make_factor(
    name: str,
    spec: ModelSpec,
    *,
    lower: float | None = None,
    upper: float | None = None,
    log: bool | None = None,
    strains: Mapping[str, Strain] | None = None,
    nominal_doses: Mapping[str, float] | None = None,
    group: str | None = None,
) -> Factor:
    """Build and validate one factor from its name.

    Parameters
    ----------
    name : str
        Parameter name, ``STRAIN.property`` or ``intervention.dose``.
    spec : ModelSpec
        The model (parameter table with ranges).
    lower, upper : float, optional
        Bounds; default: the table range (parameters, strain properties) or the
        intervention's allowed dose range.  Must lie inside those ranges.
    log : bool, optional
        Log-scale sampling; default: true for ranges with ``lower > 0`` spanning
        at least a factor :data:`LOG_RATIO`.
    strains : mapping, optional
        Strain library (default: the packaged one).
    nominal_doses : mapping, optional
        Intervention name -> dose in the analysed arm (nominal value of dose factors).
    group : str, optional
        Group label.

    Returns
    -------
    Factor

    Raises
    ------
    FactorError
        Unknown name, bounds outside the allowed range, ``lower >= upper``, or a log
        scale with ``lower <= 0``.
    """
    library = dict(strains) if strains is not None else load_strains()
    kind: Kind
    prop: str | None = None
    if "." in name:
        head, _, tail = name.partition(".")
        if tail == "dose":
            try:
                iv = get_intervention(head, library)
            except InterventionError:
                raise FactorError(
                    f"factor {name!r}: unknown intervention {head!r}"
                    f"{_suggest(head, sorted(library))}"
                ) from None
            if iv.kind == "placebo":
                raise FactorError(f"factor {name!r}: placebo has no dose to vary")
            kind, target, allowed = "dose", iv.name, (float(iv.dose_range[0]), iv.dose_range[1])
            default_nominal = float((nominal_doses or {}).get(iv.name, iv.default_dose))
            unit = iv.dose_unit
        else:
            if head not in library:
                raise FactorError(
                    f"factor {name!r}: unknown strain {head!r}; known strains: "
                    f"{', '.join(library)} (or use <intervention>.dose)"
                )
            if tail not in STRAIN_PROPERTIES:
                raise FactorError(
                    f"factor {name!r}: unknown strain property {tail!r}; allowed: "
                    f"{', '.join(STRAIN_PROPERTIES)}, dose"
                )
            kind, target, prop = "strain", head, tail
            rng = _table_bounds(spec, f"pb1_{tail}")
            assert rng is not None
            allowed = rng
            default_nominal = library[head].value(tail)
            unit = spec.parameter(f"pb1_{tail}").unit
    else:
        if name not in spec.parameter_names:
            raise FactorError(
                f"unknown factor {name!r}: not a model parameter, STRAIN.property or "
                f"intervention.dose{_suggest(name, spec.parameter_names)}"
            )
        fixed = _fixed_per_analysis(spec, name)
        if fixed:
            raise FactorError(f"factor {name!r}: {fixed}")
        rng = _table_bounds(spec, name)
        if rng is None and (lower is None or upper is None):
            raise FactorError(
                f"factor {name!r}: the parameter table gives no range; give lower and upper"
            )
        kind, target = "parameter", name
        allowed = rng if rng is not None else (-math.inf, math.inf)
        default_nominal = float(spec.parameter(name).value)
        unit = spec.parameter(name).unit
    lo = float(allowed[0] if lower is None else lower)
    hi = float(allowed[1] if upper is None else upper)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise FactorError(f"factor {name!r}: bounds must be finite numbers, got [{lo}, {hi}]")
    if not lo < hi:
        raise FactorError(f"factor {name!r}: lower ({lo:g}) must be below upper ({hi:g})")
    if lo < allowed[0] or hi > allowed[1]:
        raise FactorError(
            f"factor {name!r}: bounds [{lo:g}, {hi:g}] leave the allowed range "
            f"[{allowed[0]:g}, {allowed[1]:g}]"
        )
    use_log = _default_log(lo, hi) if log is None else bool(log)
    if use_log and lo <= 0:
        raise FactorError(f"factor {name!r}: a log scale needs lower > 0, got {lo:g}")
    return Factor(
        name=name,
        lower=lo,
        upper=hi,
        log=use_log,
        kind=kind,
        target=target,
        prop=prop,
        nominal=default_nominal,
        unit=unit,
        group=group,
    )


def salib_problem(factors: Sequence[Factor], *, groups: bool = False) -> dict[str, Any]:
    """The SALib problem dictionary (bounds in sampling space).

    Parameters
    ----------
    factors : sequence of Factor
        At least one; names must be unique.
    groups : bool
        Add ``groups`` (each factor's group, or its own name when it has none).

    Returns
    -------
    dict
        ``{"num_vars", "names", "bounds"[, "groups"]}``.
    """
    if not factors:
        raise FactorError("no factors to analyse")
    names = [f.name for f in factors]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise FactorError(f"factor(s) listed twice: {dup}")
    problem: dict[str, Any] = {
        "num_vars": len(factors),
        "names": names,
        "bounds": [list(f.bounds) for f in factors],
    }
    if groups:
        problem["groups"] = [f.group or f.name for f in factors]
    return problem


def to_physical(factors: Sequence[Factor], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Map samples from SALib's sampling space to physical values (``10**x`` on log scale).

    Parameters
    ----------
    factors : sequence of Factor
        The factors (columns of ``x``).
    x : array (n, D)
        Samples in sampling space.

    Returns
    -------
    ndarray (n, D)
        Physical values, clipped to each factor's bounds (guards rounding at the edges).
    """
    xa = np.array(x, dtype=np.float64, copy=True, ndmin=2)
    for j, f in enumerate(factors):
        if f.log:
            xa[:, j] = np.power(10.0, xa[:, j])
        xa[:, j] = np.clip(xa[:, j], f.lower, f.upper)
    return xa


def factor_table(factors: Sequence[Factor]) -> list[dict[str, Any]]:
    """Factors as plain rows (for provenance and ``factors.csv``)."""
    return [
        {
            "name": f.name,
            "kind": f.kind,
            "target": f.target if f.prop is None else f"{f.target}.{f.prop}",
            "lower": f.lower,
            "upper": f.upper,
            "scale": "log10" if f.log else "linear",
            "nominal": f.nominal,
            "unit": f.unit,
            "group": f.group or "",
        }
        for f in factors
    ]
