"""``gutskin calibrate``: fit assumed parameters to published targets."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

from gutskin.cli.support import (
    AtolOption,
    LazyProgress,
    MethodOption,
    OverwriteOption,
    RtolOption,
    UserError,
    check_seed,
    console,
    solver_options,
)

__all__ = ["calibrate", "load_targets"]

_MAX_BUDGET = 100_000


def load_targets(targets: Path | None) -> Any:
    """The target set in ``targets`` (default: the packaged one), or a :class:`UserError`."""
    from gutskin.calibrate.targets import TargetError
    from gutskin.calibrate.targets import load_targets as _load_targets

    try:
        return _load_targets(targets)
    except TargetError as exc:
        raise UserError(str(exc)) from None


def calibrate(
    out: Annotated[Path, typer.Option("--out", help="Output folder (new or empty).")],
    targets: Annotated[
        Path | None, typer.Option("--targets", help="Targets YAML (default: packaged).")
    ] = None,
    budget: Annotated[
        int, typer.Option("--budget", help="Objective evaluations of the search.")
    ] = 60,
    parameters: Annotated[
        str | None,
        typer.Option("--parameters", help="Parameters to fit, comma-separated (default: file)."),
    ] = None,
    profile_points: Annotated[
        int, typer.Option("--profile-points", help="Slice points per side (uncertainty).")
    ] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Common-random-numbers seed.")] = 2026,
    replicates: Annotated[
        int,
        typer.Option(
            "--replicates",
            help="Fit the means of this many replicate trials per design, drawn from one "
            "virtual population (0: one large cohort per design).",
        ),
    ] = 0,
    rinaldi_replicates: Annotated[
        int,
        typer.Option(
            "--rinaldi-replicates", help="Replicates of Rinaldi 2022 (with --replicates)."
        ),
    ] = 60,
    pool: Annotated[
        int,
        typer.Option(
            "--pool", help="Eligible patients per virtual population (with --replicates)."
        ),
    ] = 2000,
    groups: Annotated[
        str | None,
        typer.Option("--groups", help="Fit only the targets of these groups, comma-separated."),
    ] = None,
    method: MethodOption = "auto",
    rtol: RtolOption = 1e-6,
    atol: AtolOption = 1e-8,
    overwrite: OverwriteOption = False,
) -> None:
    """Fit assumed parameters to published trials (writes fitted_parameters.csv)."""
    from gutskin.io.outdir import OutputDirError, atomic_output_dir, check_writable
    from gutskin.io.provenance import now_iso, provenance_record, write_provenance

    if not 1 <= budget <= _MAX_BUDGET:
        raise UserError(f"--budget must be in 1..{_MAX_BUDGET}, got {budget}")
    if not 0 <= profile_points <= 10:
        raise UserError(f"--profile-points must be in 0..10, got {profile_points}")
    check_seed(seed)
    if not 0 <= replicates <= 1000:
        raise UserError(f"--replicates must be in 0..1000, got {replicates}")
    if not 1 <= rinaldi_replicates <= 10_000:
        raise UserError(f"--rinaldi-replicates must be in 1..10000, got {rinaldi_replicates}")
    if not 100 <= pool <= 1_000_000:
        raise UserError(f"--pool must be in 100..1000000, got {pool}")
    if (groups is not None or rinaldi_replicates != 60 or pool != 2000) and replicates == 0:
        raise UserError("--groups, --rinaldi-replicates and --pool need --replicates N (N >= 1)")
    # the defaults keep each simulation's own settings (trials dense, cohorts not)
    solver = None
    if (method, rtol, atol) != ("auto", 1e-6, 1e-8):
        solver = solver_options(method, rtol, atol)
    ts = load_targets(targets)
    names = ts.fit_parameters
    if parameters is not None:
        from gutskin.model.acne import read_parameters

        known = {p.name for p in read_parameters()}
        names = [x.strip() for x in parameters.split(",") if x.strip()]
        bad = [x for x in names if x not in known]
        if bad or not names:
            raise UserError(f"--parameters: unknown or empty parameter list {bad or parameters!r}")
    if not ts.fitted():
        raise UserError("targets file has no target with fit: true")
    if not names:
        raise UserError("no parameters to fit: give --parameters or fit_parameters in the file")
    rep_obj = None
    if replicates > 0:
        from gutskin.calibrate.replicates import ReplicateObjective, check_groups

        group_list = tuple(g.strip() for g in (groups or "").split(",") if g.strip())
        try:
            check_groups(ts, group_list)
        except ValueError as exc:
            raise UserError(f"--groups: {exc}") from None
        rep_obj = ReplicateObjective(
            replicates=replicates,
            rinaldi_replicates=max(replicates, rinaldi_replicates),
            pool_size=pool,
            groups=group_list,
        )
    try:
        check_writable(out, overwrite=overwrite)
    except OutputDirError as exc:
        raise UserError(str(exc)) from None

    from gutskin.calibrate.fit import fit, write_outputs

    started = now_iso()
    total = budget + 2 * profile_points * len(names)
    bar = LazyProgress(total, "calibrating")
    from gutskin.calibrate.targets import TargetError

    try:
        result = fit(
            ts,
            names,
            budget=budget,
            seed=seed,
            profile_points=profile_points,
            progress=lambda d, t: bar(d),
            solver=solver,
            replicate_objective=rep_obj,
        )
    except TargetError as exc:
        raise UserError(str(exc)) from None
    finally:
        bar.close()
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        objective_info: dict[str, Any] = {"budget": budget, "parameters": names}
        if rep_obj is not None:
            objective_info["replicate_objective"] = {
                "replicates": rep_obj.replicates,
                "rinaldi_replicates": rep_obj.rinaldi_replicates,
                "pool": rep_obj.pool_size,
                "groups": list(rep_obj.groups),
            }
        write_outputs(result, ts, tmp, objective_info)
        shutil.copyfile(ts.path, tmp / "targets.yaml")
        write_provenance(
            tmp,
            provenance_record(
                seed=seed,
                started=started,
                inputs={"targets": ts.path},
                extra={
                    "budget": budget,
                    "fitted_parameters": names,
                    "solver": solver.kwargs() if solver is not None else "defaults",
                },
            ),
        )
    console.print(
        f"objective {result.j_nominal:.3g} (table) -> {result.j_best:.3g} (fitted) in "
        f"{result.n_evals} evaluations; wrote {Path(out) / 'fitted_parameters.csv'}"
    )
    print(result.table()[["name", "value", "at_bound", "identifiable"]].to_string(index=False))
