"""Probiotic strain library: per-strain properties that fill the model's probiotic slots.

The packaged library is ``data/strains.yaml``; a user YAML with the same layout can add
strains or override fields of packaged ones (:func:`load_strains`).  Each property maps
to the slot parameter ``pb<k>_<property>`` of the model when the strain occupies slot
``k`` (:meth:`Strain.slot_parameters`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from gutskin.engine.yamlio import YamlInputError, load_yaml, read_yaml_file
from gutskin.model.acne import CONFIDENCE_CODES, read_parameters
from gutskin.model.priors import Prior, PriorError, parse_prior

__all__ = [
    "STRAIN_PROPERTIES",
    "Strain",
    "StrainError",
    "StrainProperty",
    "load_strains",
    "property_bounds",
]

#: Strain properties, in slot-parameter order (``pb1_<name>``).
STRAIN_PROPERTIES = (
    "engraftment",
    "bacteriocin",
    "anti_il8",
    "scfa",
    "igf1_lowering",
    "barrier",
    "washout",
)


class StrainError(ValueError):
    """A strain definition is invalid; the message names the strain and the field."""


@dataclass(frozen=True)
class StrainProperty:
    """One property value with its provenance.

    ``prior`` is the property's uncertainty for an assurance run (a range or distribution
    given in a strain YAML, :func:`gutskin.model.priors.parse_prior`); ``value`` stays the
    point value every other command uses.
    """

    value: float
    source: str
    confidence: str
    note: str = ""
    prior: Prior | None = None


@dataclass(frozen=True)
class Strain:
    """A probiotic strain.

    Attributes
    ----------
    id : str
        Library key, also the intervention name (e.g. ``"LS03"``).
    name : str
        Full taxonomic name and deposit number.
    genus : str
        ``Lactobacillus`` (sensu lato) or ``Bifidobacterium``.
    default_dose : float
        Default dose in CFU/day.
    properties : dict
        :data:`STRAIN_PROPERTIES` -> :class:`StrainProperty`.
    source : str
        The distinct non-``assumed`` sources of its properties (``assumed`` if none).
    """

    id: str
    name: str
    genus: str
    default_dose: float
    properties: Mapping[str, StrainProperty] = field(default_factory=dict)
    source: str = ""

    def value(self, prop: str) -> float:
        """Value of one property."""
        return self.properties[prop].value

    def slot_parameters(self, slot: int) -> dict[str, float]:
        """Model parameter overrides placing this strain in probiotic slot ``slot`` (1-3).

        Parameters
        ----------
        slot : int
            Slot number, 1, 2 or 3.

        Returns
        -------
        dict
            ``{"pb<slot>_<property>": value}`` for every property.
        """
        if slot not in (1, 2, 3):
            raise StrainError(f"strain {self.id!r}: slot must be 1, 2 or 3, got {slot}")
        return {f"pb{slot}_{p}": float(self.properties[p].value) for p in STRAIN_PROPERTIES}

    def with_values(self, **values: float) -> Strain:
        """Copy of the strain with new property values (a draw of an assurance run).

        Raises
        ------
        StrainError
            An unknown property or a value outside its allowed range.
        """
        props = dict(self.properties)
        for prop, v in values.items():
            if prop not in STRAIN_PROPERTIES:
                raise StrainError(
                    f"strain {self.id!r}: unknown property {prop!r}; "
                    f"allowed: {list(STRAIN_PROPERTIES)}"
                )
            lo, hi = property_bounds()[prop]
            if not (math.isfinite(v) and lo <= v <= hi):
                raise StrainError(
                    f"strain {self.id!r}, property {prop!r}: value {v!r} is outside the "
                    f"allowed range [{lo}, {hi}] (the pb1_{prop} range in parameters.csv)"
                )
            props[prop] = dataclasses.replace(props[prop], value=float(v))
        return dataclasses.replace(self, properties=props)


@lru_cache(maxsize=1)
def property_bounds() -> dict[str, tuple[float, float]]:
    """Allowed range of each strain property: the ``pb1_<property>`` row of parameters.csv."""
    rows = {p.name: p for p in read_parameters()}
    out = {}
    for prop in STRAIN_PROPERTIES:
        p = rows[f"pb1_{prop}"]
        assert p.lower is not None and p.upper is not None
        out[prop] = (float(p.lower), float(p.upper))
    return out


def _property(sid: str, prop: str, raw: Any, origin: str) -> StrainProperty:
    where = f"strain {sid!r}, property {prop!r}"
    if isinstance(raw, bool):
        raise StrainError(f"{where}: expected a number or a mapping with 'value', got {raw!r}")
    if isinstance(raw, int | float):
        raw = {"value": raw, "source": f"user file {origin}", "confidence": "assumed"}
    if not isinstance(raw, Mapping):
        raise StrainError(f"{where}: expected a number or a mapping with 'value', got {raw!r}")
    unknown = sorted(set(raw) - {"value", "source", "confidence", "note", "prior"})
    if unknown:
        raise StrainError(
            f"{where}: unknown key(s) {unknown}; allowed: value, source, confidence, note, prior"
        )
    if "value" not in raw:
        raise StrainError(f"{where}: 'value' is required")
    try:
        value = float(raw["value"])
    except (TypeError, ValueError):
        raise StrainError(f"{where}: value must be a number, got {raw['value']!r}") from None
    lo, hi = property_bounds()[prop]
    if not math.isfinite(value) or not lo <= value <= hi:
        raise StrainError(
            f"{where}: value {value!r} is outside the allowed range [{lo}, {hi}] "
            f"(the pb1_{prop} range in parameters.csv)"
        )
    confidence = str(raw.get("confidence", "assumed"))
    if confidence not in CONFIDENCE_CODES:
        raise StrainError(
            f"{where}: confidence must be one of {CONFIDENCE_CODES}, got {confidence!r}"
        )
    source = str(raw.get("source", f"user file {origin}")).strip()
    if not source:
        raise StrainError(f"{where}: source must not be empty (use 'assumed')")
    prior = None
    if raw.get("prior") is not None:
        try:
            prior = parse_prior(raw["prior"], f"{where}, prior", (lo, hi))
        except PriorError as exc:
            raise StrainError(str(exc)) from None
        if not prior.lower <= value <= prior.upper:
            raise StrainError(
                f"{where}: value {value:g} lies outside its prior "
                f"[{prior.lower:g}, {prior.upper:g}]"
            )
    return StrainProperty(
        value=value,
        source=source,
        confidence=confidence,
        note=str(raw.get("note", "")),
        prior=prior,
    )


def _parse(doc: Any, origin: str, base: Mapping[str, Strain] | None = None) -> dict[str, Strain]:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("strains"), Mapping):
        raise StrainError(f"{origin}: expected a top-level mapping 'strains: {{<id>: ...}}'")
    out: dict[str, Strain] = {}
    for sid, entry in doc["strains"].items():
        sid = str(sid)
        if not isinstance(entry, Mapping):
            raise StrainError(f"strain {sid!r}: expected a mapping, got {entry!r}")
        unknown = sorted(set(entry) - {"name", "genus", "default_dose", "properties"})
        if unknown:
            raise StrainError(
                f"strain {sid!r}: unknown field(s) {unknown}; "
                "allowed: name, genus, default_dose, properties"
            )
        old = (base or {}).get(sid)
        props_raw = entry.get("properties", {}) or {}
        if not isinstance(props_raw, Mapping):
            raise StrainError(f"strain {sid!r}, field 'properties': expected a mapping")
        bad = sorted(set(props_raw) - set(STRAIN_PROPERTIES))
        if bad:
            raise StrainError(
                f"strain {sid!r}, field 'properties': unknown property(ies) {bad}; "
                f"allowed: {list(STRAIN_PROPERTIES)}"
            )
        props: dict[str, StrainProperty] = dict(old.properties) if old else {}
        for prop, raw in props_raw.items():
            props[prop] = _property(sid, prop, raw, origin)
        missing = [p for p in STRAIN_PROPERTIES if p not in props]
        if missing:
            raise StrainError(
                f"strain {sid!r}, field 'properties': missing {missing} "
                "(a new strain must define every property)"
            )
        dose_raw = entry.get("default_dose", old.default_dose if old else None)
        try:
            dose = float(dose_raw)
        except (TypeError, ValueError):
            raise StrainError(
                f"strain {sid!r}, field 'default_dose': expected CFU/day > 0, got {dose_raw!r}"
            ) from None
        if not (math.isfinite(dose) and dose > 0):
            raise StrainError(
                f"strain {sid!r}, field 'default_dose': expected CFU/day > 0, got {dose_raw!r}"
            )
        name = str(entry.get("name", old.name if old else sid))
        genus = str(entry.get("genus", old.genus if old else "unspecified"))
        cited = sorted({p.source for p in props.values() if p.source != "assumed"})
        out[sid] = Strain(
            id=sid,
            name=name,
            genus=genus,
            default_dose=dose,
            properties=props,
            source="; ".join(cited) if cited else "assumed",
        )
    return out


@functools.cache
def _packaged_library() -> dict[str, Strain]:
    """The packaged library, parsed once per process (strains are frozen records)."""
    text = (resources.files("gutskin.model") / "data" / "strains.yaml").read_text("utf-8")
    return _parse(load_yaml(text, "strains.yaml"), "strains.yaml")


def load_strains(user_file: str | Path | None = None) -> dict[str, Strain]:
    """The strain library, optionally merged with a user YAML file.

    Parameters
    ----------
    user_file : str or Path, optional
        YAML with ``strains: {<id>: {name, genus, default_dose, properties}}``.  A new id
        must define all :data:`STRAIN_PROPERTIES`; an existing id may override any subset.
        A property is either a number (source ``user file``, confidence ``assumed``) or a
        mapping ``{value, source, confidence, note, prior}``; ``prior`` (``[lower, upper]``
        or ``{distribution, lower, upper, mode}``, :func:`gutskin.model.priors.parse_prior`)
        is the property's uncertainty, drawn by ``gutskin power --uncertainty prior``.

    Returns
    -------
    dict
        Strain id -> :class:`Strain` (packaged strains first, then new user strains).

    Raises
    ------
    StrainError
        Naming the strain and field, for any invalid entry.
    """
    library = dict(_packaged_library())
    if user_file is None:
        return library
    path = Path(user_file)
    try:
        doc = read_yaml_file(path)
    except OSError as exc:
        raise StrainError(f"cannot read strain file {path}: {exc.strerror or exc}") from None
    except YamlInputError as exc:
        raise StrainError(f"strain file {exc}") from None
    library.update(_parse(doc, str(path), base=library))
    return library
