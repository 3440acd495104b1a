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
    StatisticsError,
    _check_n,
    _Degenerate,
    _design,
    _dropped_note,
    _Est,
)


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

    ok = np.isfinite(y) & np.isfinite(base) & np.all(np.isfinite(cov), axis=1)
    y, base, ind, cov = y[ok], base[ok], ind[ok], cov[ok]
    n_arm, n_ref = int(ind.sum()), int((1 - ind).sum())
    _check_n(n_arm, n_ref, arm, reference, "ancova")
    change = y - base
    x, _, dropped = _design(
        ind, [("baseline", base), *((nm, cov[:, i]) for i, nm in enumerate(cov_names))]
    )
    if x.shape[0] <= x.shape[1]:
        raise StatisticsError(
            f"too few patients for ancova: {x.shape[0]} for {x.shape[1]} model terms"
        )
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise _Degenerate("ancova design matrix is rank deficient")
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
    ok = np.isfinite(base) & np.all(np.isfinite(cov), axis=1) & np.isfinite(y).all(axis=0)
    y, base, ind, cov = y[:, ok], base[ok], ind[ok], cov[ok]
    n_arm, n_ref = int(ind.sum()), int((1 - ind).sum())
    _check_n(n_arm, n_ref, arm, reference, "ancova")
    change = y - base[None, :]
    x, _, dropped = _design(
        ind, [("baseline", base), *((nm, cov[:, i]) for i, nm in enumerate(cov_names))]
    )
    n, p = x.shape
    if n <= p:
        raise StatisticsError(f"too few patients for ancova: {n} for {p} model terms")
    if np.linalg.matrix_rank(x) < p:
        raise _Degenerate("ancova design matrix is rank deficient")
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
