"""``gutskin trial``, ``gutskin power`` and ``gutskin designs``: in-silico trials."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from gutskin.cli.support import (
    AtolOption,
    LazyProgress,
    MethodOption,
    OverwriteOption,
    RtolOption,
    UserError,
    check_int,
    check_number,
    check_seed,
    console,
    replicate_job_errors,
    solver_options,
)

__all__ = ["designs_app", "power", "trial"]


designs_app = typer.Typer(
    help="List built-in trial designs or print one as YAML.",
    no_args_is_help=False,
    invoke_without_command=True,
)


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


def trial(
    design: Annotated[
        str, typer.Argument(help="Built-in design name or design YAML file.")
    ] = "rinaldi2022",
    out: Annotated[Path, typer.Option("--out", help="Output folder (new or empty).")] = Path(
        "runs/trial"
    ),
    seed: Annotated[int, typer.Option("--seed", help="Random seed (fixes every number).")] = 0,
    method: MethodOption = "auto",
    rtol: RtolOption = 1e-6,
    atol: AtolOption = 1e-8,
    overwrite: OverwriteOption = False,
) -> None:
    """Run an in-silico randomized controlled trial and write results, report and figures."""
    from gutskin.io.provenance import now_iso
    from gutskin.outputs import write_trial_outputs
    from gutskin.trial.design import DesignError, builtin_designs
    from gutskin.trial.run import run_trial

    started = now_iso()
    check_seed(seed)
    solver = solver_options(method, rtol, atol)
    d, population = _design_and_population(design, out, overwrite, seed)
    design_file = None if design in builtin_designs() else Path(design)
    bars: dict[str, LazyProgress] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            for b in bars.values():
                b.close()
            bars[stage] = LazyProgress(total, stage)
        bars[stage](done)

    t0 = time.monotonic()
    try:
        result = run_trial(d, seed=seed, progress=progress, solver=solver, population=population)
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
        extra={"elapsed_s": round(elapsed, 2), "solver": solver.kwargs()},
        overwrite=overwrite,
    )
    _print_trial_summary(results)
    console.print(
        f"trial {d.name}: {len(result.patients)} randomized "
        f"({result.n_screened} screened) in {elapsed:.1f} s"
    )
    console.print(f"report: {Path(out) / 'report.html'}")


def _design_and_population(
    design: str, out: Path, overwrite: bool, seed: int, strains: Any = None
) -> tuple[Any, Any]:
    """The design, checked output folder and microbiome population of a trial command.

    Parameters
    ----------
    design : str
        Built-in design name or YAML path.
    out : Path
        The output folder (must be new, empty, or an earlier output with ``overwrite``).
    overwrite : bool
        Whether an earlier gutskin output in ``out`` may be replaced.
    seed : int
        Run seed (the population of a design seeded from a microbiome table uses it).
    strains : mapping, optional
        Strain library the design's probiotics are checked against (default packaged).

    Returns
    -------
    tuple
        ``(design, population)``; the population is None unless the design has
        ``population.from_table``.

    Raises
    ------
    UserError
        An invalid design, an unusable output folder or an unreadable table.
    """
    from gutskin.io.outdir import OutputDirError, check_writable
    from gutskin.microbiome import TableError, population_for_design
    from gutskin.trial.design import DesignError, load_design

    try:
        d = load_design(design, strains=strains)
        check_writable(out, overwrite=overwrite)
        population = population_for_design(d, seed)
    except (DesignError, OutputDirError, TableError) as exc:
        raise UserError(str(exc)) from None
    return d, population


def _print_trial_summary(results: dict[str, Any]) -> None:
    from rich.table import Table

    last = results["design"]["visits_weeks"][-1]
    table = Table(title=f"{results['design']['name']}: inflammatory lesions, week {last:g}")
    # two percent changes, named apart: the change of the arm's mean (what trial reports,
    # the calibration and docs/validation.md quote) and the mean of each patient's change
    cols = (
        "arm",
        "n",
        "mean",
        "% change of arm mean",
        "mean % change per patient",
        "vs ref (ANCOVA)",
        "95% CI",
        "p",
    )
    for col in cols:
        table.add_column(col, no_wrap=col != "arm")
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
            fmt(e.get("pct_change_of_means"), "+.1f"),
            fmt(e.get("pct_change_mean"), "+.1f"),
            fmt(c["estimate"], "+.2f") if c else "reference",
            f"{fmt(c['ci_low'], '.2f')} to {fmt(c['ci_high'], '.2f')}" if c else "",
            fmt(c["p_value"], ".3g") if c else "",
        )
    Console(width=max(Console().width, 130)).print(table)


def power(
    design: Annotated[str, typer.Argument(help="Built-in design name or design YAML file.")],
    n: Annotated[str, typer.Option("--n", help="Total sample sizes, comma-separated.")] = (
        "20,40,80,160"
    ),
    replicates: Annotated[int, typer.Option("--replicates", help="Trials per size.")] = 200,
    target: Annotated[float, typer.Option("--target", help="Target power.")] = 0.8,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    method: MethodOption = "auto",
    rtol: RtolOption = 1e-6,
    atol: AtolOption = 1e-8,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Processes (default: one per core).")
    ] = None,
    pool: Annotated[
        str,
        typer.Option(
            "--pool",
            help="Eligible candidates in the virtual population the replicate trials draw "
            "their patients from ('auto': max(20 x largest n, 2000)), or 'fresh' for new "
            "patients in every replicate (exact, slower).",
        ),
    ] = "auto",
    analyses: Annotated[
        str,
        typer.Option(
            "--analyses",
            help="'primary': the design's primary comparison (primary: true, else the "
            "first); 'all': every planned comparison.",
        ),
    ] = "primary",
    scheduler: Annotated[
        str,
        typer.Option(
            "--scheduler",
            help="inprocess (worker processes here, default) or dask (a local Dask cluster "
            "of --workers processes, or the one at --address); results are identical.",
        ),
    ] = "inprocess",
    address: Annotated[
        str | None,
        typer.Option("--address", help="Dask: scheduler address of an existing cluster."),
    ] = None,
    uncertainty: Annotated[
        str | None,
        typer.Option(
            "--uncertainty",
            help="Assurance: 'prior' (parameter medians from their table ranges, strain "
            "properties from their priors), 'calibrated' (the packaged calibrated ensemble) "
            "or a CSV FILE of parameter sets (docs/assurance.md). Without it: power at the "
            "point values.",
        ),
    ] = None,
    draws: Annotated[
        int | None,
        typer.Option(
            "--draws",
            help="Assurance: parameter sets (default 100 for a prior; every row of an ensemble).",
        ),
    ] = None,
    parameters: Annotated[
        str | None,
        typer.Option(
            "--parameters",
            help="Assurance with a prior: uncertain quantities, comma-separated: parameter "
            "names and STRAIN.property (default: the assumed parameters that can act on the "
            "trial, and strain properties with a prior).",
        ),
    ] = None,
    strains_file: Annotated[
        Path | None,
        typer.Option(
            "--strains",
            help="User strain YAML (new strains, or properties given as priors: "
            "docs/assurance.md).",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder (new or empty).")] = Path(
        "runs/power"
    ),
    overwrite: OverwriteOption = False,
) -> None:
    """Power of the primary comparison over a grid of sample sizes, by replicate trials.

    With --uncertainty: assurance, the probability of success averaged over what is
    not known about the model, and the band of power across parameter draws.
    """

    from gutskin.io.outdir import atomic_output_dir
    from gutskin.io.provenance import now_iso, provenance_record, write_provenance
    from gutskin.report.power_figure import plot_power
    from gutskin.trial.design import builtin_designs
    from gutskin.trial.power import power_curve, smallest_n

    started = now_iso()
    try:
        grid = [int(x) for x in n.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--n must be comma-separated integers, got {n!r}") from None
    check_number("--target", target, 0.0, 1.0, lo_open=True, hi_open=True)
    check_int("--replicates", replicates, 1, 100_000)
    check_seed(seed)
    if workers is not None:
        check_int("--workers", workers, 1, 256)
    pool_arg: int | str | None
    if pool == "fresh":
        pool_arg = "fresh"
    elif pool == "auto":
        pool_arg = None
    else:
        try:
            pool_arg = int(pool)
        except ValueError:
            raise UserError(
                f"--pool must be 'auto', 'fresh' or a whole number of candidates, got {pool!r}"
            ) from None
        check_int("--pool", pool_arg, 1, 1_000_000)
    if analyses not in ("primary", "all"):
        raise UserError(f"--analyses must be 'primary' or 'all', got {analyses!r}")
    if scheduler not in ("inprocess", "dask"):
        raise UserError(f"--scheduler must be inprocess or dask, got {scheduler!r}")
    if address and scheduler != "dask":
        raise UserError("--address needs --scheduler dask")
    if workers is not None and address:
        raise UserError("give either --workers (local cluster) or --address, not both")
    if address:
        from gutskin.engine.workers import check_dask_address

        try:
            check_dask_address(address)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    if uncertainty is None:
        for option, given in (
            ("--draws", draws is not None),
            ("--parameters", parameters is not None),
            ("--strains", strains_file is not None),
        ):
            if given:
                raise UserError(f"{option} needs --uncertainty (prior, calibrated or a FILE)")
    else:
        if draws is not None:
            check_int("--draws", draws, 1, 100_000)
        if pool_arg == "fresh":
            raise UserError("--pool fresh is not supported with --uncertainty; give a number")
        if parameters is not None and uncertainty != "prior":
            raise UserError(
                "--parameters is for --uncertainty prior; an ensemble names its own columns"
            )
    solver = solver_options(method, rtol, atol)
    from gutskin.cli.assurance import _assurance_command, _strain_library

    library = _strain_library(strains_file)
    d, population = _design_and_population(design, out, overwrite, seed, library)
    from gutskin.trial.design import MAX_SAMPLE_SIZE

    for size in grid:
        check_int("--n", size, 2 * len(d.arms), MAX_SAMPLE_SIZE, why=" (2 per arm at least)")
    if uncertainty is not None:
        _assurance_command(
            d,
            design,
            grid,
            uncertainty=uncertainty,
            draws=draws,
            parameters=parameters,
            strains=library,
            strains_file=strains_file,
            population=population,
            replicates=replicates,
            target=target,
            seed=seed,
            workers=workers,
            solver=solver,
            pool=pool_arg,  # type: ignore[arg-type]
            analyses=analyses,
            scheduler=scheduler,
            address=address,
            out=out,
            overwrite=overwrite,
            started=started,
        )
        return
    bar = LazyProgress(replicates, "replicate trials")
    with replicate_job_errors(bar):
        pw, raw = power_curve(
            d,
            grid,
            replicates=replicates,
            seed=seed,
            workers=workers,
            solver=solver,
            population=population,
            progress=lambda done, total: bar(done),
            pool=pool_arg,  # type: ignore[arg-type]
            analyses=analyses,
            stage=lambda text: console.print(f"gutskin: {text}", highlight=False),
            scheduler=scheduler,
            address=address,
        )
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
                    "pool": pw["pool"].iloc[0] if len(pw) else None,
                    "analyses": analyses,
                    "target": target,
                    "solver": solver.kwargs(),
                    "scheduler": scheduler,
                },
            ),
        )
    Console().print(small.to_string(index=False))
    console.print(f"power results: {out}")
