"""The spec's unit strings → SBML ``<unitDefinition>`` s, one per distinct unit.

Units are parsed by :func:`gutskin.io.units.parse_unit`; counts (CFU, count, cells) map to
``item``, ``log10 X`` and unknown words to ``dimensionless``, and :meth:`_Units.caveat`
says where the SBML unit differs from the spec's string.
"""

from __future__ import annotations

import re
from typing import Any

import libsbml

from gutskin.io.sbml.errors import _ok
from gutskin.io.units import ParsedUnit, parse_unit

__all__: list[str] = []

_SBML_BASE_UNITS = {
    "ampere",
    "avogadro",
    "becquerel",
    "candela",
    "coulomb",
    "dimensionless",
    "farad",
    "gram",
    "gray",
    "henry",
    "hertz",
    "item",
    "joule",
    "katal",
    "kelvin",
    "kilogram",
    "litre",
    "lumen",
    "lux",
    "metre",
    "mole",
    "newton",
    "ohm",
    "pascal",
    "radian",
    "second",
    "siemens",
    "sievert",
    "steradian",
    "tesla",
    "volt",
    "watt",
    "weber",
}


def _unit_sid(text: str) -> str:
    s = text.strip()
    s = s.replace("%", "percent").replace("µ", "u").replace("μ", "u")
    s = re.sub(r"\*\*|\^", "", s)
    s = re.sub(r"^1\s*/\s*", "per_", s)
    s = re.sub(r"\s*/\s*", "_per_", s)
    s = re.sub(r"[^A-Za-z0-9_]+", "_", s)
    s = re.sub(r"_+", "_", s).strip("_")
    if not s or not s[0].isalpha():
        s = "u_" + s
    return s


class _Units:
    """Unit definitions of one document, keyed by the spec's unit strings."""

    def __init__(self, model: libsbml.Model) -> None:
        self.model = model
        self.by_text: dict[str, str] = {}
        self.by_factors: dict[tuple[Any, ...], str] = {}
        self.parsed: dict[str, ParsedUnit] = {}

    def ref(self, text: str) -> str:
        """UnitSIdRef for the unit string ``text`` (defining it on first use)."""
        if text in self.by_text:
            return self.by_text[text]
        pu = parse_unit(text)
        self.parsed[text] = pu
        base = pu.base_unit
        if base is not None and base in _SBML_BASE_UNITS:
            self.by_text[text] = base
            return base
        key = tuple((f.kind, f.exponent, f.scale, f.multiplier) for f in pu.factors)
        if key in self.by_factors:
            self.by_text[text] = self.by_factors[key]
            return self.by_factors[key]
        sid = _unit_sid(text)
        taken = {
            self.model.getUnitDefinition(i).getId()
            for i in range(self.model.getNumUnitDefinitions())
        }
        candidate, k = sid, 2
        while candidate in taken or candidate in _SBML_BASE_UNITS:
            candidate, k = f"{sid}_{k}", k + 1
        ud = self.model.createUnitDefinition()
        _ok(ud.setId(candidate), f"unit id {candidate!r}")
        ud.setName(text)
        for f in pu.factors:
            u = ud.createUnit()
            u.setKind(libsbml.UnitKind_forName(f.kind))
            u.setExponent(float(f.exponent))
            u.setScale(int(f.scale))
            u.setMultiplier(float(f.multiplier))
        self.by_text[text] = candidate
        self.by_factors[key] = candidate
        return candidate

    def caveat(self, text: str) -> str | None:
        """Why the SBML unit differs from the spec's string, or None when it is exact."""
        pu = self.parsed.get(text) or parse_unit(text)
        bits = []
        if pu.logarithmic:
            bits.append("logarithm of a quantity, exported as dimensionless")
        if pu.counted and not pu.logarithmic:
            bits.append(f"{', '.join(pu.counted)} exported as SBML 'item'")
        if pu.unknown:
            bits.append(f"unrecognised word(s) {', '.join(pu.unknown)} treated as dimensionless")
        return "; ".join(bits) or None
