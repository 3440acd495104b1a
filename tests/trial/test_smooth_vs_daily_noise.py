"""Smooth disease-activity noise against the old daily OU noise on one virtual population.

Issue 33's acceptance: the week-12 SDs of per-patient change in inflammatory and
non-inflammatory counts, the visit-to-visit correlations and the IGA success rates agree
within Monte Carlo error.  Both runs share every draw but the noise (patients, parameters,
covariates, allocation, observation and dropout streams); the noise paths differ, so
screening admits partly different patients and each statistic carries its own sampling
error, estimated here by a bootstrap over patients.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gutskin.simulation import get_model
from gutskin.trial.design import load_design
from gutskin.trial.run import run_trial

N = 2000


def _stats(ep: pd.DataFrame, rows: np.ndarray | None = None) -> dict[str, float]:
    inf = ep.pivot_table(index="patient", columns="visit_week", values="inflammatory")
    non = ep.pivot_table(index="patient", columns="visit_week", values="noninflammatory")
    iga = ep[ep.visit_week == 12].set_index("patient")["iga_success"]
    if rows is not None:
        inf, non = inf.iloc[rows], non.iloc[rows]
        iga = iga.reindex(inf.index)
    d_inf = (inf[12] - inf[0]).dropna()
    d_non = (non[12] - non[0]).dropna()
    both = inf.dropna()
    return {
        "mean change inflammatory": d_inf.mean(),
        "SD change inflammatory": d_inf.std(),
        "mean change non-inflammatory": d_non.mean(),
        "SD change non-inflammatory": d_non.std(),
        "corr week 4-8": np.corrcoef(both[4], both[8])[0, 1],
        "corr week 8-12": np.corrcoef(both[8], both[12])[0, 1],
        "corr week 0-12": np.corrcoef(both[0], both[12])[0, 1],
        "IGA success": iga.dropna().mean(),
    }


def _with_se(ep: pd.DataFrame, rng: np.random.Generator) -> tuple[dict, dict]:
    est = _stats(ep)
    n = ep["patient"].nunique()
    boots = [_stats(ep, rng.integers(0, n, n)) for _ in range(150)]
    se = {k: float(np.std([b[k] for b in boots], ddof=1)) for k in est}
    return est, se


@pytest.mark.slow
def test_smooth_noise_matches_daily_noise_within_monte_carlo_error():
    design = load_design("probiotic12wk").model_copy(update={"sample_size": N})
    smooth = get_model("acne")
    assert smooth.smooth_inputs  # the default model has smooth noise
    daily = smooth.with_smooth_inputs({})
    a = run_trial(design, seed=6, model=smooth, analyse=False)
    b = run_trial(design, seed=6, model=daily, analyse=False)
    rng = np.random.default_rng(0)
    misses = []
    for arm in ("placebo", "ls03"):
        ea, sa = _with_se(a.endpoints[a.endpoints.arm == arm], rng)
        eb, sb = _with_se(b.endpoints[b.endpoints.arm == arm], rng)
        for k in ea:
            z = (ea[k] - eb[k]) / np.hypot(sa[k], sb[k])
            if abs(z) > 3.0:
                misses.append(f"{arm} {k}: smooth {ea[k]:.3f}, daily {eb[k]:.3f} (z = {z:.1f})")
    assert not misses, misses
