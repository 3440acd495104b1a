"""The outcome of one simulated trial: :class:`TrialResult` (frozen once made)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from gutskin.population.pipeline import Baseline
from gutskin.trial.design import Design

__all__ = ["AE_DRY_SKIN", "AE_SHANNON_DROP", "TrialResult"]

#: Adverse-event-like flags (assumed thresholds, documented in docs/design-file.md):
#: dry skin = observed sebum below this fraction of baseline (retinoid/isotretinoin xerosis);
AE_DRY_SKIN = 0.5
#: gut diversity loss = observed gut Shannon below baseline minus this many nats.
AE_SHANNON_DROP = 0.15


@dataclass(frozen=True)
class TrialResult:
    """Everything a trial produced.

    ``endpoints`` has one row per randomized patient × visit; ``patients`` one
    row per randomized patient (covariates, arm, dropout, solver status).
    ``summary`` and ``comparisons`` are filled by
    :func:`gutskin.trial.analysis.analyse_trial`, which returns a new result; a
    result is never changed after it is made.
    """

    design: Design
    seed: int
    endpoints: pd.DataFrame
    patients: pd.DataFrame
    n_screened: int
    solver_failures: dict[str, int] = field(default_factory=dict)
    #: Candidates simulated through the burn-in (those who came forward or not).
    n_candidates: int = 0
    summary: pd.DataFrame | None = None
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    #: The randomized patients at their baseline (parameters and day-0 states), so a job
    #: that continues them (sensitivity) does not burn them in again; None when the
    #: result was not simulated in this process (e.g. a pooled replicate).
    baseline: Baseline | None = field(default=None, repr=False, compare=False)

    @property
    def screen_failure_rate(self) -> float:
        return 1.0 - len(self.patients) / max(self.n_screened, 1)

    def adverse_events(self) -> list[dict[str, Any]]:
        """Per arm: patients with each adverse-event-like flag at any post-baseline visit."""
        out = []
        ep = self.endpoints[self.endpoints["visit_week"] > 0]
        for arm in self.design.arms:
            g = ep[ep["arm"] == arm.name]
            row: dict[str, Any] = {"arm": arm.name}
            for col in ("ae_dry_skin", "ae_gut_diversity_loss"):
                flagged = g.groupby("patient")[col].max()
                row[col] = int((flagged == 1).sum())
            row["n_at_risk"] = int(g["patient"].nunique())
            out.append(row)
        return out

    def arms_table(self) -> list[dict[str, Any]]:
        last = self.design.visits_weeks[-1]
        out = []
        for arm in self.design.arms:
            pts = self.patients[self.patients["arm"] == arm.name]
            done = pts["dropout_week"].isna() | (pts["dropout_week"] > last)
            out.append(
                {
                    "name": arm.name,
                    "n_randomized": len(pts),
                    "n_completed": int((done & pts["solver_ok"]).sum()),
                }
            )
        return out
