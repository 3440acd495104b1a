"""Mixed model for repeated measures of the change from baseline (Mallinckrodt et al. 2008)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from gutskin.trial.methods.core import (
    _TOL,
    MethodInput,
    MethodSpec,
    _check_n,
    _Degenerate,
    _dropped_note,
    _Est,
    _join_notes,
    _wald_est,
)


def _fit_mmrm(
    post: np.ndarray,
    base: np.ndarray,
    ind: np.ndarray,
    cov: np.ndarray,
    cov_names: Sequence[str],
    target: int,
    *,
    alpha: float,
    arm: str,
    reference: str,
    need_df: bool = True,
    warm: dict[str, Any] | None = None,
) -> _Est:
    """MMRM on the change from baseline: unstructured covariance, REML, Satterthwaite df.

    Fixed effects: visit, arm × visit, baseline × visit and the covariates
    (:mod:`gutskin.trial.mmrm`).  The estimate is the arm × visit effect at ``target``
    (the least-squares mean difference there).  ``need_df=False`` skips the
    Satterthwaite degrees of freedom (NaN), for imputations whose df is not used.
    ``warm`` carries the covariance parameters from one imputation's fit to the next
    as the optimiser's start (same optimum, fewer iterations).
    """
    from gutskin.trial import mmrm

    keep_pat = np.isfinite(base) & np.all(np.isfinite(cov), axis=1)
    post, base, ind, cov = post[keep_pat], base[keep_pat], ind[keep_pat], cov[keep_pat]
    n_vis = post.shape[1]
    obs_t = np.isfinite(post[:, target])
    _check_n(int(obs_t[ind == 1].sum()), int(obs_t[ind == 0].sum()), arm, reference, "mmrm")
    # visits usable for the visit × arm parametrisation: observed in both arms
    usable = [
        j
        for j in range(n_vis)
        if np.isfinite(post[ind == 1, j]).any() and np.isfinite(post[ind == 0, j]).any()
    ]
    change = post[:, usable] - base[:, None]
    has_obs = np.isfinite(change).any(axis=1)
    change, base, ind, cov = change[has_obs], base[has_obs], ind[has_obs], cov[has_obs]
    n_arm, n_ref = int(ind.sum()), int((1 - ind).sum())
    finite = change[np.isfinite(change)]
    if finite.size == 0 or np.ptp(finite) <= _TOL:
        raise _Degenerate("zero variance in the change from baseline")
    dropped = []
    z_cols = [np.ones(len(ind)), ind]
    if np.ptp(base) > _TOL:
        z_cols.append(base)
    else:
        dropped.append("baseline")
    w_cols = []
    for i, nm in enumerate(cov_names):
        if np.ptp(cov[:, i]) > _TOL:
            w_cols.append(cov[:, i])
        else:
            dropped.append(nm)
    z = np.column_stack(z_cols)
    w = np.column_stack(w_cols) if w_cols else None
    k = len(usable)
    try:
        start = None if warm is None else warm.get("theta")
        fit = mmrm.fit(change, z, w, start=start)
        if warm is not None and fit.structure == "un" and fit.converged:
            warm["theta"] = fit.theta
    except mmrm.MMRMError as exc:
        raise _Degenerate(str(exc)) from exc
    c = np.zeros(fit.beta.size)
    c[k + usable.index(target)] = 1.0
    est, se, df = fit.contrast(c, df=need_df)
    if not (math.isfinite(est) and math.isfinite(se) and se > 0):
        raise _Degenerate("mmrm gave no finite standard error")
    note = _dropped_note(dropped)
    if fit.structure != "un":
        note = _join_notes(
            note,
            f"unstructured covariance did not converge: {mmrm.STRUCTURES[fit.structure]} used",
        )
    if not fit.converged:
        note = _join_notes(note, "mmrm optimiser did not converge")
    if need_df and not (math.isfinite(df) and df > 0):
        df = float(max(len(ind) - z.shape[1] - (w.shape[1] if w is not None else 0), 1))
        note = _join_notes(note, "Satterthwaite df unavailable: between-patient df used")
    dist = stats.t(df if math.isfinite(df) else 1e6)
    return _wald_est(est, se, df, dist, alpha=alpha, n_arm=n_arm, n_ref=n_ref, note=note)


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------


def analyse(d: MethodInput, *, need_df: bool = True, warm: Any = None) -> _Est:
    """The MMRM over every post-baseline visit (the ANCOVA when there is only one)."""
    from dataclasses import replace

    from gutskin.trial.methods.ancova import _fit_ancova

    post = d.values[:, list(d.post_cols)]
    if len(d.post_cols) < 2:
        est = _fit_ancova(
            d.y, d.base, d.ind, d.cov, d.cov_names, alpha=d.alpha, cov_type="nonrobust",
            arm=d.arm, reference=d.reference,
        )  # fmt: skip
        return replace(
            est, note=_join_notes(est.note, "single post-baseline visit: mmrm reduces to ancova")
        )
    return _fit_mmrm(
        post, d.base, d.ind, d.cov, d.cov_names, list(d.post_cols).index(d.target_col),
        alpha=d.alpha, arm=d.arm, reference=d.reference, need_df=need_df, warm=warm,
    )  # fmt: skip


SPEC = MethodSpec(
    name="mmrm",
    kinds=("count", "continuous", "ordinal"),
    model="change from baseline at every post-baseline visit: visit + arm × visit + "
    "baseline × visit (+ covariates), unstructured covariance, REML",
    estimand="least-squares mean difference at the visit (treatment policy under MAR)",
    reports="difference, t interval and test with Satterthwaite df",
    analyse=analyse,
    observed_only=True,
)
