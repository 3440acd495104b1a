"""Statistical methods as a registry: one module per method, one record each.

Each module defines ``SPEC``, a :class:`~gutskin.trial.methods.core.MethodSpec`: the
name, the endpoint kinds it accepts, one line each on model, estimand and what it
reports, and ``analyse(data, *, need_df, warm)`` with one signature for every method.
:func:`gutskin.trial.statistics.compare` dispatches through :data:`REGISTRY`; the design
schema, the CLI and the docs tables read their allowed values from it. Missing-data
handling (LOCF, multiple imputation, Rubin's rules) is in :mod:`.missing`.

Adding a method: a module here with its ``SPEC`` and one line in :data:`REGISTRY`.
"""

from __future__ import annotations

from gutskin.trial.methods import ancova, mmrm, negbin, responder
from gutskin.trial.methods.core import MethodInput, MethodSpec, StatisticsError

__all__ = ["REGISTRY", "MethodInput", "MethodSpec", "StatisticsError", "kinds_of", "markdown_table"]

#: Every statistical method, by name (the order of the docs tables).
REGISTRY: dict[str, MethodSpec] = {m.SPEC.name: m.SPEC for m in (ancova, negbin, responder, mmrm)}


def kinds_of() -> dict[str, tuple[str, ...]]:
    """Method name -> endpoint kinds it accepts."""
    return {name: spec.kinds for name, spec in REGISTRY.items()}


def markdown_table() -> str:
    """The registry as the Markdown table of ``docs/statistics.md`` (generated)."""
    rows = [
        "| method | endpoint kinds | model | estimand | reported |",
        "|---|---|---|---|---|",
    ]
    for spec in REGISTRY.values():
        missing = " Always fitted to the observed data." if spec.observed_only else ""
        rows.append(
            f"| `{spec.name}` | {', '.join(spec.kinds)} | {spec.model} | {spec.estimand} | "
            f"{spec.reports}.{missing} |"
        )
    return "\n".join(rows) + "\n"
