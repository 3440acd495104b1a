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

References
----------
Saltelli A, Ratto M, Andres T, et al. *Global Sensitivity Analysis. The Primer*.
Wiley, 2008 (chapter 1: choosing factors and their ranges).
"""

from __future__ import annotations

import csv
import difflib
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from gutskin.engine.spec import ModelSpec
from gutskin.engine.yamlio import YamlInputError, load_yaml
from gutskin.model.interventions import InterventionError, get_intervention
from gutskin.model.strains import STRAIN_PROPERTIES, Strain, load_strains

__all__ = [
    "FACTOR_SETS",
    "Factor",
    "FactorError",
    "arm_strains",
    "default_factors",
    "factor_table",
    "load_factors",
    "make_factor",
    "resolve_factors",
    "salib_problem",
    "strain_factors",
    "to_physical",
]

Kind = Literal["parameter", "strain", "dose"]

#: Named factor sets accepted by ``--factors`` besides a file path.
FACTOR_SETS: dict[str, str] = {
    "default": (
        "every model parameter with a range in the parameter table, except the population "
        "(care_seeking, the shared-cause correlation) and IGA-grading (iga_cut_*) "
        "parameters, which act once on the fixed cohort"
    ),
    "strain": "every property of every probiotic strain given in the analysed arm",
}

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


def default_factors(spec: ModelSpec) -> list[Factor]:
    """Every parameter of ``spec`` with a range (``lower < upper``) in the table.

    Population (drawing, screening) and observation (IGA grading) parameters are left
    out: they act once on the analysis' fixed cohort (see :func:`make_factor`).

    Parameters
    ----------
    spec : ModelSpec
        The model.

    Returns
    -------
    list of Factor
        In parameter-table order, bounds from the table, log scale by
        :data:`LOG_RATIO`.
    """
    library = load_strains()
    return [
        make_factor(p.name, spec, strains=library)
        for p in spec.parameters
        if p.lower is not None
        and p.upper is not None
        and p.lower < p.upper
        and not _fixed_per_analysis(spec, p.name)
    ]


def arm_strains(regimens: Sequence[Any], strains: Mapping[str, Strain] | None = None) -> list[str]:
    """Probiotic strains of an arm in slot order (order of first appearance).

    Parameters
    ----------
    regimens : sequence
        Regimens (objects or mappings with ``intervention``).
    strains : mapping, optional
        Strain library.

    Returns
    -------
    list of str
        Strain ids; strain ``k`` (0-based) occupies slot ``k + 1``.
    """
    library = dict(strains) if strains is not None else load_strains()
    out: list[str] = []
    for r in regimens:
        name = r["intervention"] if isinstance(r, Mapping) else r.intervention
        iv = get_intervention(name, library)
        if iv.kind == "probiotic" and iv.strain is not None and iv.strain not in out:
            out.append(iv.strain)
    return out


def strain_factors(
    spec: ModelSpec,
    regimens: Sequence[Any],
    *,
    strains: Mapping[str, Strain] | None = None,
    arm: str = "the arm",
) -> list[Factor]:
    """All properties of the probiotic strains given in an arm.

    Parameters
    ----------
    spec : ModelSpec
        The model (ranges of the ``pb1_<property>`` parameters).
    regimens : sequence
        The arm's regimens.
    strains : mapping, optional
        Strain library.
    arm : str
        Arm name for the error message.

    Returns
    -------
    list of Factor
        ``STRAIN.property`` for each strain (slot order) and property, grouped by
        property (``group`` = property name).

    Raises
    ------
    FactorError
        If the arm gives no probiotic strain.
    """
    strains = dict(strains) if strains is not None else load_strains()
    ids = arm_strains(regimens, strains)
    if not ids:
        raise FactorError(
            f"--factors strain: {arm} gives no probiotic strain; choose an arm with "
            "one (--design DESIGN:ARM) or another factor set"
        )
    return [
        make_factor(f"{sid}.{prop}", spec, strains=strains, group=prop)
        for sid in ids
        for prop in STRAIN_PROPERTIES
    ]


_TRUE = {"true", "yes", "1", "log", "log10", "y"}
_FALSE = {"false", "no", "0", "linear", "lin", "n", ""}


def _flag(value: Any, where: str) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return None if text == "" else False
    raise FactorError(f"{where}: log must be true/false (or log/linear), got {value!r}")


def _number(value: Any, where: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise FactorError(f"{where}: expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise FactorError(f"{where}: expected a number, got {value!r}") from None


def _rows_from_file(path: Path) -> list[dict[str, Any]]:
    from gutskin.engine.yamlio import MAX_YAML_BYTES, InputFileError, read_text_bounded

    try:
        text = read_text_bounded(path, MAX_YAML_BYTES, "factors file")
    except InputFileError as exc:
        raise FactorError(str(exc)) from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or "name" not in reader.fieldnames:
            raise FactorError(f"factors file {path}: a CSV needs a header with 'name'")
        allowed = {"name", "lower", "upper", "log", "scale", "group"}
        extra = sorted(set(reader.fieldnames) - allowed)
        if extra:
            raise FactorError(
                f"factors file {path}: unknown column(s) {extra}; allowed: {sorted(allowed)}"
            )
        return [dict(r) for r in reader]
    try:
        doc = load_yaml(text, str(path))
    except YamlInputError as exc:
        raise FactorError(f"factors file {exc} (or use a .csv file)") from None
    if isinstance(doc, Mapping) and "factors" in doc:
        doc = doc["factors"]
    if isinstance(doc, Mapping):
        rows = []
        for k, v in doc.items():
            if v is None:
                v = {}
            if not isinstance(v, Mapping):
                raise FactorError(f"factors file {path}: factor {k!r}: expected a mapping")
            rows.append({"name": str(k), **v})
        return rows
    if isinstance(doc, list):
        rows = []
        for i, v in enumerate(doc):
            if isinstance(v, str):
                v = {"name": v}
            if not isinstance(v, Mapping):
                raise FactorError(f"factors file {path}: entry {i}: expected a mapping")
            rows.append(dict(v))
        return rows
    raise FactorError(
        f"factors file {path}: expected a list of factors or a mapping name -> "
        "{lower, upper, log}"
    )


def load_factors(
    path: str | Path,
    spec: ModelSpec,
    *,
    strains: Mapping[str, Strain] | None = None,
    nominal_doses: Mapping[str, float] | None = None,
) -> list[Factor]:
    """Read factors from a YAML or CSV file.

    Formats (``lower``, ``upper``, ``log`` and ``group`` optional; missing bounds come
    from the table)::

        # YAML, a list ...
        - {name: gut_skin_gain, lower: 0.5, upper: 3}
        - {name: LS03.anti_il8, lower: 0.1, upper: 0.25}
        - {name: pb_ed50, log: true}
        # ... or a mapping
        gut_skin_gain: {lower: 0.5, upper: 3}

        # CSV
        name,lower,upper,log
        gut_skin_gain,0.5,3,false

    ``scale: log`` is accepted for ``log: true``.

    Parameters
    ----------
    path : str or Path
        The file (``.csv`` is read as CSV, anything else as YAML).
    spec : ModelSpec
        The model.
    strains : mapping, optional
        Strain library.
    nominal_doses : mapping, optional
        Doses of the analysed arm (nominal values of dose factors).

    Returns
    -------
    list of Factor

    Raises
    ------
    FactorError
        Naming the file and factor for any invalid entry, an empty file, or a factor
        listed twice.
    """
    p = Path(path)
    strains = dict(strains) if strains is not None else load_strains()
    rows = _rows_from_file(p)
    if not rows:
        raise FactorError(f"factors file {p}: no factors")
    out: list[Factor] = []
    seen: set[str] = set()
    allowed = {"name", "lower", "upper", "log", "scale", "group"}
    for i, row in enumerate(rows):
        where = f"factors file {p}, entry {i + 1}"
        extra = sorted(set(row) - allowed)
        if extra:
            raise FactorError(f"{where}: unknown field(s) {extra}; allowed: {sorted(allowed)}")
        name = str(row.get("name") or "").strip()
        if not name:
            raise FactorError(f"{where}: 'name' is required")
        if name in seen:
            raise FactorError(f"{where}: factor {name!r} is listed twice")
        seen.add(name)
        log = _flag(row.get("log", row.get("scale")), f"{where} ({name})")
        group = row.get("group")
        try:
            out.append(
                make_factor(
                    name,
                    spec,
                    lower=_number(row.get("lower"), f"{where} ({name}).lower"),
                    upper=_number(row.get("upper"), f"{where} ({name}).upper"),
                    log=log,
                    strains=strains,
                    nominal_doses=nominal_doses,
                    group=str(group) if group not in (None, "") else None,
                )
            )
        except FactorError as exc:
            raise FactorError(f"factors file {p}: {exc}") from None
    return out


def resolve_factors(
    which: str,
    spec: ModelSpec,
    *,
    regimens: Sequence[Any] = (),
    arm: str = "the arm",
    strains: Mapping[str, Strain] | None = None,
    nominal_doses: Mapping[str, float] | None = None,
) -> list[Factor]:
    """Factors named by ``--factors``: ``default``, ``strain`` or a file path.

    Parameters
    ----------
    which : str
        ``"default"`` (:func:`default_factors`), ``"strain"`` (:func:`strain_factors`
        of ``regimens``) or the path of a YAML/CSV factors file.
    spec : ModelSpec
        The model.
    regimens : sequence
        Regimens of the analysed arm (for ``strain``).
    arm : str
        Arm name (messages).
    strains : mapping, optional
        Strain library.
    nominal_doses : mapping, optional
        Doses in the analysed arm.

    Returns
    -------
    list of Factor
    """
    if which == "default":
        return default_factors(spec)
    if which == "strain":
        return strain_factors(spec, regimens, strains=strains, arm=arm)
    path = Path(which)
    if not path.exists():
        raise FactorError(
            f"--factors {which!r}: neither a factors file nor one of {', '.join(FACTOR_SETS)}"
        )
    return load_factors(path, spec, strains=strains, nominal_doses=nominal_doses)


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
