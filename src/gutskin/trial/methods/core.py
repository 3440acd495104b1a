"""What every statistical method shares: its input, its estimate, its record, its errors."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["MethodInput", "MethodSpec", "StatisticsError"]

_TOL = 1e-9


@dataclass(frozen=True)
class MethodInput:
    """One data set for one comparison, in wide layout (the arms' patients only).

    ``values`` is patients × visits (NaN = missing), column 0 the baseline when
    ``has_baseline``; ``ind`` is 1 for the compared arm, 0 for the reference.
    """

    values: np.ndarray
    ind: np.ndarray
    cov: np.ndarray
    cov_names: tuple[str, ...]
    has_baseline: bool
    target_col: int
    post_cols: tuple[int, ...]
    arm: str
    reference: str
    endpoint: str
    alpha: float
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> np.ndarray:
        """Baseline values (NaN without a baseline visit)."""
        if self.has_baseline:
            return self.values[:, 0]
        return np.full(self.values.shape[0], np.nan)

    @property
    def y(self) -> np.ndarray:
        """Values at the compared visit."""
        return self.values[:, self.target_col]

    def with_values(self, values: np.ndarray) -> MethodInput:
        """The same comparison on another (e.g. completed) data set."""
        return MethodInput(
            values, self.ind, self.cov, self.cov_names, self.has_baseline, self.target_col,
            self.post_cols, self.arm, self.reference, self.endpoint, self.alpha, self.options,
        )  # fmt: skip


@dataclass(frozen=True)
class MethodSpec:
    """A statistical method's record in :data:`gutskin.trial.methods.REGISTRY`.

    Attributes
    ----------
    name : str
        As written in design files and passed to ``compare(method=...)``.
    kinds : tuple of str
        Endpoint kinds it accepts (the design schema checks comparisons against them).
    model, estimand, reports : str
        One line each for the docs: the model, what it estimates, what is reported.
    analyse : callable
        ``analyse(data: MethodInput, *, need_df, warm) -> Estimate``.
    analyse_many : callable, optional
        ``analyse_many(ys (m, n), data) -> list[Estimate]``: the method on ``m`` completed
        sets at once (multiple imputation), where it can share work.
    needs_baseline : callable
        ``needs_baseline(options) -> bool``: whether baseline values are required.
    binary_outcome : callable
        ``binary_outcome(options) -> bool``: the analysed values are 0/1 (checked, and
        imputed by logistic regression under multiple imputation).
    adjusted : bool
        The model adjusts for covariates (reported in each comparison's ``covariates``).
    observed_only : bool
        Always fitted to the observed data (likelihood-based, valid under MAR), whatever
        the missing-data policy.
    log_scale : bool
        The estimate is reported as ``exp`` of the analysis-scale estimate.
    """

    name: str
    kinds: tuple[str, ...]
    model: str
    estimand: str
    reports: str
    analyse: Callable[..., Any]
    analyse_many: Callable[..., list[Any] | None] | None = None
    needs_baseline: Callable[[Mapping[str, Any]], bool] = lambda options: True
    binary_outcome: Callable[[Mapping[str, Any]], bool] = lambda options: False
    adjusted: bool = True
    observed_only: bool = False
    log_scale: bool = False


class StatisticsError(ValueError):
    """Invalid input to a trial statistic (unknown field value, too few patients, ...)."""


class _Degenerate(Exception):
    """The data allow no estimate (zero variance, all-zero counts, separation, ...)."""


# --------------------------------------------------------------------------------------
# data preparation
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


def _fmt_allowed(values: Iterable[Any]) -> str:
    return ", ".join(repr(v) for v in values)


def _check_n(n_arm: int, n_ref: int, arm: str, reference: str, what: str) -> None:
    if n_arm < 2 or n_ref < 2:
        raise StatisticsError(
            f"too few patients for {what}: arm {arm!r} has {n_arm}, reference "
            f"{reference!r} has {n_ref}; at least 2 per arm are required"
        )


# --------------------------------------------------------------------------------------
# multiple imputation (predictive mean matching, per arm, sequential over visits)
# --------------------------------------------------------------------------------------


def _complete_cases(
    y: np.ndarray,
    base: np.ndarray,
    ind: np.ndarray,
    cov: np.ndarray,
    *,
    arm: str,
    reference: str,
    what: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
    """The patients with a finite outcome, baseline and covariates, at least 2 per arm.

    Parameters
    ----------
    y : ndarray
        Outcomes, (n,) or (m, n) for ``m`` completed data sets (a patient is kept when
        finite in every one).
    base, ind : ndarray
        Baseline values and the arm indicator, (n,).
    cov : ndarray
        Covariates, (n, k).
    arm, reference, what : str
        The compared arms and the method's name, for the error message.

    Returns
    -------
    tuple
        ``(y, base, ind, cov, n_arm, n_ref)`` restricted to the kept patients, with the
        patient counts of the compared and the reference arm.

    Raises
    ------
    StatisticsError
        When an arm keeps fewer than 2 patients.
    """
    finite_y = np.isfinite(y) if y.ndim == 1 else np.isfinite(y).all(axis=0)
    ok = finite_y & np.isfinite(base) & np.all(np.isfinite(cov), axis=1)
    y, base, ind, cov = y[..., ok], base[ok], ind[ok], cov[ok]
    n_arm, n_ref = int(ind.sum()), int((1 - ind).sum())
    _check_n(n_arm, n_ref, arm, reference, what)
    return y, base, ind, cov, n_arm, n_ref


def _adjusted_design(
    ind: np.ndarray,
    baseline: tuple[str, np.ndarray],
    cov: np.ndarray,
    cov_names: Sequence[str],
    *,
    what: str,
    terms: str,
    extra: int = 0,
) -> tuple[np.ndarray, list[str]]:
    """The design ``[1, arm, baseline, covariates]`` of an adjusted model, checked.

    Parameters
    ----------
    ind : ndarray
        Arm indicator of the analysed patients, (n,).
    baseline : tuple of (str, ndarray)
        The baseline column's name and values (e.g. the baseline or its transform).
    cov : ndarray
        Covariates, (n, k), named by ``cov_names``.
    cov_names : sequence of str
        Covariate names.
    what : str
        The method's name, for the messages.
    terms : str
        What the parameters are called in the message ("model terms", "parameters").
    extra : int
        Parameters beyond the design's columns (e.g. a dispersion parameter).

    Returns
    -------
    tuple
        ``(x, dropped)``: the design matrix without constant columns, and the names of
        the columns dropped.

    Raises
    ------
    StatisticsError
        When there are no more patients than parameters.
    _Degenerate
        When the design is rank deficient.
    """
    x, _, dropped = _design(ind, [baseline, *((nm, cov[:, i]) for i, nm in enumerate(cov_names))])
    if x.shape[0] <= x.shape[1] + extra:
        raise StatisticsError(
            f"too few patients for {what}: {x.shape[0]} for {x.shape[1] + extra} {terms}"
        )
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise _Degenerate(f"{what} design matrix is rank deficient")
    return x, dropped


def _wald_est(
    est: float,
    se: float,
    df: float,
    dist: Any,
    *,
    alpha: float,
    n_arm: int,
    n_ref: int,
    note: str | None,
    log_scale: bool = False,
) -> _Est:
    """The estimate with its two-sided interval and test from a reference distribution.

    Parameters
    ----------
    est, se, df : float
        Estimate, standard error and degrees of freedom (``inf`` for a z reference).
    dist : scipy.stats frozen distribution
        The reference distribution of ``est / se`` (a t or the standard normal).
    alpha : float
        Two-sided level: the interval is ``est ± q(1 − alpha/2) se``.
    n_arm, n_ref : int
        Patients analysed per arm.
    note : str or None
        The analysis note.
    log_scale : bool
        The estimate is on the log scale (reported as ``exp``).

    Returns
    -------
    _Est
        With ``p_value = 2 P(|T| > |est| / se)``.
    """
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
        log_scale=log_scale,
    )


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
