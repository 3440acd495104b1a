"""The long endpoints table, checked and pivoted to one endpoint as patients × visits.

The trial runner writes ``endpoints`` with one row per patient × visit (``patient``,
``arm``, ``visit_week`` with 0 = baseline, ``observed``, covariates ``sex`` and ``age``
and one column per endpoint, NaN where not observed).  :func:`_wide` checks such a
table and lays one endpoint out as patients × visits (values in rows with
``observed == False`` count as missing), with the requested covariates as design
columns; :func:`gutskin.trial.statistics.compare` and
:func:`gutskin.trial.summaries.describe` work on that layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gutskin.trial.methods.core import StatisticsError, _fmt_allowed

__all__: list[str] = []  # private helpers of compare and describe

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


@dataclass(frozen=True)
class _Wide:
    """One endpoint in wide layout: patients × visits."""

    patients: np.ndarray  # (n,) patient ids
    arm: np.ndarray  # (n,) arm label per patient (str)
    visits: np.ndarray  # (v,) sorted visit weeks
    values: np.ndarray  # (n, v) float, NaN = missing / not observed
    covariates: np.ndarray  # (n, k) float design columns of the requested covariates
    covariate_names: tuple[str, ...]


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
