"""Files and figures of a sensitivity analysis (``indices.csv``, figures, provenance).

``write_outputs`` fills an output folder atomically (see
:func:`gutskin.io.outdir.atomic_output_dir`):

=========================  ==============================================================
file                       content
=========================  ==============================================================
``indices.csv``            one row per output day × factor (× second factor) × index:
                           ``outcome, day, factor, factor2, index, value, conf, ci_low,
                           ci_high, n_used, conf_level`` (``n_used``: evaluations the
                           estimate used; blocks with a failed solve are left out)
``factors.csv``            the factors: kind, target, bounds, scale, nominal, unit, group
``evaluations.parquet``    every evaluated sample: physical factor values and the outcome
                           per day (``day_<d>`` columns), for re-analysis
``figures/indices.png``    bar chart of the indices at the last output day, with CIs
``figures/indices_time.png``  time-resolved outcomes: heatmap of the main index per day
``figures/indices_lines.png`` and lines (with CI bands) of the leading factors
``figures/outcome.png``    the outcome over the samples (median, 5–95 %) and at nominal
``figures/morris.png``     Morris ``mu_star`` vs ``sigma`` (Morris only)
``provenance.json``        version, seed, command, design/factors file hashes, the plan,
                           sample sizes, solver work and failures, timings
=========================  ==============================================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from gutskin.sensitivity.driver import SensitivityResult
from gutskin.sensitivity.factors import factor_table
from gutskin.sensitivity.methods import get_method
from gutskin.sensitivity.plan import Plan

__all__ = [
    "plot_indices",
    "plot_morris",
    "plot_outcome",
    "plot_time_resolved",
    "write_outputs",
]

#: Most factors shown in a figure (all are in ``indices.csv``).
MAX_SHOWN = 25
_COLORS = {"S1": "#9ecae1", "ST": "#08519c", "mu_star": "#08519c", "pawn": "#08519c"}


def _label(res: SensitivityResult) -> str:
    if res.outcome is None:
        return "outcome"
    unit = f" [{res.outcome.unit}]" if res.outcome.unit not in ("", "1") else ""
    return f"{res.outcome.text}{unit}"


def _day_text(day: float) -> str:
    return "" if math.isnan(day) else f", day {day:g}"


def plot_indices(
    res: SensitivityResult, path: Path, *, day: float | None = None, top: int = MAX_SHOWN
) -> Path:
    """Horizontal bar chart of the indices at ``day`` (default: last) with CI whiskers.

    Sobol' shows ``S1`` and ``ST`` side by side; Morris ``mu_star``; PAWN ``pawn``.
    Factors are sorted by the method's main index; at most ``top`` are shown.
    """
    m = get_method(res.method)
    d = res.days[-1] if day is None else day
    df = res.indices
    if not math.isnan(d):
        df = df[np.isclose(df["day"].to_numpy(dtype=float), d)]
    main = df[df["index"] == m.main_index].sort_values("value", ascending=False)
    order = main["factor"].tolist()[:top]
    n = len(order)
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.32 * n * max(1, len(m.plotted)) ** 0.5))
    width = 0.8 / len(m.plotted)
    ypos = np.arange(n)
    for k, name in enumerate(m.plotted):
        sub = df[df["index"] == name].set_index("factor").reindex(order)
        val = sub["value"].to_numpy(dtype=float)
        lo = np.clip(val - sub["ci_low"].to_numpy(dtype=float), 0, None)
        hi = np.clip(sub["ci_high"].to_numpy(dtype=float) - val, 0, None)
        off = (k - (len(m.plotted) - 1) / 2) * width
        ax.barh(
            ypos + off,
            val,
            height=width,
            xerr=np.vstack([np.nan_to_num(lo), np.nan_to_num(hi)]),
            color=_COLORS.get(name, "#3182bd"),
            ecolor="#444444",
            capsize=2,
            label=name,
        )
    ax.set_yticks(ypos, order, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.6)
    unit = "" if m.name != "morris" else f" ({res.outcome.unit if res.outcome else ''})"
    ax.set_xlabel(f"{'/'.join(m.plotted)}{unit}, {res.info.get('conf_level', 0.95):.0%} CI")
    ax.set_title(f"{m.name}: {_label(res)}{_day_text(d)}", fontsize=9)
    if len(m.plotted) > 1:
        ax.legend(fontsize=8, loc="lower right")
    if len(main) > top:
        ax.text(
            0.99,
            0.01,
            f"top {top} of {len(main)}",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            color="#666666",
        )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def plot_time_resolved(
    res: SensitivityResult, heatmap: Path, lines: Path, *, top: int = 20, n_lines: int = 6
) -> tuple[Path, Path]:
    """Heatmap (factor × day) of the main index and lines of the leading factors with CIs."""
    m = get_method(res.method)
    df = res.indices[res.indices["index"] == m.main_index]
    table = df.pivot_table(
        index="factor", columns="day", values="value", aggfunc="first", dropna=False
    )
    score = table.max(axis=1).sort_values(ascending=False)
    rows = score.index.tolist()[:top]
    table = table.loc[rows]
    fig, ax = plt.subplots(figsize=(7.5, 1.4 + 0.3 * len(rows)))
    vmax = float(np.nanmax(table.to_numpy())) if np.isfinite(table.to_numpy()).any() else 1.0
    im = ax.imshow(
        table.to_numpy(dtype=float), aspect="auto", cmap="viridis", vmin=0, vmax=max(vmax, 1e-12)
    )
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    days = [float(c) for c in table.columns]
    ax.set_xticks(range(len(days)), [f"{d:g}" for d in days], fontsize=8)
    ax.set_xlabel("day")
    fig.colorbar(im, ax=ax, label=m.main_index)
    ax.set_title(f"{m.name} {m.main_index} over time: {_label(res)}", fontsize=9)
    fig.tight_layout()
    heatmap.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(heatmap, dpi=130)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for name in rows[:n_lines]:
        sub = df[df["factor"] == name].sort_values("day")
        d = sub["day"].to_numpy(dtype=float)
        (ln,) = ax.plot(d, sub["value"], marker="o", ms=3, label=name)
        ax.fill_between(
            d,
            sub["ci_low"].to_numpy(dtype=float),
            sub["ci_high"].to_numpy(dtype=float),
            color=ln.get_color(),
            alpha=0.15,
            lw=0,
        )
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xlabel("day")
    ax.set_ylabel(f"{m.main_index} ({res.info.get('conf_level', 0.95):.0%} CI)")
    ax.set_title(f"leading factors over time: {_label(res)}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(lines, dpi=130)
    plt.close(fig)
    return heatmap, lines


def plot_outcome(res: SensitivityResult, path: Path) -> Path:
    """The outcome over the factor samples (median, 5–95 %) and at nominal values."""
    days = np.asarray(res.days, dtype=float)
    y = res.y
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    with np.errstate(all="ignore"):
        q = np.nanpercentile(y, [5, 50, 95], axis=0)
    if len(days) > 1:
        ax.fill_between(days, q[0], q[2], color="#9ecae1", alpha=0.6, label="5–95 % of samples")
        ax.plot(days, q[1], color="#08519c", label="median of samples")
        if np.isfinite(res.nominal).any():
            ax.plot(days, res.nominal, "k--", label="nominal factors")
        ax.set_xlabel("day")
    else:
        ax.hist(y[:, 0][np.isfinite(y[:, 0])], bins=40, color="#6baed6")
        if np.isfinite(res.nominal).any():
            ax.axvline(float(res.nominal[0]), color="black", ls="--", label="nominal factors")
        ax.set_xlabel(_label(res))
        ax.set_ylabel("samples")
    ax.set_title(f"outcome over {y.shape[0]} factor samples", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def plot_morris(res: SensitivityResult, path: Path, *, top: int = 12) -> Path:
    """Morris ``mu_star`` against ``sigma`` at the last day (Campolongo et al. 2007)."""
    d = res.days[-1]
    df = res.indices
    if not math.isnan(d):
        df = df[np.isclose(df["day"].to_numpy(dtype=float), d)]
    tab = df.pivot_table(
        index="factor", columns="index", values="value", aggfunc="first", dropna=False
    ).reindex(columns=["mu_star", "sigma"])
    fig, ax = plt.subplots(figsize=(6.0, 4.5))
    ax.scatter(tab["mu_star"], tab["sigma"], s=14, color="#08519c")
    for name in tab["mu_star"].dropna().sort_values(ascending=False).index[:top]:
        ax.annotate(name, (tab.loc[name, "mu_star"], tab.loc[name, "sigma"]), fontsize=7)
    ax.set_xlabel("mu_star (importance)")
    ax.set_ylabel("sigma (non-linearity / interactions)")
    ax.set_title(f"Morris: {_label(res)}{_day_text(d)}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def indices_table(res: SensitivityResult) -> pd.DataFrame:
    """``indices.csv`` content: the indices with the outcome name and confidence level."""
    df = res.indices.copy()
    df.insert(0, "outcome", res.outcome.text if res.outcome else "")
    df["conf_level"] = res.info.get("conf_level", 0.95)
    return df


def evaluations_table(res: SensitivityResult) -> pd.DataFrame:
    """Every evaluated sample: factor values (physical units) and outcome per day."""
    data: dict[str, Any] = {f.name: res.x_physical[:, j] for j, f in enumerate(res.factors)}
    for t, d in enumerate(res.days):
        data[f"day_{d:g}" if not math.isnan(d) else "y"] = res.y[:, t]
    return pd.DataFrame(data)


def write_outputs(
    res: SensitivityResult,
    out: str | Path,
    *,
    plan: Plan | None = None,
    started: str,
    extra: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write indices, factors, evaluations, figures and provenance into ``out`` atomically.

    Parameters
    ----------
    res : SensitivityResult
        The analysis.
    out : path
        Output folder: new or empty, or an earlier gutskin output when ``overwrite``
        (see :mod:`gutskin.io.outdir`).
    plan : Plan, optional
        The plan (recorded in provenance; its design and factors files are hashed).
    started : str
        Start time (ISO 8601).
    extra : mapping, optional
        More provenance fields.
    overwrite : bool
        Replace an earlier gutskin output in ``out``.

    Returns
    -------
    Path
        The output folder.
    """
    from importlib.metadata import version

    from gutskin.io.outdir import atomic_output_dir
    from gutskin.io.provenance import provenance_record, write_provenance

    inputs: dict[str, str | Path] = {}
    if plan is not None and plan.design_file is not None:
        inputs["design"] = plan.design_file
    if plan is not None and plan.factors_file is not None:
        inputs["factors"] = plan.factors_file
    record_extra: dict[str, Any] = {
        "analysis": plan.describe() if plan is not None else {},
        "result": res.info,
        "nominal_outcome": {f"{d:g}": float(v) for d, v in zip(res.days, res.nominal, strict=True)},
        "salib": version("SALib"),
        "evaluation_design": (
            "fixed cohort with common random numbers: every factor sample is applied to the "
            "same patients (parameters, noise paths, dosing days, measurement uniforms); "
            "the outcome is the cohort statistic"
        ),
    }
    record_extra.update(extra or {})
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        indices_table(res).to_csv(tmp / "indices.csv", index=False)
        pd.DataFrame(factor_table(res.factors)).to_csv(tmp / "factors.csv", index=False)
        evaluations_table(res).to_parquet(tmp / "evaluations.parquet", index=False)
        figs = tmp / "figures"
        plot_indices(res, figs / "indices.png")
        plot_outcome(res, figs / "outcome.png")
        if len(res.days) > 1:
            plot_time_resolved(res, figs / "indices_time.png", figs / "indices_lines.png")
        if res.method == "morris":
            plot_morris(res, figs / "morris.png")
        write_provenance(
            tmp,
            provenance_record(
                seed=plan.seed if plan is not None else res.info.get("seed"),
                started=started,
                inputs=inputs or None,
                extra=record_extra,
            ),
        )
    return Path(out)
