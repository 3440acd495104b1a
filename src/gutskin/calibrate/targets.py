"""Calibration targets: load and validate the targets file.

The package keeps its targets in ``gutskin/calibrate/data/targets.yaml`` (derived from the
project's shared targets file, every entry with its citation).  Each quantitative target
carries ``sd`` (the objective weight, ``z = (simulated - observed) / sd``) and ``tolerance``
(the acceptance half-width of the validation report), or ``range`` for targets reported
as an interval.  ``uncertainty_note`` states what was reported and what was inferred.

A case-control ratio reported with group means, a p-value and group sizes (but no
dispersion) may give them under ``reported``; its ``range`` and ``sd`` are then derived
by :func:`ratio_interval_from_p` rather than typed by hand.

References
----------
Rinaldi F et al. Dermatol Ther (Heidelb) 2022;12(2):577-589 (anchor probiotic trial).
Lamel SA et al. Arch Dermatol Res 2015;307(9):757-766 (vehicle responses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from gutskin.engine.yamlio import YamlInputError, read_yaml_file
from gutskin.trial.design import Design, DesignError, load_design, parse_design

__all__ = [
    "SIMULATORS",
    "STATISTICS",
    "Target",
    "TargetError",
    "TargetSet",
    "default_targets_path",
    "load_targets",
    "ratio_interval_from_p",
]

#: Simulators and the statistics each accepts.
STATISTICS: dict[str, tuple[str, ...]] = {
    "trial": (
        "pct_change_of_means",
        "proportion",
        "dropout",
        "baseline_mean",
        "baseline_sd",
        "mean_change",
        "sd_change",
        "sd_pct_change",
        "max_fold_change",
        "direction",
        "ordering",
    ),
    "cohort": ("pct_change_of_means",),
    "relation": ("slope",),
    "population": ("ratio_of_means", "diff_of_means", "direction"),
    "strain_property": ("value",),
    "not_represented": ("none",),
}
SIMULATORS = tuple(STATISTICS)
_DIRECTIONS = ("decrease", "increase", "lower_in_acne", "higher_in_acne")


class TargetError(ValueError):
    """The targets file is malformed (the message names the entry and the field)."""


def ratio_interval_from_p(
    mean_cases: float,
    mean_controls: float,
    p: float,
    n_cases: int,
    n_controls: int,
    level: float = 0.95,
) -> tuple[float, float, float, float]:
    """Ratio of two group means with an interval recovered from a reported p-value.

    The p-value is read as that of a two-sided pooled two-sample t test, which gives the
    pooled SD ``s = |m_a - m_c| / (t * sqrt(1/n_a + 1/n_c))`` with ``t`` the
    ``1 - p/2`` quantile on ``n_a + n_c - 2`` degrees of freedom.  The standard error of
    the log ratio follows by the delta method,
    ``se = sqrt((s^2/n_a)/m_a^2 + (s^2/n_c)/m_c^2)``, and the interval is
    ``ratio * exp(+-z * se)`` with ``z`` the normal quantile of ``level``.

    Parameters
    ----------
    mean_cases, mean_controls : float
        Group means (same unit, > 0).
    p : float
        Reported two-sided p-value, in (0, 1).
    n_cases, n_controls : int
        Group sizes (>= 2 each).
    level : float
        Coverage of the interval.

    Returns
    -------
    ratio, low, high, sd : float
        ``mean_cases / mean_controls``, the interval, and the standard error on the ratio
        scale (``ratio * se``), used as the objective weight.

    Notes
    -----
    Microbiome case-control studies often use rank tests; reading their p-value as a
    t test's is an approximation, stated with each target that uses it.
    """
    from scipy.stats import norm, t

    if mean_cases <= 0 or mean_controls <= 0:
        raise ValueError("group means must be > 0")
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    if n_cases < 2 or n_controls < 2:
        raise ValueError("group sizes must be >= 2")
    if mean_cases == mean_controls:
        raise ValueError("equal group means: the p-value then says nothing about dispersion")
    tq = float(t.ppf(1.0 - p / 2.0, n_cases + n_controls - 2))
    s = abs(mean_cases - mean_controls) / (tq * (1.0 / n_cases + 1.0 / n_controls) ** 0.5)
    se_log = ((s**2 / n_cases) / mean_cases**2 + (s**2 / n_controls) / mean_controls**2) ** 0.5
    ratio = mean_cases / mean_controls
    z = float(norm.ppf(0.5 + level / 2.0))
    return ratio, ratio * math.exp(-z * se_log), ratio * math.exp(z * se_log), ratio * se_log


_REPORTED_KEYS = ("mean_cases", "mean_controls", "p", "n_cases", "n_controls")


def _reported(raw: dict[str, Any], where: str) -> tuple[float, float, float, float] | None:
    rep = raw.get("reported")
    if rep is None:
        return None
    if not isinstance(rep, dict) or sorted(rep) != sorted(_REPORTED_KEYS):
        raise TargetError(
            f"{where}.reported: expected exactly the keys {', '.join(_REPORTED_KEYS)}"
        )
    if raw.get("simulator") != "population" or raw.get("statistic") != "ratio_of_means":
        raise TargetError(f"{where}.reported: only for population ratio_of_means targets")
    if "range" in raw or "sd" in raw:
        raise TargetError(f"{where}: give 'reported' or 'range'/'sd', not both")
    try:
        return ratio_interval_from_p(
            float(rep["mean_cases"]),
            float(rep["mean_controls"]),
            float(rep["p"]),
            int(rep["n_cases"]),
            int(rep["n_controls"]),
        )
    except (TypeError, ValueError) as exc:
        raise TargetError(f"{where}.reported: {exc}") from None


def _group(raw: dict[str, Any], key: str, bound: str, where: str) -> None:
    grp = raw.get(key)
    if grp is None:
        return
    if raw.get("simulator") != "population":
        raise TargetError(f"{where}.{key}: only for population targets")
    if not isinstance(grp, dict) or set(grp) != {bound}:
        raise TargetError(f"{where}.{key}: expected {{{bound}: number}}")
    v = grp[bound]
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
        raise TargetError(f"{where}.{key}.{bound}: expected a number >= 0")


@dataclass(frozen=True)
class Target:
    """One calibration target.

    Attributes
    ----------
    id, group, citation : str
        Identity and source.
    simulator, statistic : str
        How the simulated counterpart is computed (see :data:`STATISTICS`).
    observed : float or None
        Reported (or derived) value; ``None`` for direction/ordering targets.
    sd : float or None
        Objective weight (uncertainty of the target).
    tolerance : float or None
        Acceptance half-width; ``range`` replaces ``observed ± tolerance`` when given.
    fit : bool
        Whether the target enters the objective.
    options : dict
        Simulator-specific fields (design, arm, endpoint, visit_week, regimens, ...).
    """

    id: str
    group: str
    citation: str
    simulator: str
    statistic: str
    observed: float | None
    sd: float | None
    tolerance: float | None
    range: tuple[float, float] | None
    fit: bool
    uncertainty_note: str
    reason: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def quantitative(self) -> bool:
        """Whether the target has a numeric value (or range) to compare with."""
        return self.observed is not None or self.range is not None

    def band(self) -> tuple[float, float] | None:
        """Acceptance interval ``(lo, hi)`` or ``None`` for qualitative targets."""
        if self.range is not None:
            return self.range
        if self.observed is not None and self.tolerance is not None:
            return (self.observed - self.tolerance, self.observed + self.tolerance)
        return None

    def met(self, simulated: float) -> bool:
        """Whether ``simulated`` lies inside the acceptance band (never for NaN or for a
        target without a band)."""
        band = self.band()
        return band is not None and math.isfinite(simulated) and band[0] <= simulated <= band[1]

    def z(self, simulated: float) -> float:
        """Standardised residual: ``(sim - obs)/sd``, or distance outside ``range`` over sd."""
        sd = self.sd if self.sd else 1.0
        if self.range is not None:
            lo, hi = self.range
            if simulated < lo:
                return (simulated - lo) / sd
            if simulated > hi:
                return (simulated - hi) / sd
            return 0.0
        if self.observed is None:
            return 0.0
        return (simulated - self.observed) / sd


@dataclass
class TargetSet:
    """Targets with the designs they refer to and the default fitted parameters."""

    targets: list[Target]
    designs: dict[str, Design]
    fit_sample_sizes: dict[str, int]
    fit_parameters: list[str]
    path: Path

    def by_id(self, tid: str) -> Target:
        """The target with id ``tid``."""
        for t in self.targets:
            if t.id == tid:
                return t
        raise KeyError(tid)

    def fitted(self) -> list[Target]:
        """Targets that enter the objective."""
        return [t for t in self.targets if t.fit]


def default_targets_path() -> Path:
    """Path of the packaged targets file."""
    return Path(str(resources.files("gutskin.calibrate") / "data" / "targets.yaml"))


def _num(entry: dict[str, Any], key: str, where: str, *, positive: bool = False) -> float | None:
    if key not in entry or entry[key] is None:
        return None
    v = entry[key]
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise TargetError(f"{where}.{key}: expected a number, got {v!r}")
    if positive and not v > 0:
        raise TargetError(f"{where}.{key}: must be > 0, got {v!r}")
    return float(v)


def _design(name: str, raw: Any, base: Path) -> tuple[Design, int]:
    where = f"designs.{name}"
    if not isinstance(raw, dict):
        raise TargetError(f"{where}: expected a mapping with 'builtin' or 'design'")
    unknown = sorted(set(raw) - {"builtin", "design", "file", "fit_sample_size"})
    if unknown:
        raise TargetError(f"{where}: unknown field(s) {unknown}")
    try:
        if "builtin" in raw:
            d = load_design(str(raw["builtin"]))
        elif "file" in raw:
            d = load_design(base / str(raw["file"]))
        elif "design" in raw:
            d = parse_design(raw["design"], where=f"{where}.design")
        else:
            raise TargetError(f"{where}: needs one of 'builtin', 'file' or 'design'")
    except DesignError as exc:
        raise TargetError(f"{where}: {exc}") from None
    n = raw.get("fit_sample_size", d.sample_size)
    if isinstance(n, bool) or not isinstance(n, int) or n < 2 * len(d.arms):
        raise TargetError(f"{where}.fit_sample_size: expected an integer >= {2 * len(d.arms)}")
    return d, n


#: The fields of a target itself; every other known key is a simulator option.
_TARGET_FIELDS = {
    "id",
    "group",
    "citation",
    "simulator",
    "statistic",
    "observed",
    "sd",
    "tolerance",
    "range",
    "fit",
    "uncertainty_note",
    "reason",
}
_KNOWN = _TARGET_FIELDS | {
    # simulator options
    "design",
    "arm",
    "arms",
    "endpoint",
    "visit_week",
    "order",
    "tie_tolerance",
    "direction",
    "largest_arm",
    "regimens",
    "weeks",
    "output",
    "select",
    "n",
    "strain",
    "property",
    "cases",
    "controls",
    "reported",
}
_OPTION_KEYS = _KNOWN - _TARGET_FIELDS


def _target(raw: Any, i: int, designs: dict[str, Design]) -> Target:
    where = f"targets[{i}]"
    if not isinstance(raw, dict):
        raise TargetError(f"{where}: expected a mapping")
    tid = raw.get("id")
    if not isinstance(tid, str) or not tid:
        raise TargetError(f"{where}.id: missing or not a string")
    where = f"targets[{i}] ({tid})"
    unknown = sorted(set(raw) - _KNOWN)
    if unknown:
        raise TargetError(f"{where}: unknown field(s) {unknown}")
    if not raw.get("citation"):
        raise TargetError(f"{where}.citation: every target needs a citation")
    sim = raw.get("simulator")
    if sim not in STATISTICS:
        raise TargetError(f"{where}.simulator: {sim!r} is not one of {', '.join(SIMULATORS)}")
    stat = raw.get("statistic", STATISTICS[sim][0])
    if stat not in STATISTICS[sim]:
        raise TargetError(
            f"{where}.statistic: {stat!r} not allowed for simulator {sim!r} "
            f"(allowed: {', '.join(STATISTICS[sim])})"
        )
    observed = _num(raw, "observed", where)
    sd = _num(raw, "sd", where, positive=True)
    tol = _num(raw, "tolerance", where, positive=True)
    rng = raw.get("range")
    derived = _reported(raw, where)
    if derived is not None:
        ratio, lo, hi, sd = derived
        rng = [lo, hi]
        observed = ratio if observed is None else observed
    _group(raw, "cases", "inflammatory_min", where)
    _group(raw, "controls", "inflammatory_max", where)
    if rng is not None:
        if (
            not isinstance(rng, list)
            or len(rng) != 2
            or not all(isinstance(x, int | float) for x in rng)
            or not rng[0] < rng[1]
        ):
            raise TargetError(f"{where}.range: expected [low, high] with low < high")
        rng = (float(rng[0]), float(rng[1]))
    qualitative = stat in ("direction", "ordering", "none")
    if not qualitative:
        if observed is None and rng is None:
            raise TargetError(f"{where}: needs 'observed' or 'range'")
        if sd is None:
            raise TargetError(f"{where}.sd: a quantitative target needs its uncertainty (sd)")
        if rng is None and tol is None:
            raise TargetError(f"{where}.tolerance: needed (acceptance band) when no range")
    if sim == "not_represented" and not raw.get("reason"):
        raise TargetError(f"{where}.reason: say why the model cannot express this target")
    fit = bool(raw.get("fit", False))
    if fit and qualitative:
        raise TargetError(f"{where}.fit: only quantitative targets can be fitted")
    opts = {k: v for k, v in raw.items() if k in _OPTION_KEYS}
    if sim == "trial":
        dname = raw.get("design")
        if dname not in designs:
            raise TargetError(
                f"{where}.design: {dname!r} is not in 'designs' ({', '.join(sorted(designs))})"
            )
        d = designs[dname]
        arms = [a.name for a in d.arms]
        for a in [raw.get("arm"), *(raw.get("arms") or []), *(raw.get("order") or [])]:
            if a is not None and a not in arms:
                raise TargetError(f"{where}: arm {a!r} not in design {dname!r} ({arms})")
        if stat not in ("direction", "ordering") and raw.get("arm") is None:
            raise TargetError(f"{where}.arm: needed for statistic {stat!r}")
        if stat == "ordering" and not raw.get("order"):
            raise TargetError(f"{where}.order: list the arms from most to least reduction")
        if stat == "direction" and not raw.get("arms"):
            raise TargetError(f"{where}.arms: list the arms whose direction is checked")
        vw = raw.get("visit_week")
        if vw not in d.visits_weeks:
            raise TargetError(
                f"{where}.visit_week: {vw!r} is not a visit of {dname!r} ({d.visits_weeks})"
            )
    if stat == "direction" and raw.get("direction") not in _DIRECTIONS:
        raise TargetError(f"{where}.direction: expected one of {', '.join(_DIRECTIONS)}")
    if sim in ("cohort", "relation", "population"):
        n = raw.get("n", 100)
        if isinstance(n, bool) or not isinstance(n, int) or n < 10:
            raise TargetError(f"{where}.n: expected an integer >= 10")
        if not isinstance(raw.get("output"), str):
            raise TargetError(f"{where}.output: name the model output")
    if sim in ("cohort", "relation"):
        if not isinstance(raw.get("regimens"), list) or not raw.get("weeks"):
            raise TargetError(f"{where}: needs 'regimens' (list) and 'weeks'")
    if sim == "strain_property" and not (raw.get("strain") and raw.get("property")):
        raise TargetError(f"{where}: needs 'strain' and 'property'")
    return Target(
        id=tid,
        group=str(raw.get("group", "")),
        citation=str(raw["citation"]),
        simulator=sim,
        statistic=stat,
        observed=observed,
        sd=sd,
        tolerance=tol,
        range=rng,
        fit=fit,
        uncertainty_note=str(raw.get("uncertainty_note", "")),
        reason=str(raw.get("reason", "")),
        options=opts,
    )


def load_targets(path: str | Path | None = None) -> TargetSet:
    """Read and validate a targets file.

    Parameters
    ----------
    path : str or Path, optional
        Targets YAML (default: the packaged file).

    Returns
    -------
    TargetSet

    Raises
    ------
    TargetError
        One line naming the file, the entry and the field at fault.
    """
    p = Path(path) if path is not None else default_targets_path()
    try:
        doc = read_yaml_file(p)
    except OSError as exc:
        raise TargetError(f"targets file {p}: cannot read ({exc.strerror})") from None
    except YamlInputError as exc:
        raise TargetError(f"targets file {exc}") from None
    try:
        return _parse(doc, p)
    except TargetError as exc:
        raise TargetError(f"targets file {p}: {exc}") from None


def _parse(doc: Any, p: Path) -> TargetSet:
    if not isinstance(doc, dict):
        raise TargetError("expected a mapping with 'targets'")
    if doc.get("schema_version", 1) != 1:
        raise TargetError(f"schema_version {doc.get('schema_version')!r} not supported (1)")
    raw_designs = doc.get("designs") or {}
    if not isinstance(raw_designs, dict):
        raise TargetError("designs: expected a mapping of name -> design")
    designs: dict[str, Design] = {}
    sizes: dict[str, int] = {}
    for name, raw in raw_designs.items():
        designs[str(name)], sizes[str(name)] = _design(str(name), raw, p.parent)
    raw_t = doc.get("targets")
    if not isinstance(raw_t, list) or not raw_t:
        raise TargetError("targets: expected a non-empty list")
    targets = [_target(r, i, designs) for i, r in enumerate(raw_t)]
    ids = [t.id for t in targets]
    dup = sorted({x for x in ids if ids.count(x) > 1})
    if dup:
        raise TargetError(f"targets: duplicate id(s) {dup}")
    fp = doc.get("fit_parameters") or []
    if not isinstance(fp, list) or not all(isinstance(x, str) for x in fp):
        raise TargetError("fit_parameters: expected a list of parameter names")
    if fp:
        from gutskin.model.acne import read_parameters

        known = {q.name: q for q in read_parameters()}
        bad = [x for x in fp if x not in known]
        if bad:
            raise TargetError(f"fit_parameters: unknown parameter(s) {bad}")
    return TargetSet(
        targets=targets, designs=designs, fit_sample_sizes=sizes, fit_parameters=fp, path=p
    )
