"""Missing data: last observation carried forward, multiple imputation, Rubin's rules.

References
----------
.. [Rubin1987] Rubin, D. B. (1987). *Multiple Imputation for Nonresponse in Surveys*.
   Wiley.
.. [BR1999] Barnard, J. & Rubin, D. B. (1999). Small-sample degrees of freedom with
   multiple imputation. *Biometrika* 86, 948–955.
.. [vB2018] van Buuren, S. (2018). *Flexible Imputation of Missing Data*, 2nd ed.,
   §3.4 (predictive mean matching), §3.6 (logistic regression). CRC Press.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from gutskin.trial.methods.core import _TOL, StatisticsError, _Degenerate

__all__ = ["pool_rubin"]

_PMM_DONORS = 5


def _locf(values: np.ndarray) -> np.ndarray:
    """Carry the last observation forward along the visit axis (baseline included)."""
    out = values.copy()
    for j in range(1, out.shape[1]):
        gap = np.isnan(out[:, j])
        out[gap, j] = out[gap, j - 1]
    return out


def _pmm_regression(
    x_obs: np.ndarray, y_obs: np.ndarray
) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, float]:
    """The least-squares fit behind predictive mean matching, on the observed cases.

    Predictors constant among the observed cases are dropped (never column 0, the
    intercept), then trailing ones until at least 2 residual degrees of freedom remain;
    the fit is by SVD with singular values below ``_TOL`` (relative) left out.

    Parameters
    ----------
    x_obs : ndarray
        Predictors of the observed cases, (n_obs, p).
    y_obs : ndarray
        Their observed values, (n_obs,).

    Returns
    -------
    tuple
        ``(keep, x_kept, beta_hat, sv, vt, df, ssr)``: the kept predictor columns,
        ``x_obs[:, keep]``, the coefficients, the retained singular values and right
        singular vectors (rows), the residual degrees of freedom and the residual sum
        of squares.
    """
    n_obs = y_obs.size
    keep = [0] + [j for j in range(1, x_obs.shape[1]) if np.ptp(x_obs[:, j]) > _TOL]
    while len(keep) > 1 and n_obs < len(keep) + 2:
        keep = keep[:-1]
    xo = x_obs[:, keep]
    u, sv, vt = np.linalg.svd(xo, full_matrices=False)
    pos = sv > _TOL * max(1.0, float(sv[0]))
    beta_hat = vt[pos].T @ ((u[:, pos].T @ y_obs) / sv[pos])
    resid = y_obs - xo @ beta_hat
    df = n_obs - int(pos.sum())
    ssr = float(resid @ resid)
    return keep, xo, beta_hat, sv[pos], vt[pos], df, ssr


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
    keep, x_obs, beta_hat, sv, vt, df, ssr = _pmm_regression(x[obs], y_obs)
    # X = U S Vᵀ, so (XᵀX)⁺ = V S⁻² Vᵀ and β̂ + σ* V S⁻¹ z ~ N(β̂, σ*² (XᵀX)⁺)
    beta_star = beta_hat
    if df > 0 and ssr > 0:
        sigma = math.sqrt(ssr / float(stats.chi2.rvs(df, random_state=rng)))
        z = np.atleast_1d(stats.norm.rvs(size=sv.size, random_state=rng))
        beta_star = beta_hat + sigma * (vt.T @ (z / sv))
    pred_obs = x_obs @ beta_hat
    pred_mis = x[mis][:, keep] @ beta_star
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

    Imputation model for visit *t*, fitted in each arm separately (so arm and its
    interactions are in the model): intercept, baseline (column 0, if present), the
    previous post-baseline visit (already completed in the copy) and the columns of
    ``extra`` (patient-level predictors: baseline severity of a binary endpoint, the
    analysis covariates). Continuous and count columns are imputed by predictive mean
    matching (:func:`_pmm_column`), 0/1 columns (``binary``) by Bayesian logistic
    regression (:func:`_logreg_column`). The cases
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
    keep, xo, beta_hat, sv, vt, df, ssr = _pmm_regression(x_obs, y_obs)
    xm = x_mis[:, :, keep]
    if df > 0 and ssr > 0:
        sigma = np.sqrt(ssr / rng.chisquare(df, size=m))
        z = rng.standard_normal((m, sv.size))
        beta_star = beta_hat[None, :] + sigma[:, None] * ((z / sv) @ vt)
    else:
        beta_star = np.broadcast_to(beta_hat, (m, beta_hat.size))
    pred_obs = xo @ beta_hat
    pred_mis = np.einsum("mip,mp->mi", xm, beta_star)
    k = min(_PMM_DONORS, n_obs)
    dist = np.abs(pred_mis[:, :, None] - pred_obs[None, None, :])
    nearest = np.argpartition(dist, k - 1, axis=2)[:, :, :k]
    pick = rng.integers(0, k, size=(m, n_mis))
    return y_obs[np.take_along_axis(nearest, pick[:, :, None], axis=2)[:, :, 0]]


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
