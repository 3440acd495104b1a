"""Statistics of in-silico randomized acne trials.

The trial runner produces a long-format table ``endpoints`` with one row per
patient × visit (``patient``, ``arm``, ``visit_week`` with 0 = baseline,
``observed``, covariates ``sex`` and ``age`` and one column per endpoint, NaN
where not observed).  This module summarises such a table and compares two arms
at one visit with the analyses used in acne trials:

``ancova``
    OLS of the change from baseline on an arm indicator and the baseline value
    (FDA 2018 acne guidance; EMA 2015 guideline on baseline covariates).
``negbin``
    Negative-binomial (NB2) regression of the lesion count at the visit on the
    arm indicator and ``log(baseline + 1)``; the estimate is a rate ratio
    (sandwich standard error by default).
``responder``
    Risk difference of a binary responder endpoint (e.g. IGA success, or a
    derived "≥ *threshold* improvement" responder) with a Newcombe interval and
    a score (Miettinen–Nurminen) or Fisher exact test.
``mmrm``
    Mixed model for repeated measures of the change from baseline over all
    post-baseline visits: visit, arm × visit and baseline × visit fixed
    effects, unstructured within-patient covariance, REML, Satterthwaite
    degrees of freedom (:mod:`gutskin.trial.mmrm`).

Missing data are handled by observed cases, last observation carried forward
or multiple imputation (predictive mean matching, Rubin's rules).  Every
distribution, test and interval comes from :mod:`scipy.stats` or
:mod:`statsmodels`, the MMRM from :mod:`gutskin.trial.mmrm` (numpy/scipy).
Degenerate data (zero variance, all-zero counts, separation, non-convergence)
give NaN estimates and a ``note`` rather than an exception, so that a power run of
many replicate trials never stops; invalid requests raise :class:`StatisticsError`.

Validation: every method is held to R on fixed synthetic data sets
(``tests/trial/test_statistics_against_r.py``, fixtures written by
``tests/reference/make_r_fixtures.R``; ``docs/statistics.md``).  In
``tests/trial/test_statistics.py`` estimates agree with numpy least squares and the
Newcombe/Wilson formulas;
under a null design with 50 patients per arm the false-positive rates of
ancova, negbin (robust SE), mmrm and the responder score test over 1000 synthetic
trials lie inside the 99 % binomial interval around 5 %; Fisher's exact test
is conservative; multiple imputation is unbiased with nominal coverage under
MAR dropout, LOCF is biased towards the null.

References
----------
.. [FDA2018] U.S. Food and Drug Administration (2018). *Acne Vulgaris:
   Establishing Effectiveness of Drugs Intended for Treatment. Guidance for
   Industry* (draft). Recommends co-primary endpoints (absolute change in
   inflammatory and non-inflammatory lesion counts, and IGA success) analysed
   with baseline as covariate.
.. [EMA2015] European Medicines Agency (2015). *Guideline on adjustment for
   baseline covariates in clinical trials*, EMA/CHMP/295050/2013.
.. [Rubin1987] Rubin, D. B. (1987). *Multiple Imputation for Nonresponse in
   Surveys*. Wiley.
.. [BR1999] Barnard, J. & Rubin, D. B. (1999). Small-sample degrees of freedom
   with multiple imputation. *Biometrika* 86, 948–955.
.. [vB2018] van Buuren, S. (2018). *Flexible Imputation of Missing Data*, 2nd
   ed., §3.4 (predictive mean matching). CRC Press.
.. [MN1985] Miettinen, O. & Nurminen, M. (1985). Comparative analysis of two
   rates. *Stat. Med.* 4, 213–226.
.. [Newcombe1998] Newcombe, R. G. (1998). Interval estimation for the
   difference between independent proportions. *Stat. Med.* 17, 873–890.
.. [Mallinckrodt2008] Mallinckrodt, C. H. et al. (2008). Recommendations for
   the primary analysis of continuous endpoints in longitudinal clinical
   trials. *Drug Inf. J.* 42, 303–319.
.. [Lawless1987] Lawless, J. F. (1987). Negative binomial and mixed Poisson
   regression. *Can. J. Stat.* 15, 209–225.
.. [SahaPaul2005] Saha, K. & Paul, S. (2005). Bias-corrected maximum likelihood
   estimator of the negative binomial dispersion parameter. *Biometrics* 61,
   179–185.
.. [MacKinnonWhite1985] MacKinnon, J. G. & White, H. (1985). Some
   heteroskedasticity-consistent covariance matrix estimators with improved
   finite sample properties. *J. Econometrics* 29, 305–325.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from gutskin.engine.random import run_rng
from gutskin.trial.endpoints import REGISTRY, names_of_kind

__all__ = [
    "BINARY_ENDPOINTS",
    "CONTINUOUS_ENDPOINTS",
    "COUNT_ENDPOINTS",
    "ENDPOINTS",
    "METHODS",
    "MISSING_POLICIES",
    "ORDINAL_ENDPOINTS",
    "StatisticsError",
    "compare",
    "describe",
    "pool_rubin",
    "power_from_pvalues",
]

COUNT_ENDPOINTS: tuple[str, ...] = names_of_kind("count")
"""Lesion-count endpoints (non-negative integers stored as float)."""
ORDINAL_ENDPOINTS: tuple[str, ...] = names_of_kind("ordinal")
"""Ordinal endpoints: IGA grade 0–4 and GAGS score 0–44."""
BINARY_ENDPOINTS: tuple[str, ...] = names_of_kind("binary")
"""Binary endpoints (0/1; defined against baseline, so NaN at baseline)."""
CONTINUOUS_ENDPOINTS: tuple[str, ...] = names_of_kind("continuous")
"""Continuous endpoints."""
ENDPOINTS: tuple[str, ...] = (
    COUNT_ENDPOINTS + ORDINAL_ENDPOINTS + BINARY_ENDPOINTS + CONTINUOUS_ENDPOINTS
)
"""Every endpoint the trial runner writes (derived numeric columns are accepted too)."""
METHODS: tuple[str, ...] = ("ancova", "negbin", "responder", "mmrm")
"""Comparison methods understood by :func:`compare`."""
MISSING_POLICIES: tuple[str, ...] = ("observed", "locf", "mi")
"""Missing-data policies understood by :func:`compare`."""

_ID_COLUMNS: tuple[str, ...] = (
    "patient",
    "arm",
    "visit",
    "visit_week",
    "observed",
    "sex",
    "age",
)
_REQUIRED_COLUMNS: tuple[str, ...] = ("patient", "arm", "visit_week")
_COV_TYPES: tuple[str, ...] = ("nonrobust", "HC0", "HC1", "HC2", "HC3")
_RESPONDER_TESTS: tuple[str, ...] = ("auto", "score", "fisher")
_THRESHOLD_KINDS: tuple[str, ...] = ("absolute", "percent")
_NEGBIN_SE: tuple[str, ...] = ("robust", "model")
_PMM_DONORS = 5
_TOL = 1e-9

Method = Literal["ancova", "negbin", "responder", "mmrm"]
MissingPolicy = Literal["observed", "locf", "mi"]


class StatisticsError(ValueError):
    """Invalid input to a trial statistic (unknown field value, too few patients, ...)."""


class _Degenerate(Exception):
    """The data allow no estimate (zero variance, all-zero counts, separation, ...)."""


# --------------------------------------------------------------------------------------
# data preparation
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Wide:
    """One endpoint in wide layout: patients × visits."""

    patients: np.ndarray  # (n,) patient ids
    arm: np.ndarray  # (n,) arm label per patient (str)
    visits: np.ndarray  # (v,) sorted visit weeks
    values: np.ndarray  # (n, v) float, NaN = missing / not observed
    covariates: np.ndarray  # (n, k) float design columns of the requested covariates
    covariate_names: tuple[str, ...]


def _fmt_allowed(values: Iterable[Any]) -> str:
    return ", ".join(repr(v) for v in values)


def _fmt_weeks(weeks: Iterable[float]) -> str:
    return ", ".join(f"{w:g}" for w in weeks)


def _endpoint_columns(endpoints: pd.DataFrame) -> list[str]:
    """Numeric columns of ``endpoints`` that can serve as endpoints."""
    return [
        str(c)
        for c in endpoints.columns
        if c not in _ID_COLUMNS
        and (
            pd.api.types.is_numeric_dtype(endpoints[c]) or pd.api.types.is_bool_dtype(endpoints[c])
        )
    ]


def _check_frame(endpoints: pd.DataFrame) -> None:
    if not isinstance(endpoints, pd.DataFrame):
        raise StatisticsError(
            f"endpoints must be a pandas DataFrame, got {type(endpoints).__name__}"
        )
    missing = [c for c in _REQUIRED_COLUMNS if c not in endpoints.columns]
    if missing:
        raise StatisticsError(
            f"endpoints lacks column(s) {_fmt_allowed(missing)}; required: "
            f"{_fmt_allowed(_REQUIRED_COLUMNS)}"
        )
    if len(endpoints) == 0:
        raise StatisticsError("endpoints has no rows")


def _wide(endpoints: pd.DataFrame, endpoint: str, covariates: Sequence[str] = ()) -> _Wide:
    """Pivot one endpoint of the long table to patients × visits (numpy, no groupby)."""
    _check_frame(endpoints)
    allowed = _endpoint_columns(endpoints)
    if endpoint not in allowed:
        raise StatisticsError(
            f"endpoint {endpoint!r} is not a numeric endpoint column of endpoints; "
            f"allowed: {_fmt_allowed(allowed)}"
        )
    weeks = pd.to_numeric(endpoints["visit_week"], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(weeks)):
        raise StatisticsError("visit_week must be finite numbers (0 = baseline)")
    codes, patients = pd.factorize(endpoints["patient"], sort=True)
    if np.any(codes < 0):
        raise StatisticsError("patient must not be missing")
    visits = np.unique(weeks)
    vcodes = np.searchsorted(visits, weeks)
    n, v = len(patients), len(visits)
    cell = codes.astype(np.int64) * v + vcodes
    if np.unique(cell).size != cell.size:
        raise StatisticsError("endpoints has duplicate patient × visit_week rows")

    vals = pd.to_numeric(endpoints[endpoint], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )
    if "observed" in endpoints.columns:
        obs = endpoints["observed"].fillna(False).to_numpy(dtype=bool)
        vals = np.where(obs, vals, np.nan)
    values = np.full((n, v), np.nan)
    values[codes, vcodes] = vals

    arm_rows = endpoints["arm"].astype(str).to_numpy()
    arm = np.empty(n, dtype=object)
    arm[codes] = arm_rows
    if np.any(arm[codes] != arm_rows):
        raise StatisticsError("arm must be constant within each patient")

    cov_cols: list[np.ndarray] = []
    cov_names: list[str] = []
    for name in covariates:
        if name not in endpoints.columns:
            raise StatisticsError(
                f"covariate {name!r} is not a column of endpoints; allowed: "
                f"{_fmt_allowed(c for c in endpoints.columns if c not in _REQUIRED_COLUMNS)}"
            )
        col = endpoints[name]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            per = np.full(n, np.nan)
            per[codes] = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            cov_cols.append(per)
            cov_names.append(str(name))
        else:
            per_obj = np.empty(n, dtype=object)
            per_obj[codes] = col.astype(object).to_numpy()
            levels = sorted({str(x) for x in per_obj if not pd.isna(x)})
            na = np.array([pd.isna(x) for x in per_obj])
            for level in levels[1:]:  # treatment coding, first level is the reference
                dummy = np.array([str(x) == level for x in per_obj], dtype=float)
                dummy[na] = np.nan
                cov_cols.append(dummy)
                cov_names.append(f"{name}[{level}]")
    cov = np.column_stack(cov_cols) if cov_cols else np.empty((n, 0))
    return _Wide(
        patients=np.asarray(patients),
        arm=arm,
        visits=visits,
        values=values,
        covariates=cov,
        covariate_names=tuple(cov_names),
    )


def _severity_of(endpoint: str) -> str | None:
    """The registry's severity scale of a binary endpoint (None for other columns)."""
    rec = REGISTRY.get(endpoint)
    return rec.severity if rec is not None else None


def _locf(values: np.ndarray) -> np.ndarray:
    """Carry the last observation forward along the visit axis (baseline included)."""
    out = values.copy()
    for j in range(1, out.shape[1]):
        gap = np.isnan(out[:, j])
        out[gap, j] = out[gap, j - 1]
    return out


def _check_n(n_arm: int, n_ref: int, arm: str, reference: str, what: str) -> None:
    if n_arm < 2 or n_ref < 2:
        raise StatisticsError(
            f"too few patients for {what}: arm {arm!r} has {n_arm}, reference "
            f"{reference!r} has {n_ref}; at least 2 per arm are required"
        )


# --------------------------------------------------------------------------------------
# multiple imputation (predictive mean matching, per arm, sequential over visits)
# --------------------------------------------------------------------------------------


def _pmm_column(
    y: np.ndarray, x: np.ndarray, rng: np.random.Generator, donors: int = _PMM_DONORS
) -> np.ndarray:
    """Impute the NaNs of ``y`` from predictors ``x`` by Bayesian-regression PMM.

    Type-1 matching [vB2018]_: observed cases are scored with the least-squares
    coefficients, missing cases with coefficients drawn from their posterior
    (``σ²* = SSR / χ²_{n-p}``, ``β* ~ N(β̂, σ²* (XᵀX)⁻¹)``); each missing case
    receives the observed value of one of its ``donors`` nearest neighbours in
    predicted mean, chosen at random.
    """
    obs = np.isfinite(y)
    mis = ~obs
    n_obs = int(obs.sum())
    if not mis.any():
        return y
    if n_obs == 0:
        raise _Degenerate("no observed value to impute from")
    out = y.copy()
    y_obs = y[obs]
    # drop predictors that are constant among observed cases, then shrink the model
    # until there are at least 2 residual degrees of freedom
    keep = [0] + [j for j in range(1, x.shape[1]) if np.ptp(x[obs, j]) > _TOL]
    while len(keep) > 1 and n_obs < len(keep) + 2:
        keep = keep[:-1]
    xx = x[:, keep]
    x_obs = xx[obs]
    # X = U S Vᵀ, so (XᵀX)⁺ = V S⁻² Vᵀ and β̂ + σ* V S⁻¹ z ~ N(β̂, σ*² (XᵀX)⁺)
    u, sv, vt = np.linalg.svd(x_obs, full_matrices=False)
    pos = sv > _TOL * max(1.0, float(sv[0]))
    beta_hat = vt[pos].T @ ((u[:, pos].T @ y_obs) / sv[pos])
    resid = y_obs - x_obs @ beta_hat
    df = n_obs - int(pos.sum())
    ssr = float(resid @ resid)
    beta_star = beta_hat
    if df > 0 and ssr > 0:
        sigma = math.sqrt(ssr / float(stats.chi2.rvs(df, random_state=rng)))
        z = np.atleast_1d(stats.norm.rvs(size=int(pos.sum()), random_state=rng))
        beta_star = beta_hat + sigma * (vt[pos].T @ (z / sv[pos]))
    pred_obs = x_obs @ beta_hat
    pred_mis = xx[mis] @ beta_star
    k = min(donors, n_obs)
    dist = np.abs(pred_mis[:, None] - pred_obs[None, :])
    nearest = np.argpartition(dist, k - 1, axis=1)[:, :k]
    pick = rng.integers(0, k, size=nearest.shape[0])
    out[mis] = y_obs[nearest[np.arange(nearest.shape[0]), pick]]
    return out


def _augment(
    y: np.ndarray, x: np.ndarray, levels: np.ndarray, x_all: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pseudo-observations against perfect prediction, as R ``mice:::augment``.

    White, Daniel & Royston (2010): for each of the ``p`` predictors (columns of ``x``,
    no intercept) and each outcome level, two rows at the predictor's mean ± half its
    SD (clipped to its range; the other predictors at their means), with total weight
    ``p + 1`` spread over the ``2 p k`` rows.  Means, SDs and ranges are those of
    ``x_all`` (every case, observed or not, as in mice).  Returns ``(y, x, w)`` with the
    rows appended and weights 1 for the real rows.
    """
    n, p = x.shape
    k = levels.size
    if p == 0:
        return y, x, np.ones(n)
    mean = x_all.mean(axis=0)
    sd = x_all.std(axis=0, ddof=1) if x_all.shape[0] > 1 else np.zeros(p)
    nr = 2 * p * k
    aug = np.tile(mean, (nr, 1))
    ya = np.empty(nr)
    for j in range(p):
        for i in range(2 * k):
            r = 2 * k * j + i
            aug[r, j] = mean[j] + (0.5 if i % 2 == 0 else -0.5) * sd[j]
            ya[r] = levels[i // 2]
    aug = np.clip(aug, x_all.min(axis=0), x_all.max(axis=0))
    w = np.concatenate([np.ones(n), np.full(nr, (p + 1) / nr)])
    return np.concatenate([y, ya]), np.vstack([x, aug]), w


def _logistic_fit(
    y: np.ndarray, x: np.ndarray, w: np.ndarray, *, tol: float = 1e-10, max_iter: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logistic regression by Newton-Raphson (IRLS).

    Returns the coefficients and their unscaled covariance ``(Xᵀ W V X)⁻¹`` at the
    optimum, as R ``glm.fit(family = quasibinomial)`` / ``summary.glm``'s
    ``cov.unscaled``.  ``x`` includes the intercept column.
    """
    beta = np.zeros(x.shape[1])
    info = np.eye(x.shape[1])
    for _ in range(max_iter):
        eta = np.clip(x @ beta, -30.0, 30.0)
        mu = 1.0 / (1.0 + np.exp(-eta))
        v = w * mu * (1.0 - mu)
        info = x.T @ (v[:, None] * x)
        step = np.linalg.solve(info, x.T @ (w * (y - mu)))
        beta = beta + step
        if float(np.max(np.abs(step))) < tol:
            break
    eta = np.clip(x @ beta, -30.0, 30.0)
    mu = 1.0 / (1.0 + np.exp(-eta))
    info = x.T @ ((w * mu * (1.0 - mu))[:, None] * x)
    return beta, np.linalg.inv(info)


def _logreg_model(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The imputation model of R ``mice.impute.logreg`` for a 0/1 column ``y``.

    Logistic regression of the observed cases on ``x`` (intercept in column 0;
    predictors constant among the observed cases are dropped), with the augmentation of
    :func:`_augment` when more than one case is missing.  Returns ``β̂``, its unscaled
    covariance and the kept predictor columns of ``x`` (intercept excluded).
    """
    obs = np.isfinite(y)
    keep = [j for j in range(1, x.shape[1]) if np.ptp(x[obs, j]) > _TOL]
    xp = x[:, keep]
    if int((~obs).sum()) <= 1:  # mice augments only when more than one case is missing
        ya, xa, wa = y[obs], xp[obs], np.ones(int(obs.sum()))
    else:
        ya, xa, wa = _augment(y[obs], xp[obs], np.unique(y[obs]), xp)
    beta, cov = _logistic_fit(ya, np.column_stack([np.ones(xa.shape[0]), xa]), wa)
    return beta, cov, keep


def _logreg_column(y: np.ndarray, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Impute the NaNs of a 0/1 column ``y`` by Bayesian logistic regression on ``x``.

    The method of R ``mice.impute.logreg`` [vB2018]_ (§3.6): the model of
    :func:`_logreg_model` gives ``β̂`` and ``V``; ``β* = β̂ + chol(V) z`` with
    ``z ~ N(0, I)``, and each missing case is 1 with probability ``expit(xᵀβ*)``.  A
    column whose observed values are all equal is completed with that value.
    """
    obs = np.isfinite(y)
    mis = ~obs
    if not mis.any():
        return y
    if not obs.any():
        raise _Degenerate("no observed value to impute from")
    out = y.copy()
    levels = np.unique(y[obs])
    if levels.size == 1:
        out[mis] = levels[0]
        return out
    beta, cov, keep = _logreg_model(y, x)
    chol = np.linalg.cholesky((cov + cov.T) / 2.0)
    beta_star = beta + chol @ rng.standard_normal(beta.size)
    x_mis = np.column_stack([np.ones(int(mis.sum())), x[mis][:, keep]])
    prob = 1.0 / (1.0 + np.exp(-np.clip(x_mis @ beta_star, -30.0, 30.0)))
    out[mis] = (rng.random(prob.size) <= prob).astype(float)
    return out


def _impute(
    values: np.ndarray,
    arm_ind: np.ndarray,
    columns: Sequence[int],
    has_baseline: bool,
    rng: np.random.Generator,
    *,
    extra: np.ndarray | None = None,
    binary: bool = False,
) -> np.ndarray:
    """One completed copy of ``values``: per arm, visit by visit (in ``columns`` order).

    Imputation model for visit *t*, fitted in each arm separately (so arm and its
    interactions are in the model): intercept, baseline (column 0, if present), the
    previous post-baseline visit (already completed in this copy) and the columns of
    ``extra`` (patient-level predictors: baseline severity of a binary endpoint, the
    analysis covariates).  Continuous and count columns are imputed by predictive mean
    matching (:func:`_pmm_column`), 0/1 columns (``binary``) by Bayesian logistic
    regression (:func:`_logreg_column`).
    """
    out = values.copy()
    column = _logreg_column if binary else _pmm_column
    for group in (0, 1):
        rows = arm_ind == group
        prev: int | None = None
        for j in columns:
            preds = [np.ones(int(rows.sum()))]
            if has_baseline:
                preds.append(out[rows, 0])
            if prev is not None:
                preds.append(out[rows, prev])
            if extra is not None:
                preds.extend(extra[rows].T)
            x = np.column_stack(preds)
            try:
                out[rows, j] = column(out[rows, j], x, rng)
            except _Degenerate as exc:
                raise _Degenerate(
                    f"multiple imputation impossible at visit column {j}: {exc}"
                ) from exc
            prev = j
    return out


def _impute_many(
    values: np.ndarray,
    arm_ind: np.ndarray,
    columns: Sequence[int],
    has_baseline: bool,
    rng: np.random.Generator,
    m: int,
    *,
    extra: np.ndarray | None = None,
    binary: bool = False,
) -> np.ndarray:
    """``m`` completed copies of ``values`` (m, n, v), all drawn at once.

    The imputation model of :func:`_impute`, per arm and visit by visit. The cases
    observed at a visit are the same in every copy, and when their predictors are too
    (missingness is monotone, as after dropout), the model is fitted once and the ``m``
    posterior draws, predictions and donor choices are made as arrays. A visit whose
    observed cases have an imputed predictor (intermittent missingness) is completed copy
    by copy with :func:`_pmm_column` / :func:`_logreg_column`.
    """
    out = np.repeat(values[None, :, :], m, axis=0)
    for group in (0, 1):
        rows = np.flatnonzero(arm_ind == group)
        prev: int | None = None
        for j in columns:
            y = values[rows, j]
            obs = np.isfinite(y)
            mis = ~obs
            if mis.any():
                fixed = [np.ones(len(rows))]
                if has_baseline:
                    fixed.append(values[rows, 0])
                xs = np.column_stack(fixed)  # (n_g, 1 or 2)
                ex = extra[rows] if extra is not None else np.empty((len(rows), 0))
                prev_vals = out[:, rows, prev] if prev is not None else None  # (m, n_g)
                try:
                    if prev_vals is not None and not np.isfinite(values[rows, prev][obs]).all():
                        for i in range(m):  # intermittent: copy by copy
                            x = np.column_stack([xs, prev_vals[i], ex])
                            col = _logreg_column if binary else _pmm_column
                            out[i, rows, j] = col(out[i, rows, j], x, rng)
                    else:
                        out[:, rows[mis], j] = _draw_missing(
                            y, obs, xs, prev_vals, ex, rng, m, binary
                        )
                except _Degenerate as exc:
                    raise _Degenerate(
                        f"multiple imputation impossible at visit column {j}: {exc}"
                    ) from exc
            prev = j
    return out


def _draw_missing(
    y: np.ndarray,
    obs: np.ndarray,
    xs: np.ndarray,
    prev_vals: np.ndarray | None,
    ex: np.ndarray,
    rng: np.random.Generator,
    m: int,
    binary: bool,
) -> np.ndarray:
    """``m`` draws (m, n_mis) of the missing ``y`` under one model of the observed cases.

    Predictors: the fixed columns ``xs`` (intercept, baseline), the previous visit
    ``prev_vals`` (m, n) — the same in every copy for the observed cases — and ``ex``.
    """
    mis = ~obs
    n_obs, n_mis = int(obs.sum()), int(mis.sum())
    if n_obs == 0:
        raise _Degenerate("no observed value to impute from")
    x_obs_parts = [xs[obs]]
    x_mis_parts = [np.broadcast_to(xs[mis], (m, n_mis, xs.shape[1]))]
    if prev_vals is not None:
        x_obs_parts.append(prev_vals[0][obs][:, None])
        x_mis_parts.append(prev_vals[:, mis][:, :, None])
    if ex.shape[1]:
        x_obs_parts.append(ex[obs])
        x_mis_parts.append(np.broadcast_to(ex[mis], (m, n_mis, ex.shape[1])))
    x_obs = np.column_stack(x_obs_parts)
    x_mis = np.concatenate(x_mis_parts, axis=2)  # (m, n_mis, p)
    y_obs = y[obs]
    if binary:
        levels = np.unique(y_obs)
        if levels.size == 1:
            return np.full((m, n_mis), levels[0])
        x_all = np.empty((len(y), x_obs.shape[1]))
        x_all[obs] = x_obs
        x_all[mis] = x_mis[0]  # augmentation statistics use the first copy's predictors
        beta, cov, keep = _logreg_model(y, x_all)
        chol = np.linalg.cholesky((cov + cov.T) / 2.0)
        beta_star = beta[None, :] + rng.standard_normal((m, beta.size)) @ chol.T
        xk = np.concatenate([np.ones((m, n_mis, 1)), x_mis[:, :, keep]], axis=2)
        eta = np.clip(np.einsum("mip,mp->mi", xk, beta_star), -30.0, 30.0)
        prob = 1.0 / (1.0 + np.exp(-eta))
        return (rng.random((m, n_mis)) <= prob).astype(float)
    # predictive mean matching (type-1 matching, as _pmm_column)
    keep = [0] + [k for k in range(1, x_obs.shape[1]) if np.ptp(x_obs[:, k]) > _TOL]
    while len(keep) > 1 and n_obs < len(keep) + 2:
        keep = keep[:-1]
    xo, xm = x_obs[:, keep], x_mis[:, :, keep]
    u, sv, vt = np.linalg.svd(xo, full_matrices=False)
    pos = sv > _TOL * max(1.0, float(sv[0]))
    beta_hat = vt[pos].T @ ((u[:, pos].T @ y_obs) / sv[pos])
    resid = y_obs - xo @ beta_hat
    df = n_obs - int(pos.sum())
    ssr = float(resid @ resid)
    if df > 0 and ssr > 0:
        sigma = np.sqrt(ssr / rng.chisquare(df, size=m))
        z = rng.standard_normal((m, int(pos.sum())))
        beta_star = beta_hat[None, :] + sigma[:, None] * ((z / sv[pos]) @ vt[pos])
    else:
        beta_star = np.broadcast_to(beta_hat, (m, beta_hat.size))
    pred_obs = xo @ beta_hat
    pred_mis = np.einsum("mip,mp->mi", xm, beta_star)
    k = min(_PMM_DONORS, n_obs)
    dist = np.abs(pred_mis[:, :, None] - pred_obs[None, None, :])
    nearest = np.argpartition(dist, k - 1, axis=2)[:, :, :k]
    pick = rng.integers(0, k, size=(m, n_mis))
    return y_obs[np.take_along_axis(nearest, pick[:, :, None], axis=2)[:, :, 0]]


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


def pool_rubin(
    estimates: Sequence[float] | np.ndarray,
    variances: Sequence[float] | np.ndarray,
    *,
    df_complete: float = math.inf,
    alpha: float = 0.05,
) -> dict[str, float]:
    """Combine estimates from ``m`` imputed data sets with Rubin's rules.

    Parameters
    ----------
    estimates, variances
        Point estimates ``Q_l`` and their squared standard errors ``U_l``,
        one per imputation (``m ≥ 2``).
    df_complete
        Degrees of freedom of the complete-data analysis (``inf`` for a
        z-based analysis).  A finite value triggers the Barnard–Rubin
        small-sample correction [BR1999]_.
    alpha
        Two-sided level of the interval and test.

    Returns
    -------
    dict
        ``estimate`` (``Q̄``), ``se`` (``√T`` with ``T = Ū + (1 + 1/m) B``),
        ``df``, ``ci_low``, ``ci_high``, ``p_value`` (Student *t* with ``df``
        degrees of freedom, normal when ``df`` is infinite), ``within`` (``Ū``),
        ``between`` (``B``) and ``fmi`` (``λ = (1 + 1/m) B / T``).

    References
    ----------
    .. [Rubin1987] Rubin (1987), ch. 3.  [BR1999]_ for the degrees of freedom.
    """
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    if q.ndim != 1 or q.shape != u.shape or q.size < 2:
        raise StatisticsError(
            "pool_rubin needs matching 1-d estimates and variances from at least 2 imputations"
        )
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(u)) and np.all(u >= 0)):
        raise StatisticsError("pool_rubin needs finite estimates and non-negative variances")
    m = q.size
    qbar = float(q.mean())
    ubar = float(u.mean())
    b = float(q.var(ddof=1))
    t = ubar + (1.0 + 1.0 / m) * b
    lam = (1.0 + 1.0 / m) * b / t if t > 0 else 0.0
    # Barnard & Rubin (1999), as in R mice::pool: df_old = (m - 1) / λ², df_obs =
    # (ν + 1)/(ν + 3) ν (1 − λ), df = df_old·df_obs/(df_old + df_obs); continuous in B
    df_old = (m - 1) / lam**2 if lam > 0 else math.inf
    if math.isfinite(df_complete) and lam < 1.0:
        df_obs = (df_complete + 1.0) / (df_complete + 3.0) * df_complete * (1.0 - lam)
        df = df_obs if math.isinf(df_old) else 1.0 / (1.0 / df_old + 1.0 / df_obs)
    else:
        df = df_old
    se = math.sqrt(t)
    dist = stats.t(df) if math.isfinite(df) else stats.norm()
    if se > 0:
        crit = float(dist.ppf(1.0 - alpha / 2.0))
        ci_low, ci_high = qbar - crit * se, qbar + crit * se
        p = float(2.0 * dist.sf(abs(qbar) / se))
    else:
        ci_low = ci_high = qbar
        p = math.nan
    return {
        "estimate": qbar,
        "se": se,
        "df": df,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "p_value": p,
        "within": ubar,
        "between": b,
        "fmi": lam,
    }


# --------------------------------------------------------------------------------------
# analyses of one completed (or observed-case) data set
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Est:
    """Result of one analysis; ``estimate``/``se`` on the pooling (analysis) scale."""

    estimate: float
    se: float
    df: float
    ci_low: float
    ci_high: float
    p_value: float
    n_arm: int
    n_ref: int
    note: str | None = None
    log_scale: bool = False  # reported estimate = exp(estimate)


def _design(
    ind: np.ndarray, extra: Sequence[tuple[str, np.ndarray]]
) -> tuple[np.ndarray, list[str], list[str]]:
    """``[1, ind, *extra]`` without extra columns that are constant; returns dropped names."""
    cols = [np.ones_like(ind, dtype=float), ind.astype(float)]
    dropped: list[str] = []
    for name, col in extra:
        if col.size and np.ptp(col) > _TOL:
            cols.append(col)
        else:
            dropped.append(name)
    x = np.column_stack(cols)
    return x, [n for n, _ in extra if n not in dropped], dropped


def _dropped_note(dropped: list[str]) -> str | None:
    return f"constant covariate(s) dropped: {', '.join(dropped)}" if dropped else None


def _join_notes(*notes: str | None) -> str | None:
    kept = [n for n in notes if n]
    return "; ".join(kept) if kept else None


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


def _fit_negbin(
    y: np.ndarray,
    base: np.ndarray,
    ind: np.ndarray,
    cov: np.ndarray,
    cov_names: Sequence[str],
    *,
    alpha: float,
    arm: str,
    reference: str,
    endpoint: str,
    se_kind: str,
) -> _Est:
    """NB2 regression; ``se_kind`` 'robust' (HC1 sandwich, t) or 'model' (Wald z)."""
    from statsmodels.discrete.discrete_model import NegativeBinomial

    ok = np.isfinite(y) & np.isfinite(base) & np.all(np.isfinite(cov), axis=1)
    y, base, ind, cov = y[ok], base[ok], ind[ok], cov[ok]
    n_arm, n_ref = int(ind.sum()), int((1 - ind).sum())
    _check_n(n_arm, n_ref, arm, reference, "negbin")
    if np.any(y < 0) or np.any(np.abs(y - np.round(y)) > 1e-6) or np.any(base < 0):
        raise StatisticsError(
            f"method 'negbin' needs a count endpoint (non-negative integers); {endpoint!r} "
            f"is not; count endpoints: {_fmt_allowed(COUNT_ENDPOINTS)}"
        )
    if y.sum() == 0:
        raise _Degenerate("all counts are zero")
    if y[ind == 1].sum() == 0 or y[ind == 0].sum() == 0:
        raise _Degenerate("all counts are zero in one arm (separation; rate ratio not estimable)")
    x, _, dropped = _design(
        ind,
        [("log(baseline+1)", np.log1p(base)), *((nm, cov[:, i]) for i, nm in enumerate(cov_names))],
    )
    if x.shape[0] <= x.shape[1] + 1:
        raise StatisticsError(
            f"too few patients for negbin: {x.shape[0]} for {x.shape[1] + 1} parameters"
        )
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise _Degenerate("negbin design matrix is rank deficient")
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
    crit = float(dist.ppf(1.0 - alpha / 2.0))
    return _Est(
        estimate=b,
        se=se,
        df=df,
        ci_low=b - crit * se,
        ci_high=b + crit * se,
        p_value=float(2.0 * dist.sf(abs(b) / se)),
        n_arm=n_arm,
        n_ref=n_ref,
        note=_dropped_note(dropped),
        log_scale=True,
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
    crit = float(dist.ppf(1.0 - alpha / 2.0))
    return _Est(
        estimate=est,
        se=se,
        df=df,
        ci_low=est - crit * se,
        ci_high=est + crit * se,
        p_value=float(2.0 * dist.sf(abs(est) / se)),
        n_arm=n_arm,
        n_ref=n_ref,
        note=note,
    )


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------


def describe(endpoints: pd.DataFrame, endpoint_names: str | Sequence[str]) -> pd.DataFrame:
    """Descriptive statistics per endpoint × visit × arm (observed cases).

    Parameters
    ----------
    endpoints
        Long table, one row per patient × visit (see module docstring).  Values
        in rows with ``observed == False`` are treated as missing.
    endpoint_names
        One endpoint name or a sequence of names (numeric columns of
        ``endpoints``).

    Returns
    -------
    pandas.DataFrame
        One row per endpoint × visit × arm with columns

        ``n``, ``mean``, ``sd``
            Number of observed values, their mean and sample SD (``ddof=1``;
            NaN when ``n < 2``).
        ``n_change``, ``change_mean``, ``change_sd``
            Same for the within-patient change ``x_t − x_0`` over patients
            observed at baseline and at the visit (NaN for endpoints without
            baseline values, e.g. ``iga_success``).
        ``n_pct``, ``pct_change_mean``
            Mean of the per-patient percent change ``100 (x_t − x_0) / x_0``
            over patients with ``x_0 > 0`` observed at both visits (patients
            with ``x_0 = 0`` have no defined percent change and are left out).
        ``pct_change_of_means``
            ``100 (mean_t − mean_0) / mean_0`` where ``mean_0`` is the arm's
            baseline mean over all patients observed at baseline and
            ``mean_t`` the visit mean above — the percent change of means
            that many trial reports quote.  It differs from
            ``pct_change_mean`` (mean of ratios ≠ ratio of means).

    Raises
    ------
    StatisticsError
        Unknown endpoint or malformed table.
    """
    names = [endpoint_names] if isinstance(endpoint_names, str) else list(endpoint_names)
    if not names:
        raise StatisticsError("endpoint_names is empty; give at least one endpoint column")
    records: list[dict[str, Any]] = []
    for name in names:
        wide = _wide(endpoints, name)
        has_base = bool(wide.visits.size and abs(wide.visits[0]) <= _TOL)
        for a in sorted({str(x) for x in wide.arm}):
            rows = wide.arm == a
            vals = wide.values[rows]
            base = vals[:, 0] if has_base else np.full(vals.shape[0], np.nan)
            base_obs = base[np.isfinite(base)]
            mean0 = float(base_obs.mean()) if base_obs.size else math.nan
            for j, week in enumerate(wide.visits):
                x = vals[:, j]
                xo = x[np.isfinite(x)]
                both = np.isfinite(x) & np.isfinite(base)
                ch = x[both] - base[both]
                pos = both & (base > 0)
                pct = 100.0 * (x[pos] - base[pos]) / base[pos]
                mean_t = float(xo.mean()) if xo.size else math.nan
                records.append(
                    {
                        "endpoint": name,
                        "visit_week": float(week),
                        "arm": a,
                        "n": int(xo.size),
                        "mean": mean_t,
                        "sd": float(xo.std(ddof=1)) if xo.size > 1 else math.nan,
                        "n_change": int(ch.size),
                        "change_mean": float(ch.mean()) if ch.size else math.nan,
                        "change_sd": float(ch.std(ddof=1)) if ch.size > 1 else math.nan,
                        "n_pct": int(pct.size),
                        "pct_change_mean": float(pct.mean()) if pct.size else math.nan,
                        "pct_change_of_means": (
                            100.0 * (mean_t - mean0) / mean0
                            if math.isfinite(mean0) and mean0 != 0
                            else math.nan
                        ),
                    }
                )
    return pd.DataFrame.from_records(records)


def compare(
    endpoints: pd.DataFrame,
    *,
    endpoint: str,
    visit_week: float,
    arm: str,
    reference: str,
    method: Method | str,
    missing: MissingPolicy | str = "observed",
    seed: int = 0,
    alpha: float = 0.05,
    n_imputations: int = 20,
    threshold: float | None = None,
    threshold_kind: Literal["absolute", "percent"] | str = "absolute",
    covariates: Sequence[str] = (),
    severity: str | None = None,
    cov_type: str = "nonrobust",
    responder_test: Literal["auto", "score", "fisher"] | str = "auto",
    negbin_se: Literal["robust", "model"] | str = "robust",
) -> dict[str, Any]:
    """Compare ``arm`` with ``reference`` on one endpoint at one visit.

    Parameters
    ----------
    endpoints
        Long table, one row per patient × visit (module docstring).  Rows with
        ``observed == False`` count as missing whatever their value.
    endpoint
        Endpoint column (any numeric non-identifier column is accepted, so a
        derived responder column works too).
    visit_week
        Post-baseline visit at which the arms are compared.
    arm, reference
        Labels in the ``arm`` column; estimates are ``arm − reference`` (or
        ``arm / reference`` for the rate ratio).
    method
        ``'ancova'``
            OLS of the change from baseline on arm and baseline value
            ([FDA2018]_, [EMA2015]_).  Estimate: adjusted difference in mean
            change; *t* interval and test (classical SEs by default, see
            ``cov_type``).
        ``'negbin'``
            NB2 regression (statsmodels ``NegativeBinomial``, dispersion
            ``alpha`` estimated by maximum likelihood jointly with the means,
            [Lawless1987]_) of the count at the visit on arm and
            ``log(baseline + 1)``.  Estimate: rate ratio ``exp(β_arm)`` with a
            Wald interval and test on the log scale, by default with a
            sandwich (HC1) standard error and a *t* reference with ``n − k``
            degrees of freedom (``k`` parameters including ``alpha``); see
            ``negbin_se``.
        ``'responder'``
            Risk difference of a 0/1 endpoint, or of the derived responder
            "improvement from baseline ≥ ``threshold``" (improvement =
            decrease, as for every acne severity endpoint).  Newcombe hybrid
            score interval [Newcombe1998]_ (statsmodels
            ``confint_proportions_2indep``); p-value from the Miettinen–Nurminen
            score test [MN1985]_ (``test_proportions_2indep``) or, when an
            expected cell count is below 5 (or ``responder_test='fisher'``),
            Fisher's exact test, which is conservative.
        ``'mmrm'``
            Mixed model for repeated measures [Mallinckrodt2008]_ of the change
            from baseline at all post-baseline visits (visits observed in both
            arms): fixed effects for visit, arm × visit and baseline × visit (plus
            ``covariates``), unstructured within-patient covariance across
            visits, REML (:func:`gutskin.trial.mmrm.fit`; the model of SAS
            ``PROC MIXED TYPE=UN`` and R ``nlme::gls`` with ``corSymm`` +
            ``varIdent``).  Estimate: the least-squares mean difference at
            ``visit_week``; *t* interval and test with Satterthwaite degrees of
            freedom.  Valid under MAR dropout.  When the unstructured fit does not
            converge, heterogeneous compound symmetry is used and ``note`` says so.
    missing
        Applies to ``ancova``, ``negbin`` and ``responder``.  ``mmrm`` is always
        fitted to the observed data (its likelihood is valid under MAR; fitting it to
        imputed data would reduce it to per-visit least squares): with ``'locf'`` or
        ``'mi'`` it is still fitted to the observed data, ``missing`` in the result
        says ``'observed'`` and ``note`` says why.

        ``'observed'``
            Observed cases at the visit (all observed visits for ``mmrm``).
        ``'locf'``
            Last observation carried forward within patient, baseline
            included (a patient with no post-baseline value keeps the
            baseline, i.e. zero change).  Single imputation: intervals are
            too narrow and the estimate is biased unless the missing values
            are truly flat; reported for comparison with older trials.
        ``'mi'``
            Multiple imputation [Rubin1987]_: ``n_imputations`` completed data
            sets, each arm imputed separately, visit by visit up to
            ``visit_week``.  Continuous and count endpoints (and the endpoint a
            threshold responder is derived from): Bayesian linear regression on
            baseline, the previous visit and ``covariates`` with predictive mean
            matching (5 donors; [vB2018]_), so counts stay integers.  0/1
            endpoints: Bayesian logistic regression (R ``mice.impute.logreg``,
            with its augmentation against perfect prediction) on the baseline
            value of ``severity``, the previous visit and ``covariates``.
            Estimates (log rate ratio for ``negbin``, risk difference with its
            Wald variance for ``responder``) are combined with Rubin's rules and
            Barnard–Rubin degrees of freedom (:func:`pool_rubin`; infinite
            complete-data df for the risk difference, as R
            ``mice::pool.scalar(n = Inf)``); interval and test are then Student
            *t* with the pooled df.  Valid under MAR given arm, baseline, the
            previous visit and the covariates.  When nothing needs imputing the
            observed-case result is returned.  Seeded by ``seed``.
    seed
        Seed of the imputation random generator (only ``missing='mi'``).
    alpha
        Two-sided significance level; the interval has level ``1 − alpha``.
    n_imputations
        Number of imputations for ``missing='mi'`` (≥ 2).
    threshold, threshold_kind
        For ``responder`` on a non-binary endpoint: a patient responds when
        ``x_0 − x_t ≥ threshold`` (``'absolute'``) or
        ``100 (x_0 − x_t) / x_0 ≥ threshold`` (``'percent'``; patients with
        ``x_0 = 0`` are left out).
    covariates
        Extra patient-level covariates (e.g. ``('sex', 'age')``, text columns
        dummy coded) for ``ancova``, ``negbin`` and ``mmrm``, and predictors of
        every imputation model.  The risk difference of ``responder`` is
        unadjusted.  Patients with a missing covariate are not analysed.
    severity
        Column whose baseline (visit 0) value is a predictor of the imputation
        model of a 0/1 endpoint under ``missing='mi'``; by default the endpoint's
        severity scale in the registry (``iga`` for ``iga_success``, ``gags`` for
        ``gags_improved``), none for other columns.
    cov_type
        ``ancova`` standard errors: ``'nonrobust'`` (default) or ``'HC0'`` …
        ``'HC3'`` heteroscedasticity-consistent.
    responder_test
        ``'auto'`` (score test, Fisher exact when an expected count is < 5),
        ``'score'`` or ``'fisher'``.
    negbin_se
        ``'robust'`` (default): HC0 sandwich of the NB2 likelihood
        (statsmodels ``cov_type='HC0'``) times ``√(n / (n − k))`` (HC1) and
        Student *t* with n − k df; valid when the NB variance function is wrong
        (e.g. patient frailty), and close to nominal at 20–50 patients per
        arm.  ``'model'``: model-based Wald *z* as reported by statsmodels,
        R ``MASS::glm.nb`` or SAS GENMOD — anti-conservative at small *n*
        (about 6–7 % at nominal 5 % with 50 per arm in this package's
        validation, because the dispersion MLE is biased downwards;
        [SahaPaul2005]_).  HC1: [MacKinnonWhite1985]_.

    Returns
    -------
    dict
        ``endpoint, visit_week, arm, reference, method, missing, covariates,
        estimate, ci_low, ci_high, p_value, n_arm, n_reference, note``
        (``missing`` is the handling actually used, ``covariates`` the adjustment
        covariates of the model, empty for ``responder``).  ``note`` is
        ``None`` or a short remark; degenerate data (zero variance, all-zero
        counts, separation, non-convergence) give NaN ``estimate``/CI/
        ``p_value`` and the reason in ``note`` instead of raising.

    Raises
    ------
    StatisticsError
        Unknown endpoint, arm, visit, method, missing policy or option; an
        endpoint unsuitable for the method; fewer than 2 analysable patients
        in an arm.
    """
    if method not in METHODS:
        raise StatisticsError(f"method {method!r} is unknown; allowed: {_fmt_allowed(METHODS)}")
    if missing not in MISSING_POLICIES:
        raise StatisticsError(
            f"missing {missing!r} is unknown; allowed: {_fmt_allowed(MISSING_POLICIES)}"
        )
    if not (isinstance(alpha, float | int) and 0.0 < float(alpha) < 1.0):
        raise StatisticsError(f"alpha must be in (0, 1), got {alpha!r}")
    if cov_type not in _COV_TYPES:
        raise StatisticsError(
            f"cov_type {cov_type!r} is unknown; allowed: {_fmt_allowed(_COV_TYPES)}"
        )
    if responder_test not in _RESPONDER_TESTS:
        raise StatisticsError(
            f"responder_test {responder_test!r} is unknown; allowed: "
            f"{_fmt_allowed(_RESPONDER_TESTS)}"
        )
    if negbin_se not in _NEGBIN_SE:
        raise StatisticsError(
            f"negbin_se {negbin_se!r} is unknown; allowed: {_fmt_allowed(_NEGBIN_SE)}"
        )
    if threshold_kind not in _THRESHOLD_KINDS:
        raise StatisticsError(
            f"threshold_kind {threshold_kind!r} is unknown; allowed: "
            f"{_fmt_allowed(_THRESHOLD_KINDS)}"
        )
    if missing == "mi" and (not isinstance(n_imputations, int) or n_imputations < 2):
        raise StatisticsError(f"n_imputations must be an integer ≥ 2, got {n_imputations!r}")
    if isinstance(covariates, str):
        covariates = (covariates,)
    alpha = float(alpha)

    wide = _wide(endpoints, endpoint, covariates)
    arms = sorted({str(x) for x in wide.arm})
    for field, label in (("arm", arm), ("reference", reference)):
        if label not in arms:
            raise StatisticsError(
                f"{field} {label!r} is not in the data; allowed: {_fmt_allowed(arms)}"
            )
    if arm == reference:
        raise StatisticsError(f"arm and reference must differ, both are {arm!r}")
    post_weeks = [float(w) for w in wide.visits if w > _TOL]
    hit = np.flatnonzero(np.abs(wide.visits - float(visit_week)) <= _TOL)
    if hit.size == 0 or wide.visits[hit[0]] <= _TOL:
        raise StatisticsError(
            f"visit_week {visit_week!r} is not a post-baseline visit of the data; allowed: "
            f"{_fmt_weeks(post_weeks)}"
        )
    target_col = int(hit[0])

    sel = (wide.arm == arm) | (wide.arm == reference)
    values = wide.values[sel]
    ind = (wide.arm[sel] == arm).astype(float)
    cov = wide.covariates[sel]
    mmrm_note = None
    if method == "mmrm" and missing != "observed":
        mmrm_note = (
            f"mmrm is fitted to the observed data (likelihood-based, valid under MAR); "
            f"missing={missing!r} applies to the other methods"
        )
        missing = "observed"
    binary_mi = method == "responder" and threshold is None and missing == "mi"
    sev_base: np.ndarray | None = None
    sev_name = severity if severity is not None else _severity_of(endpoint)
    if (
        binary_mi
        and sev_name is not None
        and (severity is not None or sev_name in endpoints.columns)
    ):
        sw = _wide(endpoints, sev_name)
        if abs(sw.visits[0]) > _TOL:
            raise StatisticsError(f"severity {sev_name!r} has no baseline (visit_week 0) values")
        sev_base = sw.values[sel, 0]
    if cov.shape[1]:  # patients with a missing covariate cannot be analysed
        fin = np.all(np.isfinite(cov), axis=1)
        values, ind, cov = values[fin], ind[fin], cov[fin]
        sev_base = None if sev_base is None else sev_base[fin]
    has_baseline = bool(abs(wide.visits[0]) <= _TOL and np.isfinite(values[:, 0]).any())
    is_binary = bool(np.all(np.isin(values[np.isfinite(values)], (0.0, 1.0))))
    derive = method == "responder" and threshold is not None
    if method == "responder" and threshold is None and not is_binary:
        raise StatisticsError(
            f"method 'responder' needs a 0/1 endpoint; {endpoint!r} is not binary: pass "
            f"threshold= (improvement from baseline, threshold_kind 'absolute' or 'percent') "
            f"or use a binary endpoint such as {_fmt_allowed(BINARY_ENDPOINTS)}"
        )
    needs_baseline = method in ("ancova", "negbin", "mmrm") or derive
    if needs_baseline and not has_baseline:
        raise StatisticsError(
            f"method {method!r} needs baseline (visit_week 0) values of endpoint {endpoint!r}, "
            f"which has none"
        )
    if needs_baseline:  # patients without a baseline value cannot be analysed
        keep = np.isfinite(values[:, 0])
        values, ind, cov = values[keep], ind[keep], cov[keep]
        sev_base = None if sev_base is None else sev_base[keep]
    if sev_base is not None and not np.isfinite(sev_base).all():
        # a missing baseline severity enters the imputation model at the mean
        sev_base = np.where(np.isfinite(sev_base), sev_base, np.nanmean(sev_base))
    aux = [cov] if cov.shape[1] else []
    if sev_base is not None and np.isfinite(sev_base).all():
        aux.insert(0, sev_base[:, None])
    extra = np.column_stack(aux) if aux else None

    first_post = 1 if abs(wide.visits[0]) <= _TOL else 0
    post_cols = list(range(first_post, values.shape[1]))
    if method == "mmrm":
        impute_cols = post_cols
    else:
        impute_cols = [j for j in post_cols if j <= target_col]

    def analyse(vals: np.ndarray, need_df: bool = True, warm: dict[str, Any] | None = None) -> _Est:
        base = vals[:, 0] if has_baseline else np.full(vals.shape[0], np.nan)
        y = vals[:, target_col]
        if method == "ancova":
            return _fit_ancova(
                y,
                base,
                ind,
                cov,
                wide.covariate_names,
                alpha=alpha,
                cov_type=cov_type,
                arm=arm,
                reference=reference,
            )
        if method == "negbin":
            return _fit_negbin(
                y,
                base,
                ind,
                cov,
                wide.covariate_names,
                alpha=alpha,
                arm=arm,
                reference=reference,
                endpoint=endpoint,
                se_kind=negbin_se,
            )
        if method == "responder":
            if derive:
                improvement = base - y
                if threshold_kind == "percent":
                    with np.errstate(divide="ignore", invalid="ignore"):
                        improvement = np.where(base > 0, 100.0 * improvement / base, np.nan)
                r = np.where(np.isfinite(improvement), (improvement >= threshold) * 1.0, np.nan)
            else:
                r = y
            return _fit_responder(
                r, ind, alpha=alpha, arm=arm, reference=reference, test=responder_test
            )
        post = vals[:, post_cols]
        target = post_cols.index(target_col)
        if len(post_cols) < 2:
            est = _fit_ancova(
                y,
                base,
                ind,
                cov,
                wide.covariate_names,
                alpha=alpha,
                cov_type="nonrobust",
                arm=arm,
                reference=reference,
            )
            return replace(
                est,
                note=_join_notes(est.note, "single post-baseline visit: mmrm reduces to ancova"),
            )
        return _fit_mmrm(
            post,
            base,
            ind,
            cov,
            wide.covariate_names,
            target,
            alpha=alpha,
            arm=arm,
            reference=reference,
            need_df=need_df,
            warm=warm,
        )

    result: dict[str, Any] = {
        "endpoint": endpoint,
        "visit_week": float(wide.visits[target_col]),
        "arm": arm,
        "reference": reference,
        "method": method,
        "missing": missing,
        "covariates": [] if method == "responder" else list(covariates),
    }
    n_arm_all, n_ref_all = int(ind.sum()), int((1 - ind).sum())
    try:
        if missing == "locf":
            est = analyse(_locf(values))
        elif (
            missing == "mi"
            and np.isnan(values[:, impute_cols if method == "mmrm" else [target_col]]).any()
        ):
            _check_n(n_arm_all, n_ref_all, arm, reference, method)
            rng = run_rng(seed, "imputation")
            completed = _impute_many(
                values,
                ind,
                impute_cols,
                has_baseline,
                rng,
                n_imputations,
                extra=extra,
                binary=binary_mi,
            )
            if method == "ancova" and cov_type == "nonrobust":
                fits = _fit_ancova_many(
                    completed[:, :, target_col],
                    values[:, 0],
                    ind,
                    cov,
                    wide.covariate_names,
                    alpha=alpha,
                    arm=arm,
                    reference=reference,
                )
            else:
                # only the first fit's complete-data df enters Rubin's rules
                warm: dict[str, Any] = {}
                fits = [
                    analyse(completed[i], need_df=i == 0, warm=warm) for i in range(n_imputations)
                ]
            pooled = pool_rubin(
                [f.estimate for f in fits],
                [f.se**2 for f in fits],
                df_complete=fits[0].df,
                alpha=alpha,
            )
            note = f"multiple imputation, m={n_imputations}, fmi={pooled['fmi']:.2f}"
            if not math.isfinite(pooled["p_value"]):
                note += "; zero total variance"
            fit_notes = {f.note for f in fits if f.note}
            est = _Est(
                estimate=pooled["estimate"],
                se=pooled["se"],
                df=pooled["df"],
                ci_low=pooled["ci_low"],
                ci_high=pooled["ci_high"],
                p_value=pooled["p_value"],
                n_arm=fits[0].n_arm,
                n_ref=fits[0].n_ref,
                note=_join_notes(note, *sorted(fit_notes)),
                log_scale=fits[0].log_scale,
            )
        else:
            est = analyse(values)
            if missing == "mi":
                est = replace(
                    est, note=_join_notes(est.note, "nothing to impute: observed-case analysis")
                )
        if mmrm_note:
            est = replace(est, note=_join_notes(mmrm_note, est.note))
    except _Degenerate as exc:
        result.update(
            estimate=math.nan,
            ci_low=math.nan,
            ci_high=math.nan,
            p_value=math.nan,
            n_arm=n_arm_all,
            n_reference=n_ref_all,
            note=_join_notes(mmrm_note, str(exc)),
        )
        return result
    f = math.exp if est.log_scale else float
    result.update(
        estimate=f(est.estimate),
        ci_low=f(est.ci_low),
        ci_high=f(est.ci_high),
        p_value=est.p_value,
        n_arm=est.n_arm,
        n_reference=est.n_ref,
        note=est.note,
    )
    return result


def power_from_pvalues(
    p_values: Sequence[float] | np.ndarray | pd.Series,
    alpha: float = 0.05,
    *,
    conf_level: float = 0.95,
    method: Literal["wilson", "beta"] | str = "beta",
) -> dict[str, float | int]:
    """Empirical power (rejection rate) of replicate trials with a binomial CI.

    Parameters
    ----------
    p_values
        One p-value per replicate trial.  NaN (a degenerate replicate) counts
        as a non-rejection, so failed analyses lower the power rather than
        vanish.
    alpha
        Significance level: a replicate rejects when ``p < alpha``.
    conf_level
        Level of the interval for the power.
    method
        ``'beta'`` (Clopper–Pearson exact, the default; conservative) or
        ``'wilson'`` (Wilson score), computed by statsmodels
        ``proportion_confint``.

    Returns
    -------
    dict
        ``power``, ``ci_low``, ``ci_high``, ``n_replicates``, ``n_rejected``
        and ``n_nan``.
    """
    from statsmodels.stats.proportion import proportion_confint

    p = np.asarray(p_values, dtype=float).ravel()
    if p.size == 0:
        raise StatisticsError("p_values is empty; give one p-value per replicate")
    if not 0.0 < alpha < 1.0:
        raise StatisticsError(f"alpha must be in (0, 1), got {alpha!r}")
    if not 0.0 < conf_level < 1.0:
        raise StatisticsError(f"conf_level must be in (0, 1), got {conf_level!r}")
    if method not in ("wilson", "beta"):
        raise StatisticsError(f"method {method!r} is unknown; allowed: 'wilson', 'beta'")
    finite = p[np.isfinite(p)]
    if np.any((finite < 0) | (finite > 1)):
        raise StatisticsError("p_values must lie in [0, 1] (NaN allowed)")
    n = int(p.size)
    k = int(np.sum(finite < alpha))
    lo, hi = proportion_confint(k, n, alpha=1.0 - conf_level, method=method)
    return {
        "power": k / n,
        "ci_low": float(lo),
        "ci_high": float(hi),
        "n_replicates": n,
        "n_rejected": k,
        "n_nan": int(p.size - finite.size),
    }
