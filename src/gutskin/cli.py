"""Command-line interface: a thin face over the public API.

Every user error prints one line ``gutskin: error: ...`` to stderr and exits
with status 2, with no traceback and no half-written output folder.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.exceptions import TyperException

from gutskin import __version__

app = typer.Typer(
    name="gutskin",
    help="Quantitative modelling of the gut–skin axis in acne: simulate virtual patients, "
    "run in-silico trials, export the model.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
from gutskin.cli_support import LazyProgress as _LazyProgress  # noqa: E402
from gutskin.cli_support import UserError, console  # noqa: E402


def _version(value: bool) -> None:
    if value:
        print(f"gutskin {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show version and exit."),
    ] = False,
) -> None:
    """gutskin command-line interface."""


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Output folder (new or empty).")],
    scenario: Annotated[
        str | None, typer.Option("--scenario", help="Built-in scenario name.")
    ] = None,
    design: Annotated[
        Path | None, typer.Option("--design", help="Scenario YAML file (see docs/scenarios.md).")
    ] = None,
    patients: Annotated[int, typer.Option("--patients", help="Number of virtual patients.")] = 100,
    days: Annotated[float, typer.Option("--days", help="Duration in days.")] = 84.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (fixes every number).")] = 0,
    method: Annotated[str, typer.Option(help="Solver: auto, dopri5 or rosenbrock.")] = "auto",
    rtol: Annotated[float, typer.Option(help="Relative tolerance.")] = 1e-6,
    atol: Annotated[float, typer.Option(help="Absolute tolerance.")] = 1e-8,
    chunk_size: Annotated[int, typer.Option(help="Patients per compiled call.")] = 4096,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace an earlier gutskin output in --out."),
    ] = False,
) -> None:
    """Simulate virtual patients and write trajectories, summary, figures and provenance."""
    from gutskin.io.outdir import OutputDirError, atomic_output_dir, check_writable
    from gutskin.io.provenance import now_iso, provenance_record, write_provenance
    from gutskin.report.figures import plot_bands
    from gutskin.scenario import ScenarioError, get_scenario, load_scenario
    from gutskin.simulation import simulate as run_simulation

    started = now_iso()
    try:
        if scenario and design:
            raise UserError("give either --scenario or --design, not both")
        if method not in ("auto", "dopri5", "rosenbrock"):
            raise UserError(f"--method must be auto, dopri5 or rosenbrock, got {method!r}")
        if patients < 1:
            raise UserError(f"--patients must be >= 1, got {patients}")
        if not days > 0:
            raise UserError(f"--days must be > 0, got {days}")
        sc = load_scenario(design) if design else get_scenario(scenario or "placeholder-untreated")
        check_writable(out, overwrite=overwrite)
    except (ScenarioError, OutputDirError) as exc:
        raise UserError(str(exc)) from None

    bar = _LazyProgress(patients, "simulating")
    t0 = time.monotonic()
    try:
        ds = run_simulation(
            sc,
            patients=patients,
            days=days,
            seed=seed,
            method=method,  # type: ignore[arg-type]
            rtol=rtol,
            atol=atol,
            chunk_size=chunk_size,
            progress=bar,
        )
    except ScenarioError as exc:
        raise UserError(str(exc)) from None
    finally:
        bar.close()
    elapsed = time.monotonic() - t0
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        ds.to_zarr(tmp / "trajectories.zarr", mode="w", consolidated=False)
        _summary_table(ds).to_csv(tmp / "summary.csv", index=False)
        main = [str(v) for v in ds.data_vars if ds[v].dims == ("patient", "time")]
        plot_bands(ds, main, tmp / "figures")
        write_provenance(
            tmp,
            provenance_record(
                seed=seed,
                started=started,
                inputs={"design": design} if design else None,
                extra={
                    "scenario": sc.model_dump(),
                    "patients": patients,
                    "days": days,
                    "method": method,
                    "rtol": rtol,
                    "atol": atol,
                    "chunk_size": chunk_size,
                    "elapsed_s": round(elapsed, 3),
                },
            ),
        )
    failures = {
        name: int((ds["status"].values == code).sum())
        for code, name in enumerate(ds["status"].attrs["flag_meanings"].split())
        if code != 0 and (ds["status"].values == code).any()
    }
    msg = f"simulated {patients} patients × {days:g} days in {elapsed:.1f} s → {out}"
    console.print(msg)
    if failures:
        console.print(f"[yellow]solver failures (kept, status in trajectories): {failures}")


designs_app = typer.Typer(
    help="List built-in trial designs or print one as YAML.",
    no_args_is_help=False,
    invoke_without_command=True,
)
app.add_typer(designs_app, name="designs")


@designs_app.callback()
def designs_list(ctx: typer.Context) -> None:
    """List built-in trial designs (use `gutskin designs show NAME` to print one)."""
    if ctx.invoked_subcommand is not None:
        return
    from gutskin.trial.design import builtin_designs, load_design

    for name in sorted(builtin_designs()):
        d = load_design(name)
        print(f"{name:16s} {d.title}")


@designs_app.command("show")
def designs_show(name: Annotated[str, typer.Argument(help="Built-in design name.")]) -> None:
    """Print a built-in design as YAML, to start your own from."""
    from gutskin.trial.design import builtin_designs

    designs = builtin_designs()
    if name not in designs:
        raise UserError(f"unknown design {name!r}; built-in designs: {', '.join(sorted(designs))}")
    print(designs[name].read_text(), end="")


@app.command()
def trial(
    design: Annotated[
        str, typer.Argument(help="Built-in design name or design YAML file.")
    ] = "rinaldi2022",
    out: Annotated[Path, typer.Option("--out", help="Output folder (new or empty).")] = Path(
        "runs/trial"
    ),
    seed: Annotated[int, typer.Option("--seed", help="Random seed (fixes every number).")] = 0,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace an earlier gutskin output in --out."),
    ] = False,
) -> None:
    """Run an in-silico randomized controlled trial and write results, report and figures."""
    from gutskin.io.outdir import OutputDirError, check_writable
    from gutskin.io.provenance import now_iso
    from gutskin.trial.design import DesignError, builtin_designs, load_design
    from gutskin.trial.outputs import write_trial_outputs
    from gutskin.trial.run import run_trial

    started = now_iso()
    try:
        d = load_design(design)
        check_writable(out, overwrite=overwrite)
    except (DesignError, OutputDirError) as exc:
        raise UserError(str(exc)) from None
    design_file = None if design in builtin_designs() else Path(design)
    bars: dict[str, _LazyProgress] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            for b in bars.values():
                b.close()
            bars[stage] = _LazyProgress(total, stage)
        bars[stage](done)

    t0 = time.monotonic()
    try:
        result = run_trial(d, seed=seed, progress=progress)
    except (DesignError, ValueError) as exc:
        raise UserError(str(exc)) from None
    finally:
        for b in bars.values():
            b.close()
    elapsed = time.monotonic() - t0
    results = write_trial_outputs(
        result,
        out,
        started=started,
        design_file=design_file,
        extra={"elapsed_s": round(elapsed, 2)},
        overwrite=overwrite,
    )
    _print_trial_summary(results)
    console.print(
        f"trial {d.name}: {len(result.patients)} randomized "
        f"({result.n_screened} screened) in {elapsed:.1f} s"
    )
    console.print(f"report: {Path(out) / 'report.html'}")


def _print_trial_summary(results: dict[str, Any]) -> None:
    from rich.table import Table

    last = results["design"]["visits_weeks"][-1]
    table = Table(title=f"{results['design']['name']}: inflammatory lesions, week {last:g}")
    for col in ("arm", "n", "mean", "% change", "vs ref (ANCOVA)", "95% CI", "p"):
        table.add_column(col)
    comps = {
        c["arm"]: c
        for c in results["comparisons"]
        if c["endpoint"] == "inflammatory" and c["method"] == "ancova"
    }
    for e in results["endpoints"]:
        if e["endpoint"] != "inflammatory" or e["visit_week"] != last:
            continue
        c = comps.get(e["arm"])
        fmt = lambda v, f: "—" if v is None else format(v, f)  # noqa: E731
        table.add_row(
            e["arm"],
            str(e["n"]),
            fmt(e["mean"], ".1f"),
            fmt(e.get("pct_change_mean"), "+.1f"),
            fmt(c["estimate"], "+.2f") if c else "reference",
            f"{fmt(c['ci_low'], '.2f')} to {fmt(c['ci_high'], '.2f')}" if c else "",
            fmt(c["p_value"], ".3g") if c else "",
        )
    Console(width=max(Console().width, 110)).print(table)


@app.command()
def power(
    design: Annotated[str, typer.Argument(help="Built-in design name or design YAML file.")],
    n: Annotated[str, typer.Option("--n", help="Total sample sizes, comma-separated.")] = (
        "20,40,80,160"
    ),
    replicates: Annotated[int, typer.Option("--replicates", help="Trials per size.")] = 200,
    target: Annotated[float, typer.Option("--target", help="Target power.")] = 0.8,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Processes (default: one per core).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder (new or empty).")] = Path(
        "runs/power"
    ),
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace an earlier gutskin output in --out."),
    ] = False,
) -> None:
    """Power of each planned comparison over a grid of sample sizes, by replicate trials."""
    from gutskin.io.outdir import OutputDirError, atomic_output_dir, check_writable
    from gutskin.io.provenance import now_iso, provenance_record, write_provenance
    from gutskin.report.power_figure import plot_power
    from gutskin.trial.design import DesignError, builtin_designs, load_design
    from gutskin.trial.power import power_curve, smallest_n

    started = now_iso()
    try:
        grid = [int(x) for x in n.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--n must be comma-separated integers, got {n!r}") from None
    if not 0 < target < 1:
        raise UserError(f"--target must be in (0, 1), got {target}")
    if replicates < 1 or replicates > 100_000:
        raise UserError(f"--replicates must be in 1..100000, got {replicates}")
    try:
        d = load_design(design)
        check_writable(out, overwrite=overwrite)
    except (DesignError, OutputDirError) as exc:
        raise UserError(str(exc)) from None
    bar = _LazyProgress(replicates, "replicate trials")
    try:
        pw, raw = power_curve(
            d, grid, replicates=replicates, seed=seed, progress=lambda done, total: bar(done)
        )
    except (DesignError, ValueError) as exc:
        raise UserError(str(exc)) from None
    finally:
        bar.close()
    small = smallest_n(pw, target)
    design_file = None if design in builtin_designs() else Path(design)
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        pw.to_csv(tmp / "power.csv", index=False)
        raw.to_csv(tmp / "replicates.csv", index=False)
        small.to_csv(tmp / "smallest_n.csv", index=False)
        plot_power(pw, tmp / "figures" / "power_curve.png", target=target)
        write_provenance(
            tmp,
            provenance_record(
                seed=seed,
                started=started,
                inputs={"design": design_file} if design_file else None,
                extra={
                    "design_name": d.name,
                    "n_grid": grid,
                    "replicates": replicates,
                    "target": target,
                },
            ),
        )
    Console().print(small.to_string(index=False))
    console.print(f"power results: {out}")


def _emit_table(df: Any, fmt: str, title: str) -> None:
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
        Console(width=200).print(table)
    else:
        raise UserError(f"--format must be table, csv or json, got {fmt!r}")


@app.command()
def params(
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """Print the model's parameter table (value, unit, range, CV, source, confidence, note)."""
    from gutskin.model import parameter_table

    _emit_table(parameter_table(), fmt, "gutskin acne model parameters")


@app.command()
def interventions(
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """List the intervention library (name, input, dose unit and range, mechanism, source)."""
    from gutskin.model.interventions import intervention_table

    _emit_table(intervention_table(), fmt, "gutskin interventions")


@app.command()
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
    rows = [s if isinstance(s, dict) else _as_row(s) for s in lib.values()]
    _emit_table(pd.DataFrame(rows), fmt, "gutskin probiotic strains")


def _as_row(obj: Any) -> dict[str, Any]:
    from dataclasses import asdict, is_dataclass

    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if hasattr(obj, "model_dump"):
        return dict(obj.model_dump())
    return dict(vars(obj))


export_app = typer.Typer(
    help="Export the model (SBML) or the calibration problem (PEtab).", no_args_is_help=True
)
app.add_typer(export_app, name="export")


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


def _summary_table(ds: Any) -> Any:
    import numpy as np
    import pandas as pd

    ok = ds["status"].values == 0
    rows = []
    for v in ds.data_vars:
        if ds[v].dims != ("patient", "time"):
            continue
        vals = ds[v].values[ok]
        if vals.shape[0] == 0:
            continue
        q = np.nanpercentile(vals, [5, 50, 95], axis=0)
        mean = np.nanmean(vals, axis=0)
        for j, t in enumerate(ds["time"].values):
            rows.append(
                {
                    "variable": v,
                    "time": t,
                    "units": ds[v].attrs.get("units", ""),
                    "n": int(vals.shape[0]),
                    "mean": mean[j],
                    "p5": q[0, j],
                    "median": q[1, j],
                    "p95": q[2, j],
                }
            )
    return pd.DataFrame(rows)


#: Subpackages that add commands: each module has ``register(app)``.
EXTENSIONS = (
    "gutskin.microbiome.commands",
    "gutskin.sensitivity.commands",
    "gutskin.explorer.commands",
    "gutskin.calibrate.commands",
    "gutskin.scale.commands",
)


def _register_extensions() -> None:
    import importlib

    for name in EXTENSIONS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # that subpackage is not installed in this tree
            raise
        module.register(app)


_register_extensions()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning user errors into one line and exit 2."""
    args = sys.argv[1:] if argv is None else argv
    try:
        app(args=args, prog_name="gutskin", standalone_mode=False)
    except UserError as exc:
        print(f"gutskin: error: {exc}", file=sys.stderr)
        return 2
    except typer.Exit as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except typer.Abort:
        print("gutskin: aborted", file=sys.stderr)
        return 130
    except TyperException as exc:  # usage errors of the vendored click parser
        if type(exc).__name__ == "NoArgsIsHelpError":
            ctx = getattr(exc, "ctx", None)
            print(ctx.get_help() if ctx is not None else "")
            return 0
        fmt = getattr(exc, "format_message", None)
        text = fmt() if callable(fmt) else str(exc)
        print(f"gutskin: error: {' '.join(str(text).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
