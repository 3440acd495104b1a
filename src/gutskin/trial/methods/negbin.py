"""Negative-binomial (NB2) regression of a lesion count: a rate ratio (Lawless 1987)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy import stats

from gutskin.trial.methods.core import (
    MethodInput,
    MethodSpec,
    StatisticsError,
    _adjusted_design,
    _complete_cases,
    _Degenerate,
    _dropped_note,
    _Est,
    _fmt_allowed,
    _wald_est,
)


def _count_endpoints() -> tuple[str, ...]:
    from gutskin.trial.endpoints import names_of_kind

    return names_of_kind("count")


def _fit_negbin(d: MethodInput, *, se_kind: str) -> _Est:
    """NB2 regression; ``se_kind`` 'robust' (HC1 sandwich, t) or 'model' (Wald z)."""
    from statsmodels.discrete.discrete_model import NegativeBinomial

    y, base, ind, cov, n_arm, n_ref = _complete_cases(
        d.y, d.base, d.ind, d.cov, arm=d.arm, reference=d.reference, what="negbin"
    )
    if np.any(y < 0) or np.any(np.abs(y - np.round(y)) > 1e-6) or np.any(base < 0):
        raise StatisticsError(
            f"method 'negbin' needs a count endpoint (non-negative integers); {d.endpoint!r} "
            f"is not; count endpoints: {_fmt_allowed(_count_endpoints())}"
        )
    if y.sum() == 0:
        raise _Degenerate("all counts are zero")
    if y[ind == 1].sum() == 0 or y[ind == 0].sum() == 0:
        raise _Degenerate("all counts are zero in one arm (separation; rate ratio not estimable)")
    x, dropped = _adjusted_design(
        ind,
        ("log(baseline+1)", np.log1p(base)),
        cov,
        d.cov_names,
        what="negbin",
        terms="parameters",
        extra=1,
    )
    robust = se_kind == "robust"
    res = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method, maxiter in (("bfgs", 300), ("newton", 100), ("nm", 5000)):
            try:
                cand = NegativeBinomial(y, x, loglike_method="nb2").fit(
                    method=method,
                    maxiter=maxiter,
                    disp=0,
                    cov_type="HC0" if robust else "nonrobust",
                )
            except (np.linalg.LinAlgError, ValueError, FloatingPointError):
                continue
            if (
                cand.mle_retvals.get("converged", False)
                and np.all(np.isfinite(cand.params))
                and np.all(np.isfinite(cand.bse))
            ):
                res = cand
                break
    if res is None:
        raise _Degenerate("negative-binomial fit did not converge")
    b, se = float(res.params[1]), float(res.bse[1])
    n, k = x.shape[0], len(res.params)  # k counts the dispersion parameter
    if robust:  # HC1 small-sample factor n/(n - k) and t(n - k) reference
        se *= math.sqrt(n / (n - k))
        df = float(n - k)
        dist = stats.t(df)
    else:
        df = math.inf
        dist = stats.norm()
    if not se > 0:
        raise _Degenerate("negative-binomial fit gave a zero standard error")
    return _wald_est(
        b,
        se,
        df,
        dist,
        alpha=d.alpha,
        n_arm=n_arm,
        n_ref=n_ref,
        note=_dropped_note(dropped),
        log_scale=True,
    )


def analyse(d: MethodInput, *, need_df: bool = True, warm: Any = None) -> _Est:
    """The NB2 regression of one data set (``options['negbin_se']``: robust or model)."""
    return _fit_negbin(d, se_kind=d.options.get("negbin_se", "robust"))


SPEC = MethodSpec(
    name="negbin",
    kinds=("count",),
    model="NB2 regression of the count at the visit on arm + log(baseline + 1) (+ covariates)",
    estimand="adjusted rate ratio exp(β_arm)",
    reports="rate ratio, Wald interval and test on the log scale (robust SE: t(n − k))",
    analyse=analyse,
    log_scale=True,
)
