"""Summaries: descriptive statistics per arm of one trial, and power over replicate trials.

:func:`describe` summarises, per endpoint × visit × arm, the long-format table
``endpoints`` that the trial runner produces: one row per patient × visit (``patient``,
``arm``, ``visit_week`` with 0 = baseline, ``observed``, covariates ``sex`` and ``age``
and one column per endpoint, NaN where not observed).  :func:`power_from_pvalues` turns
the p-values of replicate trials into an empirical power with a binomial confidence
interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from gutskin.trial.methods.core import _TOL, StatisticsError
from gutskin.trial.wide import _wide

__all__ = ["describe", "power_from_pvalues"]


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
