"""``gutskin export sbml`` and ``gutskin export petab``: the model and its calibration problem."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from gutskin.cli.support import OverwriteOption, UserError, console

__all__ = ["export_app", "export_petab", "export_petab_deprecated", "export_sbml"]


export_app = typer.Typer(
    help="Export the model (SBML) or the calibration problem (PEtab).", no_args_is_help=True
)


@export_app.command("sbml")
def export_sbml(
    out: Annotated[Path, typer.Option("--out", help="SBML file to write.")] = Path("model.xml"),
    model: Annotated[str, typer.Option("--model", help="Model name.")] = "acne",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing file at --out.")
    ] = False,
) -> None:
    """Write the model as SBML Level 3 (units, annotations with sources)."""
    from gutskin.io.outdir import OutputDirError, atomic_output_file, check_output_file
    from gutskin.io.sbml import to_sbml
    from gutskin.scenario import ScenarioError
    from gutskin.simulation import get_model

    try:
        spec = get_model(model)
        check_output_file(out, overwrite=overwrite)
        atomic_output_file(out, to_sbml(spec), overwrite=overwrite)
    except (ScenarioError, OutputDirError) as exc:
        raise UserError(str(exc)) from None
    console.print(f"wrote {out} ({len(spec.states)} states, {len(spec.parameters)} parameters)")


@export_app.command("petab")
def export_petab(
    out: Annotated[Path, typer.Option("--out", help="Output folder (new or empty).")],
    targets: Annotated[
        Path | None, typer.Option("--targets", help="Targets YAML (default: packaged).")
    ] = None,
    fitted: Annotated[
        Path | None,
        typer.Option("--fitted", help="fitted_parameters.csv to use as model values."),
    ] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Write the calibration problem in PEtab format (SBML + tables + problem.yaml)."""
    from gutskin.calibrate.petab_export import export_petab as write_petab
    from gutskin.calibrate.validate import load_fitted
    from gutskin.cli.calibrate import load_targets
    from gutskin.io.outdir import OutputDirError, atomic_output_dir, check_writable

    ts = load_targets(targets)
    if fitted is not None and not fitted.is_file():
        raise UserError(f"--fitted {fitted}: not a file")
    try:
        values, _ = load_fitted(fitted)
    except (ValueError, OSError) as exc:  # InputFileError and pandas' errors are ValueErrors
        raise UserError(f"--fitted {fitted}: {exc}") from None
    try:
        check_writable(out, overwrite=overwrite)
    except OutputDirError as exc:
        raise UserError(str(exc)) from None
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        info = write_petab(ts, tmp, values=values)
    console.print(
        f"wrote PEtab problem to {out}: {len(info['exported'])} targets exported, "
        f"{len(info['skipped'])} not expressible (see README.md)"
    )


@functools.wraps(export_petab)
def export_petab_deprecated(*args: Any, **kwargs: Any) -> None:
    """Deprecated spelling of ``gutskin export petab`` (kept as a hidden alias)."""
    print(
        "gutskin: note: `gutskin export-petab` is deprecated; use `gutskin export petab`",
        file=sys.stderr,
    )
    export_petab(*args, **kwargs)
