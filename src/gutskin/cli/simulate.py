"""``gutskin simulate``: virtual patients of a scenario, written to an output folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from gutskin.cli.support import (
    MAX_DAYS,
    MAX_SIMULATE_PATIENTS,
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
    solver_options,
)

__all__ = ["simulate"]


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
    method: MethodOption = "auto",
    rtol: RtolOption = 1e-6,
    atol: AtolOption = 1e-8,
    chunk_size: Annotated[int, typer.Option(help="Patients per compiled call.")] = 4096,
    dense: Annotated[
        bool,
        typer.Option(
            "--dense/--no-dense",
            help="Step over output times and interpolate (default, as in every command).",
        ),
    ] = True,
    overwrite: OverwriteOption = False,
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
        solver = solver_options(method, rtol, atol, dense)
        check_int(
            "--patients",
            patients,
            1,
            MAX_SIMULATE_PATIENTS,
            why=" (gutskin run streams larger cohorts to disk)",
        )
        check_number("--days", days, 0.0, MAX_DAYS, lo_open=True)
        check_seed(seed)
        check_int("--chunk-size", chunk_size, 1)
        sc = load_scenario(design) if design else get_scenario(scenario or "placeholder-untreated")
        check_writable(out, overwrite=overwrite)
    except (ScenarioError, OutputDirError) as exc:
        raise UserError(str(exc)) from None

    bar = LazyProgress(patients, "simulating")
    t0 = time.monotonic()
    try:
        ds = run_simulation(
            sc,
            patients=patients,
            days=days,
            seed=seed,
            solver=solver,
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
                    "dense": dense,
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
