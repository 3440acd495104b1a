"""A small parser from the free-text unit strings of a model spec to SBML units.

A spec writes units as short strings (``"1/day"``, ``"CFU/day"``,
``"mg/kg/day"``, ``"ug/cm^2"``, ``"log10 CFU/cm^2"``, ``"1"``).  This module
turns such a string into a list of SBML base-unit factors
``(kind, exponent, scale, multiplier)``, each meaning
``(multiplier * 10**scale * kind) ** exponent``, as SBML's ``<unit>`` does.

Grammar (whitespace, ``*`` and ``·`` multiply; ``/`` divides the factor that
follows it only, so ``mg/kg/day`` is mg·kg⁻¹·day⁻¹; the word ``per`` divides
by the whole product after it (up to the next ``per``), so ``1/day per 1e4 CFU/cm^2`` is
day⁻¹·(10⁴ CFU·cm⁻²)⁻¹; parentheses group; ``^`` or ``**`` raises a factor to
an integer or decimal power; a number such as ``1e4`` is a dimensionless
multiplier)::

    unit    := product? ("per" product)*
    product := term (("*" | "/" | " ") term)*
    term    := atom (("^" | "**") number)?
    atom    := word | number | "(" unit ")"

Words are looked up in :data:`UNIT_TABLE` (SI prefixes are spelled out in the
table rather than parsed, so ``"min"`` is a minute and never milli-inch).
Things SBML has no base unit for are mapped as follows and the original
string is kept by the exporter in the element's annotation:

* counts -- ``CFU``, ``count``, ``cells``, ``copies``, ``lesions``,
  ``item`` -- become the SBML base unit ``item``;
* ``log10 X`` / ``ln X`` (the logarithm of a quantity) is ``dimensionless``,
  and a bare ``log10`` word inside a unit (``"log10/day"``) counts as 1;
* ``1``, ``%`` (multiplier 0.01), ``fraction``, ``score``, ``AU``, ``nat``
  (information) and other dimensionless labels become ``dimensionless``;
* unknown words become ``dimensionless`` and are listed in
  :attr:`ParsedUnit.unknown` (or raise :class:`UnitParseError` with
  ``strict=True``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["UNIT_TABLE", "ParsedUnit", "UnitFactor", "UnitParseError", "parse_unit"]


class UnitParseError(ValueError):
    """A unit string cannot be parsed; the message names the string and the problem."""


@dataclass(frozen=True)
class UnitFactor:
    """One SBML ``<unit>``: ``(multiplier * 10**scale * kind) ** exponent``."""

    kind: str
    exponent: float = 1.0
    scale: int = 0
    multiplier: float = 1.0


@dataclass(frozen=True)
class ParsedUnit:
    """Result of :func:`parse_unit`.

    Attributes
    ----------
    text : str
        The unit string as written in the spec.
    factors : tuple of UnitFactor
        Base-unit factors (empty means dimensionless with multiplier 1).
    logarithmic : bool
        The string was ``log10 X`` / ``ln X``; the quantity is dimensionless.
    unknown : tuple of str
        Words not in :data:`UNIT_TABLE`, treated as dimensionless.
    counted : tuple of str
        Words mapped to ``item`` (``CFU``, ``count`` ...).
    """

    text: str
    factors: tuple[UnitFactor, ...] = ()
    logarithmic: bool = False
    unknown: tuple[str, ...] = ()
    counted: tuple[str, ...] = field(default=())

    @property
    def is_dimensionless(self) -> bool:
        """True when the unit is a plain dimensionless 1 (no factors, multiplier 1)."""
        return not self.factors

    @property
    def exact(self) -> bool:
        """True when SBML represents the unit without loss (no log, count or unknown words)."""
        return not (self.logarithmic or self.unknown or self.counted)

    @property
    def base_unit(self) -> str | None:
        """The SBML base unit name when the unit is exactly one (``"item"``, ``"second"``)."""
        if not self.factors:
            return "dimensionless"
        if len(self.factors) == 1:
            f = self.factors[0]
            if f.exponent == 1 and f.scale == 0 and f.multiplier == 1:
                return f.kind
        return None


def _u(kind: str, scale: int = 0, multiplier: float = 1.0) -> tuple[UnitFactor, ...]:
    return (UnitFactor(kind, 1.0, scale, multiplier),)


_DIMLESS: tuple[UnitFactor, ...] = ()

#: Recognised words → SBML factors (case-sensitive first, then case-insensitive).
UNIT_TABLE: dict[str, tuple[UnitFactor, ...]] = {
    # time
    "s": _u("second"),
    "sec": _u("second"),
    "second": _u("second"),
    "seconds": _u("second"),
    "min": _u("second", 0, 60.0),
    "minute": _u("second", 0, 60.0),
    "minutes": _u("second", 0, 60.0),
    "h": _u("second", 0, 3600.0),
    "hr": _u("second", 0, 3600.0),
    "hour": _u("second", 0, 3600.0),
    "hours": _u("second", 0, 3600.0),
    "d": _u("second", 0, 86400.0),
    "day": _u("second", 0, 86400.0),
    "days": _u("second", 0, 86400.0),
    "week": _u("second", 0, 604800.0),
    "weeks": _u("second", 0, 604800.0),
    "wk": _u("second", 0, 604800.0),
    "year": _u("second", 0, 31557600.0),
    "years": _u("second", 0, 31557600.0),
    "yr": _u("second", 0, 31557600.0),
    # mass
    "kg": _u("gram", 3),
    "g": _u("gram"),
    "mg": _u("gram", -3),
    "ug": _u("gram", -6),
    "µg": _u("gram", -6),
    "μg": _u("gram", -6),
    "mcg": _u("gram", -6),
    "ng": _u("gram", -9),
    "pg": _u("gram", -12),
    "fg": _u("gram", -15),
    # volume
    "L": _u("litre"),
    "l": _u("litre"),
    "dL": _u("litre", -1),
    "mL": _u("litre", -3),
    "ml": _u("litre", -3),
    "uL": _u("litre", -6),
    "µL": _u("litre", -6),
    "μL": _u("litre", -6),
    "ul": _u("litre", -6),
    "nL": _u("litre", -9),
    # amount
    "mol": _u("mole"),
    "mmol": _u("mole", -3),
    "umol": _u("mole", -6),
    "µmol": _u("mole", -6),
    "nmol": _u("mole", -9),
    "pmol": _u("mole", -12),
    "M": (UnitFactor("mole"), UnitFactor("litre", -1.0)),
    "mM": (UnitFactor("mole", 1.0, -3), UnitFactor("litre", -1.0)),
    "uM": (UnitFactor("mole", 1.0, -6), UnitFactor("litre", -1.0)),
    "µM": (UnitFactor("mole", 1.0, -6), UnitFactor("litre", -1.0)),
    "nM": (UnitFactor("mole", 1.0, -9), UnitFactor("litre", -1.0)),
    "pM": (UnitFactor("mole", 1.0, -12), UnitFactor("litre", -1.0)),
    # length / area
    "m": _u("metre"),
    "cm": _u("metre", -2),
    "mm": _u("metre", -3),
    "um": _u("metre", -6),
    "µm": _u("metre", -6),
    "nm": _u("metre", -9),
    # counts (SBML "item")
    "item": _u("item"),
    "items": _u("item"),
    "count": _u("item"),
    "counts": _u("item"),
    "CFU": _u("item"),
    "cfu": _u("item"),
    "cell": _u("item"),
    "cells": _u("item"),
    "copies": _u("item"),
    "copy": _u("item"),
    "lesion": _u("item"),
    "lesions": _u("item"),
    "dose": _u("item"),
    "doses": _u("item"),
    "IU": _u("item"),
    # dimensionless labels
    "1": _DIMLESS,
    "dimensionless": _DIMLESS,
    "fraction": _DIMLESS,
    "ratio": _DIMLESS,
    "score": _DIMLESS,
    "AU": _DIMLESS,
    "a.u.": _DIMLESS,
    "au": _DIMLESS,
    "arb": _DIMLESS,
    "nat": _DIMLESS,  # natural unit of information (Shannon entropy with ln)
    "nats": _DIMLESS,
    "bit": _DIMLESS,
    "bits": _DIMLESS,
    "%": (UnitFactor("dimensionless", 1.0, 0, 0.01),),
    "percent": (UnitFactor("dimensionless", 1.0, 0, 0.01),),
}

_LOG_RE = re.compile(r"^\s*(log10|log|ln|lg)(?:\s+|\s*\()", re.IGNORECASE)
_TOKEN_RE = re.compile(
    r"\s*(\*\*|\^|\*|·|/|\(|\)|[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[^\s*/^()·]+)"
)
_NUMBER_RE = re.compile(r"^[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$")


# Case-insensitive fallback only where no SI prefix can be confused (``mM`` vs ``mm``).
_CASELESS: dict[str, tuple[UnitFactor, ...]] = {
    k.lower(): v
    for k, v in UNIT_TABLE.items()
    if len(k) >= 3 and (not v or v[0].kind in ("item", "dimensionless", "second"))
}


def _lookup(word: str) -> tuple[UnitFactor, ...] | None:
    if word in UNIT_TABLE:
        return UNIT_TABLE[word]
    return _CASELESS.get(word.lower())


class _Parser:
    def __init__(self, text: str, strict: bool) -> None:
        self.text = text
        self.strict = strict
        self.tokens: list[str] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN_RE.match(text, pos)
            if m is None or m.end() == pos:
                if text[pos:].strip() == "":
                    break
                raise UnitParseError(f"unit {text!r}: cannot read from position {pos}")
            self.tokens.append(m.group(1))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.i = 0
        self.unknown: list[str] = []
        self.counted: list[str] = []
        self.logarithmic = False

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise UnitParseError(f"unit {self.text!r}: unexpected end")
        self.i += 1
        return tok

    def _is_per(self) -> bool:
        tok = self.peek()
        return tok is not None and tok.lower() == "per"

    def unit(self) -> list[tuple[UnitFactor, float]]:
        out = [] if self._is_per() else self.product()
        while self._is_per():  # each "per" divides by the product that follows it
            self.take()
            out += [(f, -e) for f, e in self.product()]
        return out

    def product(self) -> list[tuple[UnitFactor, float]]:
        out = self.term()
        while (tok := self.peek()) is not None and tok != ")" and not self._is_per():
            if tok in ("*", "·"):
                self.take()
                out += self.term()
            elif tok == "/":
                self.take()
                out += [(f, -e) for f, e in self.term()]
            else:  # juxtaposition = multiplication
                out += self.term()
        return out

    def term(self) -> list[tuple[UnitFactor, float]]:
        base = self.atom()
        if self.peek() in ("^", "**"):
            self.take()
            tok = self.take()
            sign = 1.0
            if tok == "(":
                tok = self.take()
                if self.take() != ")":
                    raise UnitParseError(f"unit {self.text!r}: expected ')' after exponent")
            if tok in ("-", "+"):
                sign = -1.0 if tok == "-" else 1.0
                tok = self.take()
            if not _NUMBER_RE.match(tok):
                raise UnitParseError(f"unit {self.text!r}: exponent {tok!r} is not a number")
            power = sign * float(tok)
            base = [(f, e * power) for f, e in base]
        return base

    def atom(self) -> list[tuple[UnitFactor, float]]:
        tok = self.take()
        if tok == "(":
            inner = self.unit()
            if self.peek() != ")":
                raise UnitParseError(f"unit {self.text!r}: unbalanced parentheses")
            self.take()
            return inner
        if _NUMBER_RE.match(tok):
            value = float(tok)
            if value == 1.0:
                return []
            if value <= 0:
                raise UnitParseError(f"unit {self.text!r}: factor {tok} must be positive")
            return [(UnitFactor("dimensionless", 1.0, 0, value), 1.0)]
        if tok.lower() in ("log10", "log", "ln", "lg"):  # e.g. "log10/day"
            self.logarithmic = True
            return []
        found = _lookup(tok)
        if found is None:
            if self.strict:
                raise UnitParseError(f"unit {self.text!r}: unknown unit word {tok!r}")
            self.unknown.append(tok)
            return []
        if found and found[0].kind == "item" and tok.lower() not in ("item", "items"):
            self.counted.append(tok)
        return [(f, 1.0) for f in found]


def parse_unit(text: str, *, strict: bool = False) -> ParsedUnit:
    """Parse a spec unit string into SBML base-unit factors.

    Parameters
    ----------
    text : str
        Unit as written in the spec, e.g. ``"mg/kg/day"`` or ``"log10 CFU/cm^2"``.
        An empty string means dimensionless.
    strict : bool
        Raise on unknown words instead of treating them as dimensionless.

    Returns
    -------
    ParsedUnit

    Raises
    ------
    UnitParseError
        On malformed strings (unbalanced parentheses, bad exponents) or, with
        ``strict``, unknown words.

    Examples
    --------
    >>> [(f.kind, f.exponent, f.scale) for f in parse_unit("ug/cm^2").factors]
    [('gram', 1.0, -6), ('metre', -2.0, -2)]
    >>> parse_unit("log10 CFU/cm^2").logarithmic
    True
    """
    src = text.strip()
    if src == "":
        return ParsedUnit(text=text)
    m = _LOG_RE.match(src)
    if m:
        inner = src[m.end() :].strip() if not src[m.end() - 1] == "(" else src[m.end() - 1 :]
        # validate the argument's syntax but keep the quantity dimensionless
        p = _Parser(inner, strict)
        p.unit()
        return ParsedUnit(
            text=text, logarithmic=True, unknown=tuple(p.unknown), counted=tuple(p.counted)
        )
    p = _Parser(src, strict)
    pairs = p.unit()
    if p.peek() is not None:
        raise UnitParseError(f"unit {text!r}: unexpected {p.peek()!r}")
    factors = tuple(
        UnitFactor(f.kind, f.exponent * e, f.scale, f.multiplier)
        for f, e in pairs
        if f.exponent * e != 0
    )
    return ParsedUnit(
        text=text,
        factors=factors,
        logarithmic=p.logarithmic,
        unknown=tuple(p.unknown),
        counted=tuple(p.counted),
    )
