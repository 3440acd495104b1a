"""The default trial's comedones (issue 30): every active arm of ``rinaldi2022`` ends
below placebo on non-inflammatory lesions, over 12 seeds.

Before the IL-1alpha plug-maintenance leg (docs/modelling-choices.md §6) the arms that
lowered inflammation made fewer comedones rupture, so comedones accumulated and the
probiotic arm was significantly *worse* than placebo on them.
"""

from __future__ import annotations

import pytest

from gutskin.calibrate.objective import _arm_change
from gutskin.trial.design import load_design
from gutskin.trial.run import run_trial

SEEDS = range(1, 13)


@pytest.mark.slow
def test_every_active_arm_ends_below_placebo_on_comedones():
    """% change of arm means of non-inflammatory lesions at week 8 (the statistic of the
    calibration and docs/validation.md), 12 seeds of the built-in design at its own size.

    Averaged over the 12 trials every active arm is below placebo by at least 5 points.
    With ~28 patients per arm one trial's arm statistic varies by about 9 points from trial
    to trial (100 pooled replicates, session 8), so a single seed can reverse an arm
    against placebo by chance; each arm must still be below placebo in at least 9 of the
    12 trials.
    """
    design = load_design("rinaldi2022")
    active = [a.name for a in design.arms if a.name != "placebo"]
    rows = []
    for seed in SEEDS:
        ep = run_trial(design, seed=seed, analyse=False).endpoints
        rows.append({a.name: _arm_change(ep, a.name, "noninflammatory", 8.0) for a in design.arms})
    mean = {a: sum(r[a] for r in rows) / len(rows) for a in rows[0]}
    for arm in active:
        assert mean[arm] < mean["placebo"] - 5.0, mean
        below = sum(r[arm] < r["placebo"] for r in rows)
        assert below >= 9, (arm, below, rows)
