"""Factors files: a YAML list or mapping, or a CSV table, of factors and their bounds.

:func:`load_factors` reads one and builds every entry with
:func:`~gutskin.sensitivity.factors.make_factor`; an invalid entry is a
:class:`~gutskin.sensitivity.factors.FactorError` naming the file and the factor.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gutskin.engine.spec import ModelSpec
from gutskin.engine.yamlio import YamlInputError, load_yaml
from gutskin.model.strains import Strain, load_strains
from gutskin.sensitivity.factors import Factor, FactorError, make_factor

__all__ = ["load_factors"]

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
