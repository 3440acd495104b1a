"""``gutskin sensitivity``: global sensitivity analysis (Morris, Sobol', PAWN)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated

import typer

from gutskin.cli.support import (
    AtolOption,
    LazyProgress,
    OverwriteOption,
    RtolOption,
    UserError,
    check_seed,
    console,
    solver_options,
)

__all__ = ["sensitivity"]


def sensitivity(
    outcome: Annotated[
        str,
        typer.Option(
            "--outcome",
            help="[STAT:]VARIABLE[@TIME], e.g. inflammatory_lesions@56, "
            "pct_diff:inflammatory_lesions@w8, diff:iga_success@w12; no @TIME = per day. "
            "STAT: mean, change, pct_change, diff, pct_diff.",
        ),
    ],
    method: Annotated[str, typer.Option("--method", help="morris, sobol or pawn.")] = "morris",
    factors: Annotated[
        str,
        typer.Option(
            "--factors",
            help="default (all parameters with a range), strain (properties of the arm's "
            "strains) or a YAML/CSV file (name, lower, upper, log).",
        ),
    ] = "default",
    design: Annotated[
        str,
        typer.Option(
            "--design",
            help="Built-in design or design file, optionally :ARM (default arm: the first "
            "non-reference arm).",
        ),
    ] = "rinaldi2022",
    samples: Annotated[
        int | None,
        typer.Option(
            "--samples",
            help="morris: trajectories (default 20); sobol: base N, a power of 2 (256); "
            "pawn: evaluations (512).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed (cohort and SALib sample).")] = 0,
    rtol: RtolOption = 1e-6,
    atol: AtolOption = 1e-8,
    second_order: Annotated[
        bool, typer.Option("--second-order", help="Sobol' second-order indices.")
    ] = False,
    grouped: Annotated[
        bool,
        typer.Option(
            "--grouped",
            help="One index per factor group (strain factors are grouped by property; "
            "factors files may give a group column). Sobol' and Morris only.",
        ),
    ] = False,
    cohort: Annotated[
        int, typer.Option("--cohort", help="Patients evaluated for every factor sample.")
    ] = 32,
    every: Annotated[
        float, typer.Option("--every", help="Output spacing (days) of per-day outcomes.")
    ] = 7.0,
    conf_level: Annotated[
        float, typer.Option("--conf-level", help="Confidence level of the intervals.")
    ] = 0.95,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Reuse evaluations cached beside OUT by a stopped run."),
    ] = False,
    out: Annotated[Path, typer.Option("--out", help="Output folder (new or empty).")] = Path(
        "runs/sensitivity"
    ),
    overwrite: OverwriteOption = False,
) -> None:
    """Global sensitivity analysis of a model or trial outcome (Morris, Sobol', PAWN)."""
    from rich.console import Console
    from rich.table import Table

    from gutskin.io.outdir import OutputDirError, check_writable
    from gutskin.io.provenance import now_iso
    from gutskin.sensitivity.driver import USER_ERRORS, execute
    from gutskin.sensitivity.outputs import write_outputs
    from gutskin.sensitivity.plan import plan

    check_seed(seed)
    if samples is not None and not 1 <= samples <= 100_000:
        raise UserError(f"--samples must be an integer in 1..100000, got {samples}")
    solver = solver_options("auto", rtol, atol)
    started = now_iso()
    bad_input: tuple[type[Exception], ...] = (*USER_ERRORS, OutputDirError)
    try:
        p = plan(
            method=method,
            factors=factors,
            outcome=outcome,
            design=design,
            samples=samples,
            seed=seed,
            second_order=second_order,
            groups=grouped,
            cohort=cohort,
            every=every,
            conf_level=conf_level,
            solver=solver,
        )
        check_writable(out, overwrite=overwrite)
    except bad_input as exc:
        raise UserError(str(exc)) from None
    console.print(
        f"{p.method.name}: {len(p.factors)} factors, {p.n_evaluations} samples × "
        f"{p.cohort} patients, outcome {p.outcome.text} in arm {p.arm!r} of {p.design.name}"
    )
    bar = LazyProgress(p.n_evaluations, "evaluating")

    def progress(done: int) -> None:
        bar(done)
        if done >= p.n_evaluations:
            bar.close()
            console.print(f"estimating {p.method.name} indices for {len(p.outcome.days)} day(s)")

    resolved = Path(out).expanduser().absolute()
    cache = resolved.parent / f".{resolved.name}.sensitivity-cache"
    t0 = time.monotonic()
    try:
        res = execute(p, partial_dir=cache, resume=resume, progress=progress)
    except USER_ERRORS as exc:
        raise UserError(str(exc)) from None
    finally:
        bar.close()
    elapsed = time.monotonic() - t0
    try:
        write_outputs(
            res,
            out,
            plan=p,
            started=started,
            extra={"elapsed_s": round(elapsed, 2)},
            overwrite=overwrite,
        )
    except OutputDirError as exc:
        raise UserError(str(exc)) from None
    shutil.rmtree(cache, ignore_errors=True)
    main = res.main()
    day = res.days[-1]
    label = (
        p.method.name
        if p.method.main_index == p.method.name
        else (f"{p.method.name} {p.method.main_index}")
    )
    table = Table(title=f"{label}: {p.outcome.text}, day {day:g}")
    for col in ("factor", p.method.main_index, f"{p.conf_level:.0%} CI"):
        table.add_column(col)
    for rec in main.head(10).itertuples(index=False):
        table.add_row(str(rec.factor), f"{rec.value:.3g}", f"{rec.ci_low:.3g} to {rec.ci_high:.3g}")
    Console().print(table)
    if res.info.get("solver_failures"):
        console.print(
            f"[yellow]solver failures (left out of cohort means): {res.info['solver_failures']}"
        )
    for note in res.info.get("notes", []):
        console.print(f"[yellow]note: {note}")
    console.print(f"sensitivity results ({elapsed:.1f} s): {out}")
