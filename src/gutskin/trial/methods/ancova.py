"""ANCOVA: OLS of the change from baseline on arm and baseline (FDA 2018; EMA 2015)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from gutskin.trial.methods.core import (
    _TOL,
    MethodInput,
    MethodSpec,
    _adjusted_design,
    _complete_cases,
    _Degenerate,
    _dropped_note,
    _Est,
)


def _ancova_data(
    y: np.ndarray,
    base: np.ndarray,
    ind: np.ndarray,
    cov: np.ndarray,
    cov_names: Sequence[str],
    *,
    arm: str,
    reference: str,
) -> tuple[np.ndarray, np.ndarray, list[str], int, int]:
    """The complete cases' change from baseline and their checked ANCOVA design.

    Parameters
    ----------
    y : ndarray
        Values at the visit, (n,) or (m, n) for ``m`` completed data sets.
    base, ind : ndarray
        Baseline values and arm indicator, (n,).
    cov : ndarray
        Covariates, (n, k), named by ``cov_names``.
    cov_names : sequence of str
        Covariate names.
    arm, reference : str
        The compared arms, for the messages.

    Returns
    -------
    tuple
        ``(change, x, dropped, n_arm, n_ref)``: the change from baseline (shaped as
        ``y``), the design ``[1, arm, baseline, covariates]`` without constant columns,
        the dropped columns' names and the patients per arm.
    """
    y, base, ind, cov, n_arm, n_ref = _complete_cases(
        y, base, ind, cov, arm=arm, reference=reference, what="ancova"
    )
    x, dropped = _adjusted_design(
        ind, ("baseline", base), cov, cov_names, what="ancova", terms="model terms"
    )
    return y - base, x, dropped, n_arm, n_ref


def _fit_ancova(
    y: np.ndarray,
    base: np.ndarray,
    ind: np.ndarray,
    cov: np.ndarray,
    cov_names: Sequence[str],
    *,
    alpha: float,
    cov_type: str,
    arm: str,
    reference: str,
) -> _Est:
    import statsmodels.api as sm

    change, x, dropped, n_arm, n_ref = _ancova_data(
        y, base, ind, cov, cov_names, arm=arm, reference=reference
    )
    if np.ptp(change) <= _TOL:
        raise _Degenerate("zero variance in the change from baseline")
    res = sm.OLS(change, x).fit(cov_type=cov_type)
    if not res.ssr > _TOL * max(1.0, float(np.sum((change - change.mean()) ** 2))):
        raise _Degenerate("zero residual variance (perfect fit)")
    ci = res.conf_int(alpha)
    return _Est(
        estimate=float(res.params[1]),
        se=float(res.bse[1]),
        df=float(res.df_resid),
        ci_low=float(ci[1, 0]),
        ci_high=float(ci[1, 1]),
        p_value=float(res.pvalues[1]),
        n_arm=n_arm,
        n_ref=n_ref,
        note=_dropped_note(dropped),
    )


def _fit_ancova_many(
    y: np.ndarray,
    base: np.ndarray,
    ind: np.ndarray,
    cov: np.ndarray,
    cov_names: Sequence[str],
    *,
    alpha: float,
    arm: str,
    reference: str,
) -> list[_Est]:
    """:func:`_fit_ancova` (classical SEs) of each row of ``y`` (m, n): one design matrix.

    Every completed data set shares baseline, arm and covariates, so one QR factor serves
    all ``m`` fits; each gets its own residual variance. Equal to ``m`` calls of
    :func:`_fit_ancova` to rounding (tested).
    """
    change, x, dropped, n_arm, n_ref = _ancova_data(
        y, base, ind, cov, cov_names, arm=arm, reference=reference
    )
    n, p = x.shape
    if np.any(np.ptp(change, axis=1) <= _TOL):
        raise _Degenerate("zero variance in the change from baseline")
    q, r = np.linalg.qr(x)
    coef = np.linalg.solve(r, q.T @ change.T)  # (p, m)
    resid = change.T - x @ coef
    ssr = np.sum(resid**2, axis=0)
    tss = np.sum((change - change.mean(axis=1, keepdims=True)) ** 2, axis=1)
    if np.any(~(ssr > _TOL * np.maximum(1.0, tss))):
        raise _Degenerate("zero residual variance (perfect fit)")
    rinv = np.linalg.inv(r)
    v11 = float(rinv[1] @ rinv[1])  # [(XᵀX)⁻¹]₁₁
    df = n - p
    se = np.sqrt(ssr / df * v11)
    est = coef[1]
    crit = float(stats.t.ppf(1.0 - alpha / 2.0, df))
    pval = 2.0 * stats.t.sf(np.abs(est) / se, df)
    note = _dropped_note(dropped)
    return [
        _Est(
            estimate=float(est[i]),
            se=float(se[i]),
            df=float(df),
            ci_low=float(est[i] - crit * se[i]),
            ci_high=float(est[i] + crit * se[i]),
            p_value=float(pval[i]),
            n_arm=n_arm,
            n_ref=n_ref,
            note=note,
        )
        for i in range(est.size)
    ]


def analyse(d: MethodInput, *, need_df: bool = True, warm: Any = None) -> _Est:
    """The ANCOVA of one data set (``options['cov_type']`` picks the standard errors)."""
    return _fit_ancova(
        d.y, d.base, d.ind, d.cov, d.cov_names, alpha=d.alpha,
        cov_type=d.options.get("cov_type", "nonrobust"), arm=d.arm, reference=d.reference,
    )  # fmt: skip


def analyse_many(ys: np.ndarray, d: MethodInput) -> list[_Est] | None:
    """The ANCOVA of ``m`` completed sets at once (classical SEs only; else None)."""
    if d.options.get("cov_type", "nonrobust") != "nonrobust":
        return None
    return _fit_ancova_many(
        ys, d.base, d.ind, d.cov, d.cov_names, alpha=d.alpha, arm=d.arm, reference=d.reference
    )


SPEC = MethodSpec(
    name="ancova",
    kinds=("count", "continuous", "ordinal"),
    model="OLS of change from baseline on arm + baseline (+ covariates)",
    estimand="adjusted difference in mean change at the visit",
    reports="difference (arm − reference), t interval and test, residual df",
    analyse=analyse,
    analyse_many=analyse_many,
)
