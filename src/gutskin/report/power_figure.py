"""Power curve figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

__all__ = ["plot_assurance", "plot_power"]


def plot_power(power: pd.DataFrame, path: str | Path, *, target: float = 0.8) -> Path:
    """Power (with 95 % CI) against total sample size, one line per comparison."""
    fig, ax = plt.subplots(figsize=(6.5, 4), dpi=110)
    for key, g in power.groupby(["endpoint", "method", "arm"], sort=False):
        g = g.sort_values("n")
        ax.errorbar(
            g["n"],
            g["power"],
            yerr=[g["power"] - g["ci_low"], g["ci_high"] - g["power"]],
            marker="o",
            capsize=3,
            label=" · ".join(map(str, key)),
        )
    ax.axhline(target, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("total sample size")
    ax.set_ylabel("power")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("Power by simulation (Clopper–Pearson 95 % CI)", fontsize=10)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def plot_assurance(summary: pd.DataFrame, path: str | Path, *, target: float = 0.8) -> Path:
    """Assurance, the point-estimate power and the 80 % band of power across parameter draws,
    against total sample size, one colour per comparison."""
    fig, ax = plt.subplots(figsize=(6.5, 4), dpi=110)
    for k, (key, g) in enumerate(summary.groupby(["endpoint", "method", "arm"], sort=False)):
        g = g.sort_values("n")
        colour = f"C{k % 10}"
        label = " · ".join(map(str, key))
        ax.fill_between(g["n"], g["power_q10"], g["power_q90"], color=colour, alpha=0.18, lw=0)
        ax.plot(g["n"], g["assurance"], marker="o", color=colour, label=f"{label}: assurance")
        ax.plot(g["n"], g["point_power"], ls=":", color=colour, label=f"{label}: point power")
    ax.axhline(target, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("total sample size")
    ax.set_ylabel("probability of success")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, frameon=False)
    ax.set_title(
        "Assurance (power averaged over parameter uncertainty); band: 80 % of draws",
        fontsize=9,
    )
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
