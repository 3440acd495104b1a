"""Apply a design's analysis plan to a simulated trial and shape ``results.json``."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from gutskin._version import __version__
from gutskin.trial.design import Comparison
from gutskin.trial.result import TrialResult

__all__ = ["analyse_trial", "results_dict"]


def analyse_trial(
    result: TrialResult, *, comparisons: list[Comparison] | None = None, summary: bool = True
) -> TrialResult:
    """A copy of ``result`` with ``summary`` and ``comparisons`` from the design's plan.

    ``comparisons`` replaces the design's planned list (a power run analyses the primary
    comparison only); ``summary=False`` skips the descriptive table.
    """
    from gutskin.trial.statistics import compare
    from gutskin.trial.summaries import describe

    design = result.design
    ep = result.endpoints
    table = describe(ep, list(design.endpoints)) if summary else None
    covariates = design.analysis_covariates()
    if "baseline_iga" in covariates:  # the severity stratum: baseline IGA grade, categorical
        base = ep.loc[ep["visit_week"] == 0].set_index("patient")["iga"]
        ep = ep.assign(
            baseline_iga=ep["patient"].map(base).map(lambda g: f"{g:g}" if g == g else None)
        )
    ref = design.reference_arm
    comps: list[dict[str, Any]] = []
    for c in comparisons if comparisons is not None else design.resolved_comparisons():
        for arm in design.arms:
            if arm.name == ref:
                continue
            comps.append(
                compare(
                    ep,
                    endpoint=c.endpoint,
                    visit_week=float(c.visit_week if c.visit_week is not None else 0.0),
                    arm=arm.name,
                    reference=ref,
                    method=c.method,
                    missing=design.analysis.missing,
                    covariates=covariates,
                    seed=result.seed,
                    alpha=design.analysis.alpha,
                )
            )
    return dataclasses.replace(result, summary=table, comparisons=comps)


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):
        return _clean(v.item())
    return v


def results_dict(result: TrialResult) -> dict[str, Any]:
    """The documented ``results.json`` content (see README, section Trial outputs)."""
    design = result.design
    summary = result.summary
    endpoints = []
    if summary is not None:
        order = {a.name: i for i, a in enumerate(design.arms)}
        eorder = {e: i for i, e in enumerate(design.endpoints)}
        summary = summary.assign(
            _e=summary["endpoint"].map(eorder), _a=summary["arm"].map(order)
        ).sort_values(["_e", "visit_week", "_a"], kind="stable")
        keep = [
            "endpoint",
            "visit_week",
            "arm",
            "n",
            "mean",
            "sd",
            "change_mean",
            "pct_change_mean",
            "pct_change_of_means",
        ]
        for rec in summary[[k for k in keep if k in summary.columns]].to_dict("records"):
            endpoints.append({k: _clean(v) for k, v in rec.items()})
    comparisons = [{k: _clean(v) for k, v in c.items()} for c in result.comparisons]
    return {
        "gutskin_version": __version__,
        "seed": result.seed,
        "design": design.model_dump(mode="json"),
        "screening": {
            "n_screened": result.n_screened,
            "n_randomized": len(result.patients),
            "screen_failure_rate": round(result.screen_failure_rate, 6),
        },
        "solver_failures": result.solver_failures,
        "arms": result.arms_table(),
        "adverse_events": result.adverse_events(),
        "endpoints": endpoints,
        "comparisons": comparisons,
        "warnings": trial_warnings(result),
    }


def trial_warnings(result: TrialResult) -> list[str]:
    """Plain-language warnings a reader of the results must see (also shown in the report)."""
    out: list[str] = []
    design = result.design
    if len(design.arms) < 2:
        out.append(
            f"one-arm trial ({design.arms[0].name}): there is no reference arm, so no "
            "comparison, p-value or verdict is made; only within-arm summaries are reported"
        )
    if result.solver_failures:
        n = sum(result.solver_failures.values())
        out.append(f"{n} patient(s) had solver failures and are not observed after baseline")
    return out
