"""Figures and a self-contained HTML report of a trial's results.

The report reads only ``results.json``-shaped data and the per-visit endpoint
table; it knows nothing of how they were made.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["forest_plot", "render_html", "responder_bars", "trajectory_plot", "write_figures"]

_LABELS = {
    "inflammatory": "Inflammatory lesions",
    "noninflammatory": "Non-inflammatory lesions",
    "total": "Total lesions",
    "gags": "GAGS (face)",
    "erythema": "Erythema index",
    "sebum": "Sebum",
    "rel_c_acnes": "C. acnes relative abundance",
    "rel_s_epidermidis": "S. epidermidis relative abundance",
    "gut_shannon": "Gut Shannon diversity (nats)",
}


def trajectory_plot(endpoints: pd.DataFrame, endpoint: str) -> plt.Figure:
    """Mean percent change from baseline by arm and visit with 95 % CI (t-based)."""
    from scipy import stats

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    ep = endpoints[endpoints["observed"]]
    base = ep[ep["visit_week"] == 0].set_index("patient")[endpoint]
    for arm, g in ep.groupby("arm", sort=False):
        xs: list[float] = []
        ms: list[float] = []
        lo: list[float] = []
        hi: list[float] = []
        for _wk, gv in g.groupby("visit_week"):
            b = base.reindex(gv["patient"]).to_numpy()
            ok = b > 0
            pct = 100.0 * (gv[endpoint].to_numpy()[ok] - b[ok]) / b[ok]
            if len(pct) < 2:
                continue
            m, se = pct.mean(), pct.std(ddof=1) / np.sqrt(len(pct))
            q = stats.t.ppf(0.975, len(pct) - 1)
            xs.append(float(gv["visit_week"].iloc[0]))
            ms.append(m)
            lo.append(m - q * se)
            hi.append(m + q * se)
        ax.plot(xs, ms, marker="o", label=str(arm))
        ax.fill_between(xs, lo, hi, alpha=0.15)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("week")
    ax.set_ylabel("% change from baseline")
    ax.set_title(f"{_LABELS.get(endpoint, endpoint)}: mean % change (95 % CI)", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def forest_plot(comparisons: Sequence[dict[str, Any]]) -> plt.Figure:
    """Estimates with 95 % CIs: one panel per endpoint × method (own scale), one row per arm.

    The null line is 0 for differences and 1 for rate ratios (``negbin``).
    """
    rows = [c for c in comparisons if c.get("estimate") is not None]
    groups: dict[tuple[str, str, float], list[dict[str, Any]]] = {}
    for c in rows:
        groups.setdefault((c["endpoint"], c["method"], c["visit_week"]), []).append(c)
    n_rows = sum(len(g) for g in groups.values())
    fig, axes = plt.subplots(
        max(len(groups), 1),
        1,
        figsize=(6.5, 0.32 * n_rows + 0.55 * max(len(groups), 1) + 0.6),
        dpi=110,
        squeeze=False,
        gridspec_kw={"height_ratios": [len(g) for g in groups.values()] or [1]},
    )
    for ax, ((endpoint, method, week), g) in zip(axes[:, 0], groups.items(), strict=False):
        for i, c in enumerate(g):
            y = len(g) - i
            ax.plot([c["ci_low"], c["ci_high"]], [y, y], color="C0")
            ax.plot(c["estimate"], y, "s", color="C0")
        ax.set_yticks(range(len(g), 0, -1))
        ax.set_yticklabels([str(c["arm"]) for c in g], fontsize=7)
        ax.set_ylim(0.4, len(g) + 0.6)
        ax.axvline(1.0 if method == "negbin" else 0.0, color="grey", lw=0.8)
        label = "rate ratio" if method == "negbin" else "difference"
        ax.set_title(
            f"{endpoint}, week {week:g}: {method} ({label} vs {g[0]['reference']})",
            fontsize=8,
            loc="left",
        )
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle("Comparisons with the reference arm (95 % CI)", fontsize=10)
    fig.tight_layout()
    return fig


def responder_bars(endpoints: pd.DataFrame, column: str = "iga_success") -> plt.Figure:
    """Responder proportion by arm at the last visit with Wilson 95 % CIs."""
    from statsmodels.stats.proportion import proportion_confint

    last = endpoints["visit_week"].max()
    g = endpoints[(endpoints["visit_week"] == last) & endpoints[column].notna()]
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=110)
    arms = list(dict.fromkeys(endpoints["arm"]))
    for i, arm in enumerate(arms):
        v = g.loc[g["arm"] == arm, column].to_numpy()
        k, n = int(v.sum()), len(v)
        if n == 0:
            continue
        lo, hi = proportion_confint(k, n, method="wilson")
        p = k / n
        ax.bar(i, 100 * p, color=f"C{i}")
        ax.errorbar(
            i,
            100 * p,
            yerr=[[100 * max(p - lo, 0.0)], [100 * max(hi - p, 0.0)]],
            color="k",
            capsize=4,
        )
    ax.set_xticks(range(len(arms)))
    ax.set_xticklabels(arms, fontsize=8, rotation=15)
    ax.set_ylabel("% responders")
    ax.set_title(f"{column} at week {last:g} (Wilson 95 % CI)", fontsize=10)
    fig.tight_layout()
    return fig


def write_figures(
    endpoints: pd.DataFrame, comparisons: Sequence[dict[str, Any]], out_dir: str | Path
) -> dict[str, Path]:
    """Save the standard trial figures as PNG; return name → path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figs: dict[str, plt.Figure] = {}
    for e in ("inflammatory", "noninflammatory", "total"):
        if e in endpoints:
            figs[f"trajectory_{e}"] = trajectory_plot(endpoints, e)
    figs["forest"] = forest_plot(comparisons)
    for col in ("iga_success", "gags_improved"):
        if col in endpoints:
            figs[f"responders_{col}"] = responder_bars(endpoints, col)
    paths = {}
    for name, fig in figs.items():
        p = out / f"{name}.png"
        fig.savefig(p)
        plt.close(fig)
        paths[name] = p
    return paths


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def _table(df: pd.DataFrame, cls: str) -> str:
    return df.to_html(
        index=False, classes=cls, float_format=lambda x: f"{x:.3g}", border=0, na_rep="—"
    )


def render_html(results: dict[str, Any], figures: dict[str, Path]) -> str:
    """A self-contained HTML report (figures inlined as base64 PNG)."""
    d = results["design"]
    esc = html.escape
    arms = pd.DataFrame(results["arms"])
    scr = results["screening"]
    flow = (
        f"<ol class='consort'><li>Screened: <b>{scr['n_screened']}</b></li>"
        f"<li>Excluded (did not meet entry criteria): <b>{scr['n_screened'] - scr['n_randomized']}"
        f"</b> ({100 * scr['screen_failure_rate']:.1f} %)</li>"
        f"<li>Randomized: <b>{scr['n_randomized']}</b><ul>"
        + "".join(
            f"<li>{esc(a['name'])}: randomized {a['n_randomized']}, completed {a['n_completed']}"
            f"</li>"
            for a in results["arms"]
        )
        + "</ul></li></ol>"
    )
    ep = pd.DataFrame(results["endpoints"])
    comp = pd.DataFrame(results["comparisons"])
    if "covariates" in comp.columns:
        comp["covariates"] = [", ".join(c) if c else "none" for c in comp["covariates"]]
    used = sorted({c for r in results["comparisons"] for c in r.get("covariates") or []})
    adjust_txt = ", ".join(used) if used else "none besides baseline"
    arm_rows = "".join(
        f"<tr><td>{esc(a['name'])}</td><td>{esc(a.get('description', ''))}</td><td>"
        + ", ".join(
            esc(f"{r['intervention']}" + (f" {r['dose']:g}" if r.get("dose") else ""))
            for r in a["regimens"]
        )
        + "</td></tr>"
        for a in d["arms"]
    )
    main_ep = (
        ep[ep["endpoint"].isin(["inflammatory", "noninflammatory", "total"])] if len(ep) else ep
    )
    figs = "".join(_img(p, name) for name, p in figures.items())
    warn_html = "".join(
        f"<p class='warning'><b>Warning:</b> {esc(w)}</p>" for w in results.get("warnings", [])
    )
    failures = results.get("solver_failures") or {}
    fail_txt = (", ".join(f"{k}: {v}" for k, v in failures.items())) or "none"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>gutskin trial report — {esc(d["name"])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }}
th, td {{ padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; }}
th {{ background: #f3f3f3; }} td:first-child, th:first-child {{ text-align: left; }}
figure {{ display: inline-block; margin: 0.5em; }} img {{ max-width: 480px; }}
.note {{ color: #666; font-size: 0.85em; }}
.warning {{ background: #fff4e5; border-left: 4px solid #e67e22; padding: 0.4em 0.8em; }}
</style></head><body>
<h1>In-silico trial: {esc(d.get("title") or d["name"])}</h1>
<p class="note">gutskin {esc(results["gutskin_version"])} · seed {results["seed"]} ·
model {esc(d["model"])} · {d["duration_weeks"]:g} weeks · visits at weeks
{", ".join(f"{w:g}" for w in d["visits_weeks"])} · randomization {esc(d["randomization"]["method"])}
· missing data: {esc(d["analysis"]["missing"])} (mmrm: observed data, MAR)
· covariates: {esc(adjust_txt)} · solver failures: {esc(fail_txt)}</p>
<p class="note">{esc(d.get("reference", ""))}</p>
{warn_html}
<h2>Design</h2>
<table class="design"><tr><th>arm</th><th>description</th><th>regimens</th></tr>{arm_rows}</table>
<h2>Participant flow (CONSORT-style)</h2>{flow}
{_table(arms, "arms")}
<h2>Lesion endpoints by arm and visit</h2>
{_table(main_ep, "endpoints") if len(main_ep) else "<p>none</p>"}
<h2>Comparisons with the reference arm</h2>
{_table(comp, "comparisons") if len(comp) else "<p>none</p>"}
<h2>Figures</h2>
<div class="figures">{figs}</div>
<h2>All endpoints</h2>
{_table(ep, "all-endpoints") if len(ep) else "<p>none</p>"}
</body></html>
"""
