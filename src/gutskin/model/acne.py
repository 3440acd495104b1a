"""The acne gut-skin model, built from its data files.

The equations live in ``data/acne_model.yaml`` and every parameter (value, unit,
range, between-patient CV, source, confidence, rationale) in
``data/parameters.csv``; this module only reads and cross-checks them and returns
a :class:`~gutskin.engine.spec.ModelSpec`.  See ``docs/modelling-choices.md``.
"""

from __future__ import annotations

import csv
import math
from functools import lru_cache
from importlib import resources
from typing import Any

import pandas as pd

from gutskin.engine.spec import Assignment, Input, ModelSpec, Parameter, SpecError, State
from gutskin.engine.yamlio import load_yaml

__all__ = [
    "CONFIDENCE_CODES",
    "PARAMETER_COLUMNS",
    "acne_model",
    "parameter_table",
    "read_parameters",
]

#: Columns of ``parameters.csv``, in order.
PARAMETER_COLUMNS = (
    "name",
    "value",
    "unit",
    "lower",
    "upper",
    "cv",
    "source",
    "confidence",
    "description",
    "note",
)

#: Allowed confidence codes (evidence brief: H, M, L; plus ``assumed``).
CONFIDENCE_CODES = ("H", "M", "L", "assumed")


def _data_text(name: str) -> str:
    return (resources.files("gutskin.model") / "data" / name).read_text(encoding="utf-8")


def read_parameters() -> list[Parameter]:
    """Rows of ``parameters.csv`` as :class:`Parameter` objects, validated.

    Returns
    -------
    list of Parameter
        In file order (the model's parameter order).

    Raises
    ------
    SpecError
        Naming the line and parameter of a malformed row.
    """
    rows = list(csv.DictReader(_data_text("parameters.csv").splitlines()))
    if not rows:
        raise SpecError("parameters.csv: no rows")
    header = tuple(rows[0].keys())
    if header != PARAMETER_COLUMNS:
        raise SpecError(f"parameters.csv: columns must be {PARAMETER_COLUMNS}, got {header}")
    params: list[Parameter] = []
    for i, row in enumerate(rows, start=2):
        where = f"parameters.csv line {i} ({row['name']!r})"
        try:
            value = float(row["value"])
            lower = float(row["lower"])
            upper = float(row["upper"])
            cv = float(row["cv"])
        except ValueError as exc:
            raise SpecError(f"{where}: non-numeric value/lower/upper/cv: {exc}") from None
        if not all(math.isfinite(x) for x in (value, lower, upper, cv)):
            raise SpecError(f"{where}: value, lower, upper and cv must be finite")
        if not lower <= value <= upper:
            raise SpecError(f"{where}: value {value} outside [lower, upper] = [{lower}, {upper}]")
        if cv < 0 or (cv > 0 and value <= 0):
            raise SpecError(f"{where}: cv must be >= 0, and > 0 only for a positive value")
        if row["confidence"] not in CONFIDENCE_CODES:
            raise SpecError(f"{where}: confidence must be one of {CONFIDENCE_CODES}")
        if not row["source"].strip() or not row["description"].strip():
            raise SpecError(f"{where}: source and description are required")
        if row["confidence"] == "assumed" and not row["note"].strip():
            raise SpecError(f"{where}: an assumed parameter needs a rationale in 'note'")
        params.append(
            Parameter(
                name=row["name"],
                value=value,
                unit=row["unit"],
                description=row["description"],
                lower=lower,
                upper=upper,
                cv=cv,
                source=row["source"],
                confidence=row["confidence"],
                note=row["note"],
            )
        )
    return params


def _build(doc: dict[str, Any], params: list[Parameter]) -> ModelSpec:
    states: list[State] = []
    rates: dict[str, str] = {}
    compartments: dict[str, str] = {}
    for s in doc["states"]:
        states.append(
            State(
                name=s["name"],
                unit=str(s["unit"]),
                description=s["description"],
                initial=s.get("initial", 0.0),
                nonnegative=bool(s.get("nonnegative", True)),
            )
        )
        rates[s["name"]] = " ".join(str(s["rate"]).split())
        compartments[s["name"]] = s.get("compartment", "")
    inputs = [
        Input(
            name=u["name"],
            unit=str(u["unit"]),
            description=u["description"],
            default=float(u.get("default", 0.0)),
        )
        for u in doc["inputs"]
    ]
    assignments = []
    for a in doc["assignments"]:
        assignments.append(
            Assignment(
                name=a["name"],
                expr=" ".join(str(a["expr"]).split()),
                unit=str(a["unit"]),
                description=a["description"],
            )
        )
        compartments[a["name"]] = a.get("compartment", "")
    spec = ModelSpec(
        name=doc["name"],
        description=" ".join(str(doc["description"]).split()),
        states=states,
        parameters=params,
        rates=rates,
        inputs=inputs,
        assignments=assignments,
        time_unit=doc.get("time_unit", "day"),
        version=str(doc.get("version", "0")),
        smooth_inputs={str(k): v for k, v in (doc.get("smooth_inputs") or {}).items()},
        metadata={
            "compartments": compartments,
            "noise_parameters": list(doc.get("noise_parameters", [])),
            "population_parameters": list(doc.get("population_parameters", [])),
            "observation_parameters": list(doc.get("observation_parameters", [])),
            "parameter_correlations": _correlations(doc, params),
            "source": "gutskin.model/data/acne_model.yaml",
        },
    )
    _check_parameter_use(
        spec,
        {
            name
            for key in ("noise_parameters", "population_parameters", "observation_parameters")
            for name in doc.get(key, [])
        },
    )
    return spec


def _correlations(doc: dict[str, Any], params: list[Parameter]) -> list[tuple[str, str, str]]:
    """``parameter_correlations`` as (first, second, rho parameter) triples, checked."""
    by_name = {p.name: p for p in params}
    out: list[tuple[str, str, str]] = []
    for i, entry in enumerate(doc.get("parameter_correlations") or []):
        where = f"acne_model.yaml: parameter_correlations[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"between", "rho"}:
            raise SpecError(f"{where}: expected {{between: [a, b], rho: PARAMETER}}")
        pair, rho = entry["between"], entry["rho"]
        if not isinstance(pair, list) or len(pair) != 2 or pair[0] == pair[1]:
            raise SpecError(f"{where}.between: expected two different parameter names")
        for name in pair:
            if name not in by_name or not by_name[name].cv > 0:
                raise SpecError(f"{where}.between: {name!r} is not a parameter with cv > 0")
        r = by_name.get(rho)
        if (
            r is None
            or r.cv != 0
            or r.lower is None
            or r.upper is None
            or not (-1.0 < r.lower and r.upper < 1.0)
        ):
            raise SpecError(
                f"{where}.rho: {rho!r} must be a parameter with cv 0 and bounds inside (-1, 1)"
            )
        if rho not in doc.get("population_parameters", []):
            raise SpecError(f"{where}.rho: list {rho!r} under population_parameters")
        out.append((str(pair[0]), str(pair[1]), str(rho)))
    return out


def _check_parameter_use(spec: ModelSpec, declared: set[str]) -> None:
    used: set[str] = set(declared)
    for e in list(spec.sympy_rates.values()) + list(spec.sympy_assignments.values()):
        used |= {str(s) for s in e.free_symbols}
    unused = [p for p in spec.parameter_names if p not in used]
    if unused:
        raise SpecError(f"parameters.csv: parameter(s) not used by any equation: {unused}")


@lru_cache(maxsize=1)
def acne_model() -> ModelSpec:
    """The gutskin acne model (cached).

    Returns
    -------
    ModelSpec
        States, parameters (with provenance), inputs, assignments and rates
        read from ``gutskin/model/data``.  Time unit: day.  The initial state is
        the steady state of the nominal (median) patient without treatment.

    Raises
    ------
    SpecError
        If the data files are inconsistent (unknown names, a parameter without a
        row or a row no equation uses, malformed values).
    """
    doc = load_yaml(_data_text("acne_model.yaml"), "acne_model.yaml")
    return _build(doc, read_parameters())


def parameter_table() -> pd.DataFrame:
    """The parameter table as a DataFrame (one row per parameter, ``PARAMETER_COLUMNS``).

    Returns
    -------
    pandas.DataFrame
        Indexed 0..P-1 in the model's parameter order.
    """
    spec = acne_model()
    return pd.DataFrame(
        [{c: getattr(p, c) for c in PARAMETER_COLUMNS} for p in spec.parameters],
        columns=list(PARAMETER_COLUMNS),
    )
