"""The validation report: Markdown, figures and the digests of its inputs.

:func:`render_markdown` writes ``docs/validation.md`` from the target checks, with the
known structural reasons (:data:`KNOWN_LIMITS`) next to every target not met;
:func:`figures` draws ``docs/figures/validation_*.png``; :func:`input_digests` records the
data files the report depends on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from gutskin.calibrate.checks import TargetCheck
from gutskin.calibrate.targets import Target, TargetSet

__all__ = ["KNOWN_LIMITS", "digest_line", "figures", "input_digests", "render_markdown"]

#: Known structural reasons for targets the model does not meet (from the calibration
#: analysis in docs/calibration.md); shown next to any target outside its tolerance.
KNOWN_LIMITS: dict[str, str] = {
    "rinaldi2022_placebo": (
        "The placebo response comes from care seeking in an active phase of disease activity "
        "(regression afterwards) plus a 3 % expectation bias. Rinaldi's capped, mild entry "
        "window (IGA 2-3, <= 30 inflammatory lesions, no nodule) and 8-week duration keep it "
        "small, and per trial it is very noisy (28-29 patients per arm)."
    ),
    "rinaldi2022_botanicals": (
        "Trade-off with the combination arm: Rinaldi's combination (-56.7 %) is less than "
        "independent action of the botanical and probiotic arms; bot_pb_interaction (assumed, "
        "fitted) attenuates the botanical when probiotics are present."
    ),
    "rinaldi2022_arm_ordering": (
        "Botanicals and probiotics are 1.1 points apart in the data; the simulated means can "
        "swap within the tie tolerance."
    ),
    "rinaldi2022_direction_s_aureus": (
        "Relative abundance: the probiotics cut C. acnes, the dominant taxon, so S. aureus' "
        "share falls less than its density; the botanical lowers the inflammation-raised S. "
        "aureus capacity without cutting C. acnes as much, so the botanical arm can show the "
        "largest relative decrease."
    ),
    "sarecycline_sc1401_placebo_inflammatory": (
        "Placebo response = care seeking x disease-activity regression + expectation bias "
        "(both fitted on the placebo/vehicle arms)."
    ),
    "sarecycline_sc1402_placebo_inflammatory": "As SC1401 (same design).",
    "sarecycline_sc1401_placebo_iga_success": (
        "IGA is graded from counts with cut points (iga_cut_2 fitted); one set of cuts has to "
        "fit phase 3 entry (IGA 3 at 20-50 inflammatory lesions) and control-arm success at "
        "once, which makes 'almost clear' generous (<= 17 weighted lesions)."
    ),
    "sarecycline_sc1402_placebo_iga_success": (
        "Oral placebo arms improve less in the model than topical vehicle arms (no skin-care "
        "input: -16 % inflammatory lesions against the observed -35 %, inside that target's "
        "wide band), so the one IGA cut point that keeps the vehicle arms' success inside "
        "their bands (Lamel, Tanghetti) leaves the oral placebo's success at about 0.08: "
        "inside SC1401's band, below SC1402's. Lowering activity_sd to 0.45 for the spread "
        "bound (issue 30, session 8) cost this target (0.14 at 0.8); raising iga_cut_2 to 19 "
        "would put Lamel's vehicle success above its band."
    ),
    "tanghetti2020_vehicle_noninflammatory_change": (
        "Comedones improve less under vehicle than observed: the vehicle acts only through "
        "skin care on occlusion clearance (skincare_occlusion, at its upper bound), a slow "
        "route through microcomedones to comedones; the inflammatory change of the same arm "
        "is met."
    ),
    "tanghetti2020_baseline_inflammatory": (
        "Inside the same count windows, screened virtual patients have more lesions than the "
        "trial's (and a wider spread): the model's severity distribution falls off more "
        "slowly above 20 inflammatory lesions than this trial population's. Between-patient "
        "CVs move it little (immune_reactivity CV 0.6 -> 0.35: mean 32.8 -> 32.9); the "
        "design's count windows are assumed (the paper reports EGSS 3-4 at entry)."
    ),
    "tanghetti2020_baseline_noninflammatory": "As the inflammatory baseline.",
    "clascoterone_pooled_vehicle_iga_success": "As the sarecycline IGA success targets.",
    "lamel2015_vehicle_success": "As the sarecycline IGA success targets.",
    "yan2018_actinobacteria_ratio": (
        "Lesion status depends mainly on sebum, keratinisation and IGF-1; the gut contrast "
        "between lesion-defined groups comes from the assumed shared cause of IGF-1 and "
        "dysbiosis (rho_diet_igf1_dysbiosis), while the plasma IL-8 contrast and the "
        "probiotic arms bound how strongly the gut can drive the skin."
    ),
    "yan2018_proteobacteria_ratio": "As the Actinobacteria ratio.",
    "deng2018_gut_shannon_lower": "As the Yan gut contrasts (weak dysbiosis-lesion coupling).",
    "leyden1975_c_acnes_density": (
        "The acne/normal C. acnes density contrast rises with cac_sebum_exponent (1.0 gives "
        "1.36 log10, the calibrated 2.0 about 1.8, 2.5 about 2.0); steeper values let the "
        "probiotic arm of Rinaldi 2022 overtake the botanical arm."
    ),
}


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    return f"{x:.{digits}g}"


def _obs(t: Target) -> str:
    if t.range is not None:
        return f"{t.range[0]:g} to {t.range[1]:g}"
    if t.observed is not None:
        return f"{t.observed:g}"
    if "direction" in t.options:
        return str(t.options["direction"])
    if "order" in t.options:
        return " < ".join(t.options["order"])
    return "–"


def input_digests(targets: Path | None, fitted: Path | None) -> dict[str, str]:
    """First 12 hex digits of the SHA-256 of every data file the report depends on.

    The model files (``parameters.csv``, ``acne_model.yaml``, ``strains.yaml``), the
    targets file and the fitted-parameter file (``"none"`` when absent).  A test compares
    them with the line the report records, so a data change without ``make validate``
    is caught cheaply (code changes are not covered).
    """
    from gutskin.calibrate.targets import default_targets_path

    model_data = Path(__file__).parents[1] / "model" / "data"
    files = {
        "parameters.csv": model_data / "parameters.csv",
        "acne_model.yaml": model_data / "acne_model.yaml",
        "strains.yaml": model_data / "strains.yaml",
        "targets": Path(targets) if targets is not None else default_targets_path(),
        "fitted": Path(fitted) if fitted is not None else None,
    }
    out = {}
    for key, path in files.items():
        if path is None or not path.exists():
            out[key] = "none"
        else:
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return out


def digest_line(digests: Mapping[str, str]) -> str:
    """The report line recording :func:`input_digests`."""
    return "Inputs (SHA-256, first 12 hex digits): " + ", ".join(
        f"{k} `{v}`" for k, v in digests.items()
    )


def render_markdown(
    ts: TargetSet,
    checks: list[TargetCheck],
    params: pd.DataFrame | None,
    *,
    replicates: int,
    rinaldi_replicates: int,
    seed: int,
    seconds: float,
    figures: list[str],
    parameter_source: str,
    digests: Mapping[str, str] | None = None,
) -> str:
    """The validation report as Markdown."""
    n_met = sum(c.status == "met" for c in checks)
    lines = [
        "# Validation report",
        "",
        "<!-- Generated by `python -m gutskin.calibrate.validate` (make validate); "
        "do not edit by hand. -->",
        "",
        f"Parameters: {parameter_source}. Targets file: `{_rel(ts.path)}`.",
        "",
        *([digest_line(digests), ""] if digests else []),
        f"Each target is simulated with its own design. Trial targets: mean and 95 % interval "
        f"(2.5th-97.5th percentile) over **{replicates} replicate trials** at the design's "
        f"sample size (Rinaldi 2022 targets: **{max(replicates, rinaldi_replicates)} "
        f"replicates**), drawn from one virtual population per design (patients simulated "
        f"once; each replicate screens, randomizes, observes and loses patients anew; "
        f"`gutskin.trial.pool`); cohort and population targets: {replicates} replicate "
        f"cohorts. Replicate r uses seed `replicate_seed({seed}, r)`. "
        f"Run time {seconds / 60:.1f} min.",
        "",
        f"**{n_met} of {len(checks)} targets met**; "
        f"{sum(c.status == 'not met' for c in checks)} not met, "
        f"{sum(c.status == 'not represented' for c in checks)} not represented by the model. "
        "A target is met when the simulated mean lies inside its acceptance band "
        "(observed ± tolerance, or the reported range); the 95 % interval shows "
        "trial-to-trial spread at the real sample size.",
        "",
    ]
    groups: dict[str, list[TargetCheck]] = {}
    for c in checks:
        groups.setdefault(c.target.group or "other", []).append(c)
    for g, cs in groups.items():
        lines += [f"## {g.replace('_', ' ').capitalize()}", ""]
        lines += [
            "| target | observed | simulated mean | 95 % interval | status | detail |",
            "|---|---|---|---|---|---|",
        ]
        for c in cs:
            t = c.target
            if c.per_arm is not None:
                sim = ", ".join(f"{a} {v:+.1f} %" for a, v in c.per_arm.items())
                iv = "–"
            else:
                sim, iv = (
                    _fmt(c.mean),
                    (f"{_fmt(c.lo)} to {_fmt(c.hi)}" if c.lo is not None else "–"),
                )
            status = {"met": "✅ met", "not met": "❌ not met"}.get(c.status, "⚪ not represented")
            detail = c.detail
            if c.status == "not met" and t.id in KNOWN_LIMITS:
                detail += f". Reason: {KNOWN_LIMITS[t.id]}"
            lines.append(
                f"| `{t.id}`{' (fitted)' if t.fit else ''} | {_obs(t)} | {sim} | {iv} | "
                f"{status} | {detail} |"
            )
        lines.append("")
    lines += ["## Targets not met or not represented", ""]
    bad = [c for c in checks if c.status != "met"]
    for c in bad:
        why = c.target.reason or KNOWN_LIMITS.get(c.target.id, "outside its tolerance; see table")
        lines.append(f"- `{c.target.id}` ({c.status}): {why}")
    if not bad:
        lines.append("None.")
    lines += ["", "## Fitted parameters", ""]
    if params is None or params.empty:
        lines.append("No fitted parameter file: the parameter table values were validated.")
    else:
        lines += [
            "| parameter | fitted | table value | bounds | 95 % slice interval | flags |",
            "|---|---|---|---|---|---|",
        ]
        for _, r in params.iterrows():
            flags = []
            if bool(r["at_bound"]):
                flags.append("**at bound**")
            if not bool(r["identifiable"]):
                flags.append("**not identifiable**")
            if not np.isfinite(float(r["ci95_low"])):
                flags.append("interval not recomputed since the refit")
            lines.append(
                f"| `{r['name']}` | {r['value']:.4g} | {r['nominal']:.4g} | "
                f"[{r['lower']:.4g}, {r['upper']:.4g}] | "
                f"{_fmt(r['ci95_low'])} to {_fmt(r['ci95_high'])} | {', '.join(flags) or 'ok'} |"
            )
        lines += [
            "",
            "Intervals are one-at-a-time objective slices (J - J_min <= 3.84), not full profiles; "
            "see docs/calibration.md.",
        ]
    lines += ["", "## Figures", ""]
    lines += [f"![{Path(f).stem}](figures/{Path(f).name})" for f in figures]
    lines.append("")
    return "\n".join(lines)


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return p.name


def figures(checks: list[TargetCheck], folder: Path) -> list[str]:
    """``validation_*.png``: Rinaldi arms, placebo responses, other quantitative targets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    panels = {
        "validation_rinaldi2022.png": lambda c: (
            c.target.group == "probiotic_trial" and c.per_arm is None
        ),
        "validation_placebo.png": lambda c: (
            c.target.group
            in ("placebo_response", "trial_baseline", "placebo_spread", "retinoid_trial")
        ),
        "validation_mechanistic.png": lambda c: (
            c.target.group in ("mechanistic", "relation", "observational", "sebaceous")
            and c.mean is not None
            and c.target.quantitative
        ),
    }
    for fname, pick in panels.items():
        cs = [
            c
            for c in checks
            if pick(c)
            and c.mean is not None
            and c.lo is not None
            and c.hi is not None
            and c.target.quantitative
        ]
        if not cs:
            continue
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(cs) + 1.4))
        for i, c in enumerate(cs):
            t = c.target
            band = t.band()
            # normalise each target by its scale so different units share an axis
            scale = max(abs(t.observed or 0.0), abs((t.range or (0, 0))[1]), 1e-9)
            lo, hi = band if band else (np.nan, np.nan)
            ax.plot([lo / scale, hi / scale], [i, i], c="0.75", lw=6, solid_capstyle="butt")
            if t.observed is not None:
                ax.plot(t.observed / scale, i, "k|", ms=14, mew=2)
            col = "C2" if c.status == "met" else "C3"
            m, clo, chi = float(c.mean or 0.0), float(c.lo or 0.0), float(c.hi or 0.0)
            ax.errorbar(
                m / scale,
                i,
                xerr=[[max(m - clo, 0) / scale], [max(chi - m, 0) / scale]],
                fmt="o",
                c=col,
                capsize=3,
            )
        ax.set_yticks(range(len(cs)), [c.target.id for c in cs], fontsize=7)
        ax.set_xlabel(
            "value / |observed|  (grey: acceptance band, black: observed, "
            "dot: simulated mean with 95 % interval)",
            fontsize=7,
        )
        ax.invert_yaxis()
        fig.tight_layout()
        fig.savefig(folder / fname, dpi=110)
        plt.close(fig)
        made.append(fname)
    dirs = [(c, c.per_arm) for c in checks if c.per_arm is not None]
    if dirs:
        fig, ax = plt.subplots(figsize=(7, 0.5 * len(dirs) + 1.4))
        arms = sorted({a for _, per in dirs for a in per})
        w = 0.8 / len(arms)
        for j, a in enumerate(arms):
            ax.barh(
                np.arange(len(dirs)) + (j - len(arms) / 2) * w,
                [per.get(a, np.nan) for _, per in dirs],
                w,
                label=a,
            )
        ax.axvline(0, c="k", lw=0.8)
        ax.set_yticks(range(len(dirs)), [c.target.id for c, _ in dirs], fontsize=7)
        ax.set_xlabel("simulated % change from baseline (mean over replicates)")
        ax.legend(fontsize=7)
        ax.invert_yaxis()
        fig.tight_layout()
        fig.savefig(folder / "validation_directions.png", dpi=110)
        plt.close(fig)
        made.append("validation_directions.png")
    return made
