"""Interventions as named model inputs: a registry and a resolver to exposures.

Every intervention sets one model input (``probiotic_dose_<k>``, ``prebiotic``, ...)
over a time window; probiotic strains additionally set the parameters of the slot they
occupy (:meth:`gutskin.model.strains.Strain.slot_parameters`).  :func:`resolve` turns a
list of regimens into engine :class:`~gutskin.engine.schedule.Exposure` s and parameter
overrides; the trial layer compiles them with :func:`gutskin.engine.build_schedule`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import pandas as pd

from gutskin.engine.schedule import Exposure, ScheduleError, Treatment
from gutskin.engine.yamlio import load_yaml
from gutskin.model.strains import Strain, load_strains

__all__ = [
    "ALIASES",
    "INTERVENTIONS",
    "Intervention",
    "InterventionError",
    "Regimen",
    "arm_treatment",
    "get_intervention",
    "intervention_table",
    "resolve",
]

Kind = Literal["probiotic", "input", "placebo"]


class InterventionError(ValueError):
    """An intervention or regimen is invalid; the message names the field and what is allowed."""


@dataclass(frozen=True)
class Intervention:
    """A registered intervention.

    Attributes
    ----------
    name : str
        Registry key.
    description : str
        What it is.
    kind : {"probiotic", "input", "placebo"}
        Probiotics occupy a slot; ``input`` sets ``input``; placebo sets nothing.
    input : str or None
        Model input it sets (probiotics: chosen at resolve time).
    dose_unit : str
        Unit of ``dose``.
    default_dose : float
        Dose used when a regimen gives none.
    dose_range : (float, float)
        Allowed dose range (inclusive).
    mechanism : str
        How it acts in the model.
    source : str
        Evidence for the mechanism (or ``assumed``).
    strain : str or None
        Strain id for probiotics.
    """

    name: str
    description: str
    kind: Kind
    input: str | None
    dose_unit: str
    default_dose: float
    dose_range: tuple[float, float]
    mechanism: str
    source: str
    strain: str | None = None


@dataclass(frozen=True)
class Regimen:
    """One regimen: an intervention at a dose over ``[start_day, stop_day)``.

    ``dose`` None means the intervention's default dose.  ``pattern`` is ``"daily"``
    (each day taken or missed with probability ``adherence``) or ``"continuous"``.
    """

    intervention: str
    start_day: float
    stop_day: float
    dose: float | None = None
    pattern: str = "daily"
    adherence: float = 1.0


def _probiotic(strain: Strain) -> Intervention:
    return Intervention(
        name=strain.id,
        description=f"Oral probiotic {strain.name}",
        kind="probiotic",
        input=None,
        dose_unit="CFU/day",
        default_dose=strain.default_dose,
        dose_range=(0.0, 1.0e12),
        mechanism=(
            "Dosed gut load with first-order washout; per-unit-load effects on gut immune "
            "IL-8 tone, SCFA, barrier repair, skin IGF-1 and skin-reaching antimicrobial "
            "activity (strain properties in strains.yaml)"
        ),
        source="; ".join(sorted({p.source for p in strain.properties.values()})),
        strain=strain.id,
    )


#: Fields of an entry of ``data/interventions.yaml``.
_FIELDS = (
    "description",
    "kind",
    "input",
    "dose_unit",
    "default_dose",
    "dose_range",
    "mechanism",
    "source",
)


def _entry(name: str, e: Any) -> Intervention:
    where = f"interventions.yaml: interventions.{name}"
    if not isinstance(e, Mapping):
        raise InterventionError(f"{where}: expected a mapping of {', '.join(_FIELDS)}")
    missing = [f for f in _FIELDS if f not in e]
    extra = sorted(set(e) - set(_FIELDS))
    if missing or extra:
        raise InterventionError(f"{where}: missing {missing} / unknown {extra} fields")
    if e["kind"] not in ("input", "placebo"):
        raise InterventionError(f"{where}.kind: must be input or placebo, got {e['kind']!r}")
    if (e["input"] is None) != (e["kind"] == "placebo"):
        raise InterventionError(f"{where}.input: an input intervention names one model input")
    lo, hi = (float(x) for x in e["dose_range"])
    dose = float(e["default_dose"])
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= dose <= hi):
        raise InterventionError(
            f"{where}: need 0 <= dose_range[0] <= default_dose <= dose_range[1]"
        )
    return Intervention(
        name=name,
        description=str(e["description"]),
        kind=e["kind"],
        input=e["input"],
        dose_unit=str(e["dose_unit"]),
        default_dose=dose,
        dose_range=(lo, hi),
        mechanism=str(e["mechanism"]),
        source=str(e["source"]),
    )


@functools.cache
def _library() -> tuple[tuple[Intervention, ...], dict[str, str]]:
    """The packaged non-probiotic interventions and aliases (``data/interventions.yaml``)."""
    text = (resources.files("gutskin.model") / "data" / "interventions.yaml").read_text("utf-8")
    doc = load_yaml(text, "interventions.yaml")
    entries = tuple(_entry(str(n), e) for n, e in doc["interventions"].items())
    aliases = {str(a): str(t) for a, t in doc.get("aliases", {}).items()}
    names = {x.name for x in entries}
    bad = sorted(t for t in aliases.values() if t not in names)
    if bad:
        raise InterventionError(f"interventions.yaml: aliases point to unknown {bad}")
    return entries, aliases


#: Alternative names accepted by :func:`get_intervention` and :func:`resolve`.
ALIASES: dict[str, str] = dict(_library()[1])


def _registry(strains: Mapping[str, Strain] | None = None) -> dict[str, Intervention]:
    reg = {i.name: i for i in _library()[0]}
    for sid, strain in (strains if strains is not None else load_strains()).items():
        if sid in reg or sid in ALIASES:
            raise InterventionError(
                f"strain id {sid!r} clashes with an intervention name; rename the strain"
            )
        reg[sid] = _probiotic(strain)
    return reg


#: Registry of the packaged interventions (fixed ones plus one per packaged strain).
INTERVENTIONS: dict[str, Intervention] = _registry()


def get_intervention(name: str, strains: Mapping[str, Strain] | None = None) -> Intervention:
    """Look up an intervention by name or alias.

    Parameters
    ----------
    name : str
        Registry name (e.g. ``"LS03"``, ``"botanical"``) or an alias (``"doxycycline"``).
    strains : mapping, optional
        Strain library (e.g. from ``load_strains(user_file)``); default: packaged.

    Returns
    -------
    Intervention

    Raises
    ------
    InterventionError
        If the name is unknown; the message lists the known names.
    """
    reg = INTERVENTIONS if strains is None else _registry(strains)
    key = ALIASES.get(name, name)
    if key not in reg:
        raise InterventionError(
            f"intervention: unknown name {name!r}; known: {sorted(reg)} "
            f"(aliases: {sorted(ALIASES)})"
        )
    return reg[key]


def intervention_table(strains: Mapping[str, Strain] | None = None) -> pd.DataFrame:
    """The intervention registry as a table (one row per intervention).

    Parameters
    ----------
    strains : mapping, optional
        Strain library; default: the packaged one.
    where : str, optional
        Location prefix of error messages: regimen ``i`` is ``f"{where}.{i}"`` (e.g.
        ``"arms.1.regimens"`` gives ``arms.1.regimens.0.dose``); default ``regimen[i]``.

    Returns
    -------
    pandas.DataFrame
        Columns ``name, kind, input, dose_unit, default_dose, dose_min, dose_max,
        mechanism, source``; probiotics show ``probiotic_dose_<slot>`` as input.
    """
    reg = INTERVENTIONS if strains is None else _registry(strains)
    rows = [
        {
            "name": iv.name,
            "kind": iv.kind,
            "input": iv.input or ("probiotic_dose_<slot>" if iv.kind == "probiotic" else ""),
            "dose_unit": iv.dose_unit,
            "default_dose": iv.default_dose,
            "dose_min": iv.dose_range[0],
            "dose_max": iv.dose_range[1],
            "mechanism": iv.mechanism,
            "source": iv.source,
        }
        for iv in reg.values()
    ]
    return pd.DataFrame(rows)


def _field(reg: Any, name: str, where: str, default: Any = ...) -> Any:
    if isinstance(reg, Mapping):
        if name in reg:
            return reg[name]
    elif hasattr(reg, name):
        return getattr(reg, name)
    if default is ...:
        raise InterventionError(f"{where}.{name}: required field is missing")
    return default


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise InterventionError(f"{where}: expected a number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InterventionError(f"{where}: expected a number, got {value!r}") from None
    if not math.isfinite(out):
        raise InterventionError(f"{where}: expected a finite number, got {value!r}")
    return out


def resolve(
    regimen_list: Sequence[Mapping[str, Any] | Any],
    t0: float = 0.0,
    *,
    strains: Mapping[str, Strain] | None = None,
    where: str | None = None,
) -> tuple[list[Exposure], dict[str, float]]:
    """Turn regimens into model exposures and parameter overrides.

    Parameters
    ----------
    regimen_list : sequence
        Regimens as mappings or objects with ``intervention``, ``start_day``,
        ``stop_day`` and optionally ``dose`` (default: the intervention's default dose),
        ``pattern`` (``"daily"`` | ``"continuous"``, default ``"daily"``) and
        ``adherence`` (in [0, 1], default 1).
    t0 : float
        Time origin added to ``start_day`` and ``stop_day`` (days).
    strains : mapping, optional
        Strain library; default: the packaged one.

    Returns
    -------
    exposures : list of Exposure
        One per non-placebo regimen.
    parameter_overrides : dict
        Slot parameters of each probiotic strain; distinct strains take slots 1, 2, 3
        in order of first appearance (a strain listed twice keeps its slot).

    Raises
    ------
    InterventionError
        Unknown intervention, negative or out-of-range dose, bad window, pattern or
        adherence, or more than three distinct probiotic strains; the message names the
        regimen field and what is allowed.
    """
    library = dict(strains) if strains is not None else load_strains()
    exposures: list[Exposure] = []
    overrides: dict[str, float] = {}
    slots: dict[str, int] = {}
    for i, reg in enumerate(regimen_list):
        loc = f"regimen[{i}]" if where is None else f"{where}.{i}"
        name = _field(reg, "intervention", loc)
        if not isinstance(name, str):
            raise InterventionError(f"{loc}.intervention: expected a name, got {name!r}")
        try:
            iv = get_intervention(name, library)
        except InterventionError as exc:
            raise InterventionError(f"{loc}.{exc}") from None
        raw_dose = _field(reg, "dose", loc, None)
        dose = iv.default_dose if raw_dose is None else _number(raw_dose, f"{loc}.dose")
        lo, hi = iv.dose_range
        if dose < 0:
            raise InterventionError(
                f"{loc}.dose: {dose!r} is negative; allowed for {iv.name!r}: "
                f"{lo:g} to {hi:g} {iv.dose_unit}"
            )
        if not lo <= dose <= hi:
            raise InterventionError(
                f"{loc}.dose: {dose!r} is out of range for {iv.name!r}; allowed: "
                f"{lo:g} to {hi:g} {iv.dose_unit}"
            )
        start = _number(_field(reg, "start_day", loc), f"{loc}.start_day")
        stop = _number(_field(reg, "stop_day", loc), f"{loc}.stop_day")
        if start + t0 < 0:
            raise InterventionError(
                f"{loc}.start_day: t0 + start_day must be >= 0, got {start + t0}"
            )
        if not stop > start:
            raise InterventionError(
                f"{loc}.stop_day: must be after start_day ({start}), got {stop}"
            )
        pattern = _field(reg, "pattern", loc, "daily")
        if pattern not in ("daily", "continuous"):
            raise InterventionError(
                f"{loc}.pattern: {pattern!r} is not allowed; use 'daily' or 'continuous'"
            )
        adherence = _number(_field(reg, "adherence", loc, 1.0), f"{loc}.adherence")
        if not 0.0 <= adherence <= 1.0:
            raise InterventionError(f"{loc}.adherence: must be in [0, 1], got {adherence}")
        if iv.kind == "placebo":
            continue
        if iv.kind == "probiotic":
            assert iv.strain is not None
            if iv.strain not in slots:
                if len(slots) == 3:
                    raise InterventionError(
                        f"{loc}.intervention: {iv.strain!r} would be a 4th distinct "
                        f"probiotic strain; at most 3 are allowed (already: {list(slots)})"
                    )
                slots[iv.strain] = len(slots) + 1
                overrides.update(library[iv.strain].slot_parameters(slots[iv.strain]))
            target = f"probiotic_dose_{slots[iv.strain]}"
        else:
            assert iv.input is not None
            target = iv.input
        try:
            exposures.append(
                Exposure(
                    input=target,
                    level=dose,
                    start=t0 + start,
                    stop=t0 + stop,
                    pattern=pattern,
                    adherence=adherence,
                )
            )
        except ScheduleError as exc:  # pragma: no cover - pre-validated above
            raise InterventionError(f"{loc}: {exc}") from None
    return exposures, overrides


def arm_treatment(
    regimens: Sequence[Mapping[str, Any] | Any],
    days: float,
    *,
    strains: Mapping[str, Strain] | None = None,
    where: str | None = None,
) -> Treatment:
    """An arm's regimens over a treatment period of ``days``, as a :class:`Treatment`.

    A regimen without ``start_day`` starts on day 0 and one without ``stop_day`` runs to
    the end of the period; the rest is :func:`resolve`.

    Parameters
    ----------
    regimens : sequence
        Mappings or pydantic models with the fields of :func:`resolve`.
    days : float
        Treatment period (days from day 0).
    strains : mapping, optional
        Strain library; default: the packaged one.
    where : str, optional
        Field path used in error messages.
    """
    regs = []
    for r in regimens:
        d = dict(r.model_dump() if hasattr(r, "model_dump") else r)
        d.setdefault("start_day", 0.0)
        if d.get("stop_day") is None:
            d["stop_day"] = days
        regs.append(d)
    exposures, overrides = resolve(regs, t0=0.0, strains=strains, where=where)
    return Treatment(exposures=tuple(exposures), overrides=overrides)
