"""The verdict per validation target: replicate simulations against the observed value.

:func:`check_targets` summarises each target's replicate values (mean and 2.5th-97.5th
percentile) and says whether the target is met (the mean inside its acceptance band, or
the direction or ordering kept), not met, or not represented by the model.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gutskin.calibrate.targets import Target, TargetSet

__all__ = ["TargetCheck", "check_targets"]


@dataclass
class TargetCheck:
    """Validation outcome of one target."""

    target: Target
    mean: float | None
    lo: float | None
    hi: float | None
    per_arm: dict[str, float] | None
    status: str  # "met", "not met", "not represented"
    detail: str
    n_replicates: int


def _summ(values: Sequence[float]) -> tuple[float, float, float]:
    v = np.array([x for x in values if x is not None and np.isfinite(x)], float)
    if not v.size:
        return float("nan"), float("nan"), float("nan")
    return float(v.mean()), float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))


def check_targets(ts: TargetSet, reps: Mapping[str, list[Any]]) -> list[TargetCheck]:
    """Compare replicate simulations ``reps`` (target id -> list of values) with targets."""
    out = []
    for t in ts.targets:
        vals = reps.get(t.id, [])
        n = len(vals)
        if t.simulator == "not_represented":
            out.append(TargetCheck(t, None, None, None, None, "not represented", t.reason, 0))
            continue
        if t.statistic in ("direction", "ordering") and t.simulator == "trial":
            arms = list(vals[0]) if vals else []
            per = {a: _summ([v[a] for v in vals])[0] for a in arms}
            if t.statistic == "direction":
                sign = -1.0 if t.options["direction"] == "decrease" else 1.0
                ok_sign = all(sign * per[a] > 0 for a in arms)
                big = t.options.get("largest_arm")
                ok_big = big is None or all(abs(per[big]) >= abs(per[a]) for a in arms)
                status = "met" if ok_sign and ok_big else "not met"
                detail = (
                    f"{t.options['direction']} in every listed arm: {'yes' if ok_sign else 'no'}"
                    + (f"; largest in {big}: {'yes' if ok_big else 'no'}" if big else "")
                )
            else:
                order = t.options["order"]
                tie = float(t.options.get("tie_tolerance", 0.0))
                strict = all(per[a] < per[b] for a, b in itertools.pairwise(order))
                loose = all(per[a] < per[b] + tie for a, b in itertools.pairwise(order))
                status = "met" if loose else "not met"
                detail = (
                    f"strict order {'kept' if strict else 'not kept'}; "
                    f"within a {tie:g}-point tie tolerance {'kept' if loose else 'not kept'}"
                )
            out.append(TargetCheck(t, None, None, None, per, status, detail, n))
            continue
        if t.statistic == "direction":  # population direction
            m, lo, hi = _summ(vals)
            want = t.options["direction"]
            ok = (m < 0) if want in ("lower_in_acne", "decrease") else (m > 0)
            out.append(
                TargetCheck(
                    t,
                    m,
                    lo,
                    hi,
                    None,
                    "met" if ok else "not met",
                    f"acne - control = {m:.3g} ({want})",
                    n,
                )
            )
            continue
        m, lo, hi = _summ(vals)
        band = t.band()
        ok = t.met(m)
        detail = f"acceptance band [{band[0]:.4g}, {band[1]:.4g}]" if band else ""
        out.append(TargetCheck(t, m, lo, hi, None, "met" if ok else "not met", detail, n))
    return out
