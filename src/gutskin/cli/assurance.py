"""``gutskin power --uncertainty ...``: the assurance part of the power command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from gutskin.cli.support import (
    LazyProgress,
    UserError,
    console,
    replicate_job_errors,
)

__all__: list[str] = []


def _strain_library(path: Path | None) -> Any:
    """The strain library merged with a user strain YAML (None: the packaged one)."""
    if path is None:
        return None
    from gutskin.model.strains import StrainError, load_strains

    try:
        return load_strains(path)
    except StrainError as exc:
        raise UserError(f"--strains: {exc}") from None


def _uncertainty_source(
    name: str, d: Any, parameters: str | None, strains: Any
) -> tuple[Any, Path | None]:
    """The uncertainty source of ``--uncertainty`` and the file it was read from."""
    from importlib import resources

    from gutskin.trial.assurance import AssuranceError, prior_uncertainty, read_ensemble

    try:
        if name == "prior":
            names = None
            if parameters is not None:
                names = [x.strip() for x in parameters.split(",") if x.strip()]
                if not names:
                    raise UserError("--parameters: give at least one name, comma-separated")
            return prior_uncertainty(d, parameters=names, strains=strains), None
        if name == "calibrated":
            packaged = resources.files("gutskin.calibrate") / "data" / "ensemble.csv"
            if not packaged.is_file():
                raise UserError(
                    "--uncertainty calibrated: the packaged calibrated ensemble "
                    "(gutskin/calibrate/data/ensemble.csv) is not available yet; use "
                    "--uncertainty prior or a FILE of parameter sets"
                )
            path = Path(str(packaged))
            return read_ensemble(path, label="calibrated"), path
        path = Path(name)
        if not path.is_file():
            raise UserError(
                f"--uncertainty must be prior, calibrated or an ensemble CSV file; "
                f"{name!r} is not a file"
            )
        return read_ensemble(path), path
    except AssuranceError as exc:
        raise UserError(str(exc)) from None


def _assurance_command(
    d: Any,
    design: str,
    grid: list[int],
    *,
    uncertainty: str,
    draws: int | None,
    parameters: str | None,
    strains: Any,
    strains_file: Path | None,
    population: Any,
    replicates: int,
    target: float,
    seed: int,
    workers: int | None,
    solver: Any,
    pool: int | None,
    analyses: str,
    scheduler: str,
    address: str | None,
    out: Path,
    overwrite: bool,
    started: str,
) -> None:
    """``gutskin power --uncertainty``: run :func:`gutskin.trial.assurance.assurance`, write."""

    from gutskin.io.outdir import atomic_output_dir
    from gutskin.io.provenance import provenance_record, write_provenance
    from gutskin.report.power_figure import plot_assurance, plot_power
    from gutskin.trial.assurance import (
        DEFAULT_DRAWS,
        EnsembleUncertainty,
        PriorUncertainty,
        assurance,
    )
    from gutskin.trial.design import builtin_designs

    source, source_file = _uncertainty_source(uncertainty, d, parameters, strains)
    if draws is not None:
        total = draws + 1
    elif isinstance(source, EnsembleUncertainty):
        total = len(source.values) + 1
    else:
        total = DEFAULT_DRAWS + 1
    bar = LazyProgress(total, "parameter sets")
    with replicate_job_errors(bar):
        res = assurance(
            d,
            grid,
            uncertainty=source,
            replicates=replicates,
            draws=draws,
            seed=seed,
            workers=workers,
            solver=solver,
            population=population,
            pool=pool,
            analyses=analyses,
            strains=strains,
            progress=lambda done, _total: bar(done),
            stage=lambda text: console.print(f"gutskin: {text}", highlight=False),
            scheduler=scheduler,
            address=address,
        )
    small = res.smallest_n(target)
    inputs: dict[str, Any] = {}
    if design not in builtin_designs():
        inputs["design"] = Path(design)
    if source_file is not None:
        inputs["ensemble"] = source_file
    if strains_file is not None:
        inputs["strains"] = strains_file
    priors = (
        {q.name: q.prior.describe() for q in source.quantities}
        if isinstance(source, PriorUncertainty)
        else None
    )
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        res.summary.to_csv(tmp / "assurance.csv", index=False)
        res.draws.to_csv(tmp / "draws.csv", index=False)
        res.point.to_csv(tmp / "power.csv", index=False)
        res.power.to_csv(tmp / "power_by_draw.csv", index=False)
        res.raw.to_csv(tmp / "replicates.csv", index=False)
        small.to_csv(tmp / "smallest_n.csv", index=False)
        plot_assurance(res.summary, tmp / "figures" / "assurance_curve.png", target=target)
        plot_power(res.point, tmp / "figures" / "power_curve.png", target=target)
        write_provenance(
            tmp,
            provenance_record(
                seed=seed,
                started=started,
                inputs=inputs or None,
                extra={
                    "design_name": d.name,
                    "n_grid": grid,
                    "replicates": replicates,
                    "uncertainty": res.source,
                    "draws": int(res.draws["draw"].nunique()),
                    "quantities": list(res.names),
                    "priors": priors,
                    "pool": pool,
                    "analyses": analyses,
                    "target_assurance": target,
                    "solver": solver.kwargs(),
                    "scheduler": scheduler,
                },
            ),
        )
    cols = ["endpoint", "method", "arm", "n", "point_power", "assurance", "power_q10", "power_q90"]
    wide = Console(width=max(Console().width, 130))
    wide.print(res.summary[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    wide.print(small.to_string(index=False))
    console.print(f"assurance results: {out}")
