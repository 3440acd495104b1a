"""Responder analysis: the risk difference of a 0/1 endpoint.

Newcombe (1998) interval; Miettinen & Nurminen (1985) score test.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy import stats

from gutskin.trial.methods.core import (
    MethodInput,
    MethodSpec,
    _check_n,
    _Est,
    _join_notes,
)


def _fit_responder(
    r: np.ndarray,
    ind: np.ndarray,
    *,
    alpha: float,
    arm: str,
    reference: str,
    test: str,
) -> _Est:
    from statsmodels.stats.proportion import (
        confint_proportions_2indep,
        test_proportions_2indep,
    )

    ok = np.isfinite(r)
    r, ind = r[ok], ind[ok]
    n1, n0 = int(ind.sum()), int((1 - ind).sum())
    _check_n(n1, n0, arm, reference, "responder")
    x1, x0 = int(r[ind == 1].sum()), int(r[ind == 0].sum())
    p1, p0 = x1 / n1, x0 / n0
    rd = p1 - p0
    lo, hi = confint_proportions_2indep(
        x1, n1, x0, n0, method="newcomb", compare="diff", alpha=alpha
    )
    # expected cell counts under H0 (common proportion)
    pooled = (x1 + x0) / (n1 + n0)
    expected = np.array([n1 * pooled, n1 * (1 - pooled), n0 * pooled, n0 * (1 - pooled)])
    use_fisher = test == "fisher" or (test == "auto" and bool(np.any(expected < 5)))
    note = None
    if use_fisher:
        p = float(stats.fisher_exact([[x1, n1 - x1], [x0, n0 - x0]]).pvalue)
        note = "Fisher exact test"
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = float(
                test_proportions_2indep(
                    x1, n1, x0, n0, method="score", compare="diff", correction=True
                ).pvalue
            )
    if x1 + x0 in (0, n1 + n0):
        note = _join_notes(note, "no variation in responder status")
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    return _Est(
        estimate=rd,
        se=se,
        df=math.inf,
        ci_low=float(lo),
        ci_high=float(hi),
        p_value=p,
        n_arm=n1,
        n_ref=n0,
        note=note,
    )


def responder_values(d: MethodInput) -> np.ndarray:
    """0/1 responder status at the visit: the endpoint itself, or derived from a threshold.

    With ``options['threshold']`` a patient responds when ``x_0 − x_t ≥ threshold``
    (``threshold_kind`` ``'absolute'``) or ``100 (x_0 − x_t) / x_0 ≥ threshold``
    (``'percent'``; patients with ``x_0 = 0`` are left out).
    """
    threshold = d.options.get("threshold")
    if threshold is None:
        return d.y
    improvement = d.base - d.y
    if d.options.get("threshold_kind", "absolute") == "percent":
        with np.errstate(divide="ignore", invalid="ignore"):
            improvement = np.where(d.base > 0, 100.0 * improvement / d.base, np.nan)
    return np.where(np.isfinite(improvement), (improvement >= threshold) * 1.0, np.nan)


def analyse(d: MethodInput, *, need_df: bool = True, warm: Any = None) -> _Est:
    """The risk difference of one data set."""
    return _fit_responder(
        responder_values(d), d.ind, alpha=d.alpha, arm=d.arm, reference=d.reference,
        test=d.options.get("responder_test", "auto"),
    )  # fmt: skip


SPEC = MethodSpec(
    name="responder",
    kinds=("binary",),
    model="two independent proportions (unadjusted)",
    estimand="risk difference",
    reports="risk difference; Newcombe interval and score (or Fisher) test; under MI "
    "Rubin's rules with a t interval",
    analyse=analyse,
    needs_baseline=lambda options: options.get("threshold") is not None,
    binary_outcome=lambda options: options.get("threshold") is None,
    adjusted=False,
)
