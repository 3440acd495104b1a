"""``gutskin profile``: real microbiome tables in, profiles and personalised patients out."""

from __future__ import annotations

import time
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

__all__ = ["profile"]

_KINDS = ("auto", "gut", "skin")
_NORMALISE = ("relative", "rarefy")
_MAX_REPLICATES = 1000


def profile(
    table: Annotated[
        Path,
        typer.Argument(
            help="Feature table: BIOM 1.0 (JSON) or 2.x (HDF5), QIIME 1 classic TSV, "
            "TSV/CSV (features x samples) or a QIIME 2 FeatureTable .qza."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder (new or empty).")],
    metadata: Annotated[
        Path | None, typer.Option("--metadata", help="Sample metadata (mapping file, TSV).")
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            help="Keep samples with COLUMN=VALUE[,VALUE] or COLUMN!=VALUE (repeatable, all hold).",
        ),
    ] = None,
    taxonomy: Annotated[
        Path | None,
        typer.Option("--taxonomy", help="Taxonomy file (TSV, QIIME 2 taxonomy.tsv or .qza)."),
    ] = None,
    tree: Annotated[
        Path | None, typer.Option("--tree", help="Phylogeny (Newick or .qza) for Faith's PD.")
    ] = None,
    kind: Annotated[str, typer.Option("--kind", help="Sample kind: gut, skin or auto.")] = "auto",
    normalise: Annotated[
        str, typer.Option("--normalise", help="relative (default) or rarefy.")
    ] = "relative",
    depth: Annotated[
        int | None,
        typer.Option("--depth", help="Rarefaction depth (default: smallest sample)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (rarefaction, replicates).")] = 0,
    shannon_base: Annotated[
        str, typer.Option("--shannon-base", help="Log base of the Shannon index: e, 2 or 10.")
    ] = "e",
    covariates: Annotated[
        str | None,
        typer.Option(
            "--covariates", help="Metadata columns to carry, comma-separated (default: varying)."
        ),
    ] = None,
    drop_empty: Annotated[
        bool,
        typer.Option("--drop-empty", help="Drop empty samples and all-zero features (else error)."),
    ] = False,
    guild_map: Annotated[
        Path | None,
        typer.Option("--guild-map", help="Own taxonomy -> guild map (CSV, as the packaged one)."),
    ] = None,
    simulate: Annotated[
        str | None,
        typer.Option(
            "--simulate",
            help="DESIGN:ARM (e.g. rinaldi2022:probiotics): simulate each sample under that arm.",
        ),
    ] = None,
    replicates: Annotated[
        int,
        typer.Option(
            "--replicates",
            help="With --simulate: 0 = one nominal patient per sample; R = R sampled patients.",
        ),
    ] = 0,
    method: MethodOption = "auto",
    rtol: RtolOption = 1e-6,
    atol: AtolOption = 1e-8,
    overwrite: OverwriteOption = False,
) -> None:
    """Profile a microbiome table (diversity, model guilds, dysbiosis) and personalise patients.

    Writes OUT/profile.csv, OUT/figures/, OUT/provenance.json and, with --simulate,
    OUT/simulation.csv and OUT/virtual_patients.csv.  See docs/microbiome.md.
    """
    check_seed(seed)
    solver = solver_options(method, rtol, atol)
    from gutskin.io.csvsafe import spreadsheet_safe
    from gutskin.io.outdir import OutputDirError, atomic_output_dir, check_writable
    from gutskin.io.provenance import now_iso, provenance_record, write_provenance
    from gutskin.microbiome.population import population_from_profile
    from gutskin.microbiome.profile import profile_table
    from gutskin.microbiome.readers import TableError
    from gutskin.microbiome.simulate import simulate_samples

    started = now_iso()
    t0 = time.monotonic()
    if kind not in _KINDS:
        raise UserError(f"--kind must be gut, skin or auto, got {kind!r}")
    if normalise not in _NORMALISE:
        raise UserError(f"--normalise must be relative or rarefy, got {normalise!r}")
    if depth is not None and normalise != "rarefy":
        raise UserError("--depth needs --normalise rarefy")
    if not 0 <= replicates <= _MAX_REPLICATES:
        raise UserError(f"--replicates must be in 0..{_MAX_REPLICATES}, got {replicates}")
    if replicates and not simulate:
        raise UserError("--replicates needs --simulate DESIGN:ARM")
    try:
        check_writable(out, overwrite=overwrite)
    except OutputDirError as exc:
        raise UserError(str(exc)) from None
    design = arm = design_file = None
    if simulate:
        design, arm, design_file = _design_arm(simulate)
    cov = [c.strip() for c in covariates.split(",") if c.strip()] if covariates else None
    try:
        prof = profile_table(
            table,
            taxonomy=taxonomy,
            metadata=metadata,
            where=where or [],
            kind=kind,  # type: ignore[arg-type]
            normalise=normalise,  # type: ignore[arg-type]
            depth=depth,
            seed=seed,
            shannon_base=shannon_base,
            tree=tree,
            drop_empty=drop_empty,
            covariates=cov,
            guild_map=guild_map,
        )
    except TableError as exc:
        raise UserError(str(exc)) from None
    t_profile = time.monotonic() - t0
    sim = None
    if design is not None and arm is not None:
        pop = population_from_profile(prof)
        bar = LazyProgress(3, "simulating samples")
        try:
            sim = simulate_samples(
                pop,
                regimens=[r.model_dump() for r in arm.regimens],
                arm=arm.name,
                days=design.duration_weeks * 7.0,
                visit_weeks=design.visits_weeks,
                burn_in_days=design.population.burn_in_days,
                replicates=replicates,
                adherence=design.adherence.mean,
                seed=seed,
                solver=solver,
                progress=lambda done, total: bar(done),
            )
        except ValueError as exc:
            raise UserError(str(exc)) from None
        finally:
            bar.close()
    elapsed = time.monotonic() - t0
    inputs: dict[str, str | Path] = {"table": table}
    for name, path in (
        ("taxonomy", taxonomy),
        ("metadata", metadata),
        ("tree", tree),
        ("guild_map", guild_map),
    ):
        if path is not None:
            inputs[name] = path
    summary = _summary(prof.samples)
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        spreadsheet_safe(prof.samples).to_csv(tmp / "profile.csv")
        figs = tmp / "figures"
        figs.mkdir()
        _plot_guilds(prof.samples, figs / "guilds.png")
        _plot_diversity(prof.samples, figs / "diversity.png")
        extra: dict[str, Any] = {
            "options": {
                "kind": kind,
                "where": where or [],
                "normalise": normalise,
                "depth": prof.settings.get("depth"),
                "shannon_base": shannon_base,
                "drop_empty": drop_empty,
                "covariates": cov,
            },
            "profile": prof.settings,
            "guild_map_sha256": _guild_map_sha(guild_map),
            "libraries": _library_versions(),
            "summary": summary,
            "elapsed_s": {"profile": round(t_profile, 3), "total": round(elapsed, 3)},
        }
        if sim is not None and design is not None and arm is not None:
            spreadsheet_safe(sim.visits).to_csv(tmp / "simulation.csv", index=False)
            spreadsheet_safe(sim.patients).to_csv(tmp / "virtual_patients.csv", index=False)
            _plot_simulation(sim, prof.samples, arm.name, figs / "simulation.png")
            extra["simulate"] = {
                "design": design.name,
                "arm": arm.name,
                "regimens": [r.model_dump() for r in arm.regimens],
                "days": design.duration_weeks * 7.0,
                "visit_weeks": design.visits_weeks,
                "burn_in_days": design.population.burn_in_days,
                "replicates": replicates,
                "adherence": design.adherence.mean if replicates else 1.0,
                "solver": {"method": solver.method, "rtol": solver.rtol, "atol": solver.atol},
            }
            if design_file is not None:
                inputs["design"] = design_file
        write_provenance(
            tmp, provenance_record(seed=seed, started=started, inputs=inputs, extra=extra)
        )
    _print_summary(summary, prof.settings, sim, arm.name if arm else None)
    console.print(f"profiled {len(prof.samples)} samples in {t_profile:.1f} s → {out}")


# ------------------------------------------------------------------------------ helpers
def _design_arm(text: str) -> tuple[Any, Any, Path | None]:
    from gutskin.trial.design import DesignError, builtin_designs, load_design

    if ":" not in text:
        raise UserError(
            f"--simulate {text!r}: expected DESIGN:ARM, e.g. rinaldi2022:probiotics "
            f"(built-in designs: {', '.join(sorted(builtin_designs()))})"
        )
    name, arm_name = text.rsplit(":", 1)
    try:
        design = load_design(name)
    except DesignError as exc:
        raise UserError(f"--simulate: {exc}") from None
    if design.model != "acne":
        raise UserError(f"--simulate: design {design.name!r} uses model {design.model!r}, not acne")
    arms = {a.name: a for a in design.arms}
    if arm_name not in arms:
        raise UserError(
            f"--simulate: design {design.name!r} has no arm {arm_name!r}; arms: {', '.join(arms)}"
        )
    return design, arms[arm_name], None if name in builtin_designs() else Path(name)


def _guild_map_sha(path: Path | None) -> str:
    import hashlib
    from importlib import resources

    if path is not None:
        data = Path(path).read_bytes()
    else:
        data = (resources.files("gutskin.microbiome") / "data" / "guild_map.csv").read_bytes()
    return hashlib.sha256(data).hexdigest()


def _library_versions() -> dict[str, str]:
    import biom
    import skbio

    return {"scikit-bio": str(skbio.__version__), "biom-format": str(biom.__version__)}


def _summary(samples: Any) -> dict[str, Any]:
    import numpy as np

    out: dict[str, Any] = {"n_samples": len(samples)}
    for k in ("gut", "skin"):
        sub = samples[samples["kind"] == k]
        if not len(sub):
            continue
        cols = [c for c in sub.columns if c.startswith("shannon_")]
        part: dict[str, Any] = {"n": len(sub)}
        for c in [*cols, "simpson", "observed_features", "chao1"]:
            if c in sub and np.isfinite(sub[c]).any():
                part[f"mean_{c}"] = float(np.nanmean(sub[c]))
        for c in ("unmapped_fraction", "lumped_fraction", "other_fraction"):
            part[f"mean_{c}"] = float(sub[c].mean())
        if k == "gut":
            for g in ("gut_butyrate", "gut_bifido", "gut_lacto", "gut_bacteroidetes", "gut_proteo"):
                part[f"mean_{g}"] = float(sub[g].mean())
            di = sub["dysbiosis_index"].to_numpy(dtype=float)
            if np.isfinite(di).any():
                part["mean_dysbiosis_index"] = float(np.nanmean(di))
        else:
            for o in ("C_acnes", "S_epidermidis", "S_aureus"):
                part[f"mean_{o}"] = float(sub[o].mean())
        out[k] = part
    return out


def _print_summary(
    summary: dict[str, Any], settings: dict[str, Any], sim: Any, arm: str | None
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="microbiome profile (means over samples)")
    table.add_column("kind")
    table.add_column("quantity")
    table.add_column("mean", justify="right")
    for k in ("gut", "skin"):
        part = summary.get(k)
        if not part:
            continue
        table.add_row(k, "samples", str(part["n"]))
        for key, val in part.items():
            if key.startswith("mean_"):
                table.add_row(k, key.removeprefix("mean_"), f"{val:.4g}")
    Console().print(table)
    dropped = {k: v for k, v in settings.items() if k.startswith("dropped_") and v}
    if dropped:
        console.print(f"[yellow]dropped (--drop-empty): {dropped}")
    if sim is not None:
        v = sim.visits
        last = v["visit_week"].max()
        a = v[(v["condition"] == arm) & (v["visit_week"] == last)].set_index("sample_id")
        u = v[(v["condition"] == "untreated") & (v["visit_week"] == last)].set_index("sample_id")
        b = v[(v["condition"] == arm) & (v["visit_week"] == 0)].set_index("sample_id")
        eff = 100.0 * (a["inflammatory"] - u["inflammatory"]) / u["inflammatory"]
        console.print(
            f"{arm} vs untreated at week {last:g}: inflammatory lesions "
            f"{b['inflammatory'].mean():.1f} at baseline → {a['inflammatory'].mean():.1f} "
            f"(untreated {u['inflammatory'].mean():.1f}); per-sample effect "
            f"{eff.median():+.1f}% (median, range {eff.min():+.1f} to {eff.max():+.1f}%)"
        )


# ------------------------------------------------------------------------------ figures
_COLOURS = {
    "gut_butyrate": "#4c72b0",
    "gut_bifido": "#55a868",
    "gut_lacto": "#8fd175",
    "gut_bacteroidetes": "#c44e52",
    "gut_proteo": "#dd8452",
    "C_acnes": "#8172b3",
    "S_epidermidis": "#64b5cd",
    "S_aureus": "#da8bc3",
    "other_fraction": "#bbbbbb",
    "unmapped_fraction": "#eeeeee",
}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_guilds(samples: Any, path: Path) -> None:
    """Stacked bars of model guild / organism fractions, one panel per sample kind."""
    import numpy as np

    plt = _plt()
    kinds = [k for k in ("gut", "skin") if (samples["kind"] == k).any()]
    fig, axes = plt.subplots(
        len(kinds), 1, figsize=(min(14, 4 + 0.12 * len(samples)), 3.4 * len(kinds)), dpi=110
    )
    axes = np.atleast_1d(axes)
    for ax, k in zip(axes, kinds, strict=True):
        sub = samples[samples["kind"] == k]
        cols = (
            ["gut_butyrate", "gut_bifido", "gut_lacto", "gut_bacteroidetes", "gut_proteo"]
            if k == "gut"
            else ["C_acnes", "S_epidermidis", "S_aureus"]
        ) + ["other_fraction", "unmapped_fraction"]
        order = np.argsort(-sub[cols[0]].to_numpy())
        sub = sub.iloc[order]
        x = np.arange(len(sub))
        bottom = np.zeros(len(sub))
        for c in cols:
            v = sub[c].to_numpy(dtype=float)
            ax.bar(x, v, bottom=bottom, width=1.0, color=_COLOURS[c], label=c, linewidth=0)
            bottom += v
        ax.set_xlim(-0.5, len(sub) - 0.5)
        ax.set_ylim(0, 1)
        ax.set_ylabel("fraction of reads")
        ax.set_title(f"{k} samples (n = {len(sub)}): model guilds", fontsize=9)
        if len(sub) <= 60:
            ax.set_xticks(x, [str(s) for s in sub.index], rotation=90, fontsize=6)
        else:
            ax.set_xticks([])
            ax.set_xlabel("samples (sorted)")
        ax.legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_diversity(samples: Any, path: Path) -> None:
    """Alpha diversity (and the dysbiosis index for gut samples) by sample kind."""
    import numpy as np

    plt = _plt()
    metrics = [
        c
        for c in samples.columns
        if c.startswith("shannon_") or c in ("simpson", "observed_features", "chao1", "faith_pd")
    ]
    metrics = [m for m in metrics if np.isfinite(samples[m].to_numpy(dtype=float)).any()]
    if np.isfinite(samples["dysbiosis_index"].to_numpy(dtype=float)).any():
        metrics.append("dysbiosis_index")
    kinds = [k for k in ("gut", "skin") if (samples["kind"] == k).any()]
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.6 * len(metrics), 3.2), dpi=110)
    axes = np.atleast_1d(axes)
    rng = np.random.default_rng(0)
    for ax, m in zip(axes, metrics, strict=True):
        data = [samples.loc[samples["kind"] == k, m].dropna().to_numpy(dtype=float) for k in kinds]
        ax.boxplot(data, tick_labels=kinds, showfliers=False)
        for i, d in enumerate(data, start=1):
            ax.scatter(i + rng.uniform(-0.15, 0.15, d.size), d, s=8, alpha=0.6, color="#4c72b0")
        ax.set_title(m, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_simulation(sim: Any, samples: Any, arm: str, path: Path) -> None:
    """Expected inflammatory lesions per sample, treated vs untreated, and the effect."""
    import numpy as np

    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=110)
    t = sim.days
    treated, untreated = sim.inflammatory[arm], sim.inflammatory["untreated"]
    for i in range(treated.shape[0]):
        ax1.plot(t, untreated[i], color="#999999", lw=0.7, ls="--", alpha=0.6)
        ax1.plot(t, treated[i], color="#4c72b0", lw=0.8, alpha=0.7)
    ax1.plot([], [], color="#4c72b0", label=arm)
    ax1.plot([], [], color="#999999", ls="--", label="untreated")
    ax1.set_xlabel("day")
    ax1.set_ylabel("expected inflammatory lesions")
    ax1.legend(fontsize=8, frameon=False)
    ax1.set_title("each sample as a virtual patient", fontsize=9)
    with np.errstate(divide="ignore", invalid="ignore"):
        eff = 100.0 * (treated[:, -1] - untreated[:, -1]) / untreated[:, -1]
    kinds = samples["kind"].to_numpy()
    x = np.where(
        kinds == "gut",
        samples["dysbiosis_index"].to_numpy(dtype=float),
        samples["C_acnes"].to_numpy(dtype=float),
    )
    for k, marker in (("gut", "o"), ("skin", "s")):
        sel = kinds == k
        if sel.any():
            label = "gut: dysbiosis index" if k == "gut" else "skin: C. acnes fraction"
            ax2.scatter(x[sel], eff[sel], s=14, marker=marker, label=label)
    ax2.axhline(0, color="#999999", lw=0.7)
    ax2.set_xlabel("dysbiosis index (gut) / C. acnes fraction (skin)")
    ax2.set_ylabel(f"effect at day {t[-1]:g} vs untreated (%)")
    ax2.legend(fontsize=8, frameon=False)
    ax2.set_title(f"{arm}: per-sample effect", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
