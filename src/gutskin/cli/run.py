"""``gutskin run``: many virtual patients streamed to Zarr, resumable, in process or on Dask."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gutskin.cli.support import (
    AtolOption,
    LazyProgress,
    MethodOption,
    RtolOption,
    UserError,
    check_seed,
    console,
)

__all__ = ["run_command"]

_SCHEDULERS = ("inprocess", "dask")
_METHODS = ("auto", "dopri5", "rosenbrock")


def run_command(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (new or empty; or a run to --resume)."),
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option("--scenario", help="Built-in scenario name (default acne-untreated)."),
    ] = None,
    design: Annotated[
        Path | None, typer.Option("--design", help="Scenario YAML file (see docs/scenarios.md).")
    ] = None,
    patients: Annotated[int, typer.Option("--patients", help="Number of virtual patients.")] = 1000,
    days: Annotated[float, typer.Option("--days", help="Duration in days.")] = 84.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (fixes every number).")] = 0,
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", help="Patients per chunk (unit of work and of resume).")
    ] = 10_000,
    outputs: Annotated[
        str,
        typer.Option(
            "--outputs", help="Stored times: visits (days 0,14,28,56,84), daily, or days '0,28,84'."
        ),
    ] = "visits",
    variables: Annotated[
        str | None,
        typer.Option("--variables", help="States/observables to store, comma-separated (all)."),
    ] = None,
    parameters: Annotated[
        bool, typer.Option("--parameters", help="Also store each patient's parameters.")
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Complete an interrupted run in --out; damaged chunks are recomputed.",
        ),
    ] = False,
    verify: Annotated[
        Path | None,
        typer.Option(
            "--verify",
            help="Check every chunk of the run in this folder against its SHA-256 and "
            "exit (0: complete and intact; 2: damaged or unfinished). Repairs nothing.",
        ),
    ] = None,
    scheduler: Annotated[
        str, typer.Option("--scheduler", help="inprocess (default) or dask.")
    ] = "inprocess",
    workers: Annotated[
        int | None, typer.Option("--workers", help="Dask: worker processes of a local cluster.")
    ] = None,
    address: Annotated[
        str | None,
        typer.Option("--address", help="Dask: scheduler address of an existing cluster."),
    ] = None,
    method: MethodOption = "auto",
    rtol: RtolOption = 1e-6,
    atol: AtolOption = 1e-8,
    dense: Annotated[
        bool, typer.Option("--dense/--no-dense", help="Dense output between output times.")
    ] = True,
) -> None:
    """Simulate many virtual patients chunk by chunk into DIR/trajectories.zarr (resumable)."""
    from gutskin.scale.runner import run
    from gutskin.scale.store import MAX_CHUNKS, MAX_PATIENTS, ScaleError
    from gutskin.scenario import ScenarioError, get_scenario, load_scenario

    if verify is not None:
        if out is not None or resume:
            raise UserError("--verify DIR checks a finished run; give it without --out/--resume")
        _verify(verify)
        return
    if out is None:
        raise UserError("--out DIR is required (or --verify DIR to check a run)")
    check_seed(seed)
    if scenario and design:
        raise UserError("give either --scenario or --design, not both")
    if patients < 1:
        raise UserError(f"--patients must be >= 1, got {patients}")
    if patients > MAX_PATIENTS:
        raise UserError(f"--patients must be <= {MAX_PATIENTS} (10**9), got {patients}")
    if not 0 < days <= 3650:  # NaN fails too
        raise UserError(f"--days must be a number in (0, 3650] (ten years), got {days}")
    if chunk_size < 1:
        raise UserError(f"--chunk-size must be >= 1, got {chunk_size}")
    if -(-patients // chunk_size) > MAX_CHUNKS:
        raise UserError(
            f"--chunk-size {chunk_size} makes {-(-patients // chunk_size)} chunks of "
            f"{patients} patients, more than {MAX_CHUNKS}; use --chunk-size >= "
            f"{-(-patients // MAX_CHUNKS)}"
        )
    if scheduler not in _SCHEDULERS:
        raise UserError(f"--scheduler must be inprocess or dask, got {scheduler!r}")
    if method not in _METHODS:
        raise UserError(f"--method must be auto, dopri5 or rosenbrock, got {method!r}")
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    if (workers is not None or address) and scheduler != "dask":
        raise UserError("--workers and --address need --scheduler dask")
    if workers is not None and address:
        raise UserError("give either --workers (local cluster) or --address, not both")
    names = [v.strip() for v in variables.split(",") if v.strip()] if variables else None
    if variables is not None and not names:
        raise UserError("--variables: give at least one name")
    try:
        sc = load_scenario(design) if design else get_scenario(scenario or "acne-untreated")
    except ScenarioError as exc:
        raise UserError(str(exc)) from None

    bar = LazyProgress(patients, "simulating")
    try:
        summary = run(
            sc,
            out,
            patients=patients,
            days=days,
            seed=seed,
            chunk_size=chunk_size,
            outputs=outputs,
            variables=names,
            parameters=parameters,
            method=method,  # type: ignore[arg-type]
            rtol=rtol,
            atol=atol,
            dense=dense,
            resume=resume,
            scheduler=scheduler,  # type: ignore[arg-type]
            workers=workers,
            address=address,
            progress=bar,
        )
    except ScaleError as exc:
        raise UserError(str(exc)) from None
    finally:
        bar.close()
    note = f" ({summary.chunks_skipped} chunks already done)" if summary.chunks_skipped else ""
    if summary.chunks_repaired:
        note += f" ({summary.chunks_repaired} damaged chunks recomputed)"
    console.print(
        f"simulated {summary.patients} patients × {days:g} days in {summary.elapsed_s:.1f} s"
        f"{note} → {summary.store}"
    )
    if summary.failures:
        console.print(f"[yellow]solver failures (kept, status in the store): {summary.failures}")


def _verify(folder: Path) -> None:
    """``--verify DIR``: report, exit 0 if complete and intact, else one error line."""
    from gutskin.scale.integrity import verify
    from gutskin.scale.store import ScaleError

    try:
        check = verify(folder)
    except ScaleError as exc:
        raise UserError(str(exc)) from None
    if not check.complete:
        raise UserError(
            f"{check.out}: {check.describe()}; run the same `gutskin run` command with "
            "--resume to recompute them"
        )
    console.print(f"{check.out}: {check.describe()} (SHA-256 checked); the run is complete")
