"""``gutskin params``, ``gutskin interventions`` and ``gutskin strains``: the model's tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from gutskin.cli.support import UserError

__all__ = ["interventions", "params", "strains"]


def _emit_table(df: Any, fmt: str, title: str, width: int | None = 200) -> None:
    if fmt == "csv":
        print(df.to_csv(index=False), end="")
    elif fmt == "json":
        print(df.to_json(orient="records", indent=2))
    elif fmt == "table":
        from rich.table import Table

        table = Table(title=title, show_lines=False)
        for col in df.columns:
            table.add_column(str(col), overflow="fold")
        for rec in df.itertuples(index=False):
            table.add_row(*["" if v is None else str(v) for v in rec])
        Console(width=width).print(table)
    else:
        raise UserError(f"--format must be table, csv or json, got {fmt!r}")


def params(
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """Print the model's parameter table (value, unit, range, CV, source, confidence, note)."""
    from gutskin.model import parameter_table

    _emit_table(parameter_table(), fmt, "gutskin acne model parameters")


def interventions(
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """List the intervention library (name, input, dose unit and range, mechanism, source)."""
    from gutskin.model.interventions import intervention_table

    df = intervention_table()
    if fmt != "table":
        _emit_table(df, fmt, "gutskin interventions")
        return
    # the terminal's width: the dose in one column, long text folded within its cell
    dose = [
        f"{d:g} {u} ({lo:g} to {hi:g})"
        for d, u, lo, hi in zip(
            df["default_dose"], df["dose_unit"], df["dose_min"], df["dose_max"], strict=True
        )
    ]
    view = df[["name", "kind", "input"]].assign(
        dose=dose, mechanism=df["mechanism"], source=df["source"]
    )
    _emit_table(view, fmt, "gutskin interventions", width=max(Console().width, 100))


def strains(
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    file: Annotated[
        Path | None, typer.Option("--file", help="User strain YAML to merge and validate.")
    ] = None,
) -> None:
    """List the probiotic strain library (properties with sources)."""
    import pandas as pd

    from gutskin.model.strains import load_strains

    try:
        lib = load_strains(file)
    except (ValueError, OSError) as exc:
        raise UserError(str(exc)) from None
    if fmt == "json":  # nested: every property with its value, source, confidence, note
        rows = [s if isinstance(s, dict) else _as_row(s) for s in lib.values()]
    else:
        rows = [_flat_strain(s, table=fmt == "table") for s in lib.values()]
    _emit_table(pd.DataFrame(rows), fmt, "gutskin probiotic strains")


def _flat_strain(strain: Any, *, table: bool) -> dict[str, Any]:
    """One row per strain: a column per property (no nested records in a cell).

    ``table``: ``value (confidence)`` per property, for reading; otherwise (CSV) the value,
    confidence and source of each property in columns of their own.
    """
    row: dict[str, Any] = {"id": strain.id, "name": strain.name, "genus": strain.genus}
    row["dose (CFU/day)" if table else "default_dose_cfu_per_day"] = (
        f"{strain.default_dose:.3g}" if table else strain.default_dose
    )
    for prop, v in strain.properties.items():
        if table:
            row[prop] = f"{v.value:g} ({v.confidence})"
        else:
            row[prop] = v.value
            row[f"{prop}_confidence"] = v.confidence
            row[f"{prop}_source"] = v.source
    row["source"] = strain.source
    return row


def _as_row(obj: Any) -> dict[str, Any]:
    from dataclasses import asdict, is_dataclass

    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if hasattr(obj, "model_dump"):
        return dict(obj.model_dump())
    return dict(vars(obj))
