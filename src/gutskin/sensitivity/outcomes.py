"""Outcomes of a sensitivity analysis: what is computed from each evaluated factor sample.

An outcome is written ``[STAT:]VARIABLE[@TIME]``:

* ``VARIABLE`` is a **model output** (any state or observable of the model, e.g.
  ``inflammatory_lesions``, ``skin_IL8``, ``gut_shannon``: the model's expected,
  noise-free value) or a **trial endpoint** (``inflammatory``, ``iga``,
  ``iga_success``, ``gags_improved``, ...; see :data:`gutskin.trial.design.ENDPOINTS`),
  observed through the trial's measurement model (counting noise, IGA and GAGS
  grading) with the same uniforms for every factor sample.  Where a name is both, the
  model output is meant; write ``observed.NAME`` for the endpoint.
* ``STAT`` (default ``mean``) is one of :data:`STATS`: the cohort mean in the analysed
  arm, its change or percent change from baseline, or the difference to the reference
  arm (same cohort, so a paired treatment effect).
* ``TIME`` is a day (``@56`` or ``@d56``) or a week (``@w8``).  Without ``@TIME`` the
  outcome is **time-resolved**: one value (and one set of indices) per output day, every
  ``every`` days up to the end of the trial.

Examples: ``inflammatory_lesions@56``, ``pct_change:inflammatory_lesions@w8``,
``diff:inflammatory@w8`` (observed counts, arm minus placebo), ``diff:iga_success@w12``
(difference in IGA success rate), ``pct_diff:inflammatory_lesions`` (time-resolved).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gutskin.engine.spec import ModelSpec
from gutskin.trial.design import ENDPOINTS
from gutskin.trial.endpoints import REGISTRY, names_of_kind

__all__ = ["STATS", "Outcome", "OutcomeError", "parse_outcome", "reduce_outcome"]

#: Statistics over the cohort, by name: (description, needs the reference arm).
STATS: dict[str, tuple[str, bool]] = {
    "mean": ("cohort mean in the arm", False),
    "change": ("cohort mean change from baseline (day 0) in the arm", False),
    "pct_change": ("percent change of the cohort mean from baseline in the arm", False),
    "diff": ("arm minus reference arm, cohort means (paired: same patients)", True),
    "pct_diff": ("100 x (arm - reference) / reference, cohort means", True),
}

#: Endpoints that are already relative to baseline (only mean and diff apply).
_RESPONDER = set(names_of_kind("binary"))

_PATTERN = re.compile(r"^(?:(?P<stat>[a-z_]+):)?(?P<var>[A-Za-z0-9_.]+)(?:@(?P<time>\S+))?$")


class OutcomeError(ValueError):
    """An outcome is invalid; the message names it and what is allowed."""


@dataclass(frozen=True)
class Outcome:
    """A parsed outcome.

    Attributes
    ----------
    text : str
        As given.
    stat : str
        Key of :data:`STATS`.
    variable : str
        Model output or endpoint name.
    observed : bool
        True for a trial endpoint seen through the measurement model.
    days : tuple of float
        Output day(s); one unless ``time_resolved``.
    time_resolved : bool
        One value per output day.
    unit : str
        Unit of the outcome value.
    """

    text: str
    stat: str
    variable: str
    observed: bool
    days: tuple[float, ...]
    time_resolved: bool
    unit: str = ""

    @property
    def needs_reference(self) -> bool:
        """Whether the reference arm must be simulated too."""
        return STATS[self.stat][1]

    @property
    def label(self) -> str:
        """Human-readable description."""
        what = f"{self.variable} ({'observed endpoint' if self.observed else 'model output'})"
        when = (
            "per day"
            if self.time_resolved
            else f"at day {self.days[0]:g} (week {self.days[0] / 7:g})"
        )
        return f"{STATS[self.stat][0]} of {what}, {when}"


def _time(text: str, where: str) -> float:
    t = text.strip().lower()
    try:
        if t.startswith("w"):
            return float(t[1:]) * 7.0
        if t.startswith("d"):
            return float(t[1:])
        return float(t)
    except ValueError:
        raise OutcomeError(
            f"{where}: time {text!r} must be a day (56 or d56) or a week (w8)"
        ) from None


def _grid(duration_days: float, every: float) -> tuple[float, ...]:
    if not every > 0:
        raise OutcomeError(f"--every must be > 0 days, got {every:g}")
    n = math.floor(duration_days / every + 1e-9)
    days = [every * k for k in range(1, n + 1)]
    if not days or abs(days[-1] - duration_days) > 1e-9:
        days.append(duration_days)
    return tuple(float(d) for d in days)


def parse_outcome(
    text: str,
    spec: ModelSpec,
    *,
    duration_days: float,
    every: float = 7.0,
) -> Outcome:
    """Parse and validate an outcome string.

    Parameters
    ----------
    text : str
        ``[STAT:]VARIABLE[@TIME]`` (see the module docstring).
    spec : ModelSpec
        The model (its states and observables).
    duration_days : float
        Length of the simulated treatment period (the trial duration).
    every : float
        Spacing of output days of a time-resolved outcome.

    Returns
    -------
    Outcome

    Raises
    ------
    OutcomeError
        Unknown statistic or variable, a time outside ``(0, duration]`` (``[0, duration]``
        for ``mean``), or a statistic that does not apply to the variable.
    """
    where = f"outcome {text!r}"
    m = _PATTERN.match(text.strip())
    if not m:
        raise OutcomeError(
            f"{where}: expected [STAT:]VARIABLE[@TIME], e.g. inflammatory_lesions@56"
        )
    stat = m.group("stat") or "mean"
    if stat not in STATS:
        raise OutcomeError(f"{where}: unknown statistic {stat!r}; allowed: {', '.join(STATS)}")
    var = m.group("var")
    model_names = spec.state_names + spec.assignment_names
    observed = False
    if var.startswith("observed."):
        var = var.removeprefix("observed.")
        if var not in ENDPOINTS:
            raise OutcomeError(
                f"{where}: unknown trial endpoint {var!r}; endpoints: {', '.join(ENDPOINTS)}"
            )
        observed = True
    elif var in model_names:
        observed = False
    elif var in ENDPOINTS:
        observed = True
    else:
        raise OutcomeError(
            f"{where}: unknown variable {var!r}; use a model state or observable "
            f"({', '.join(model_names)}) or a trial endpoint ({', '.join(ENDPOINTS)})"
        )
    if observed and var in _RESPONDER and stat not in ("mean", "diff"):
        raise OutcomeError(
            f"{where}: {var} is already relative to baseline; use mean or diff, not {stat}"
        )
    if m.group("time") is None:
        days = _grid(float(duration_days), float(every))
        resolved = True
    else:
        day = _time(m.group("time"), where)
        zero_ok = stat in ("mean", "diff", "pct_diff") and var not in _RESPONDER
        if not (math.isfinite(day) and (0 <= day if zero_ok else 0 < day)):
            raise OutcomeError(f"{where}: day must be {'>= 0' if zero_ok else '> 0'}, got {day:g}")
        if day > duration_days + 1e-9:
            raise OutcomeError(
                f"{where}: day {day:g} is after the end of the simulated period "
                f"({duration_days:g} days)"
            )
        days = (float(day),)
        resolved = False
    if observed:
        unit = "fraction" if var in _RESPONDER else REGISTRY[var].unit
    elif var in spec.state_names:
        unit = spec.states[spec.state_names.index(var)].unit
    else:
        unit = spec.assignments[spec.assignment_names.index(var)].unit
    if stat in ("pct_change", "pct_diff"):
        unit = "%"
    return Outcome(
        text=text.strip(),
        stat=stat,
        variable=var,
        observed=observed,
        days=days,
        time_resolved=resolved,
        unit=unit,
    )


def reduce_outcome(
    outcome: Outcome,
    arm: NDArray[np.float64],
    baseline: NDArray[np.float64] | None = None,
    reference: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Cohort statistic of per-patient values.

    Parameters
    ----------
    outcome : Outcome
        Its ``stat`` selects the statistic.
    arm : array (n, C, T)
        Values of ``n`` factor samples × ``C`` cohort patients × ``T`` output days in
        the analysed arm (NaN for a failed solve; ignored in the means).
    baseline : array (n, C), optional
        Values at day 0 (``change``, ``pct_change``).
    reference : array (n, C, T), optional
        Values in the reference arm (``diff``, ``pct_diff``).

    Returns
    -------
    ndarray (n, T)
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(arm, axis=1)
            if outcome.stat == "mean":
                return mean
            if outcome.stat in ("change", "pct_change"):
                if baseline is None:
                    raise ValueError("baseline values are needed for change statistics")
                ok = np.isfinite(arm)
                base = np.where(ok, baseline[:, :, None], np.nan)
                if outcome.stat == "change":
                    return np.nanmean(arm - base, axis=1)
                b = np.nanmean(base, axis=1)
                return 100.0 * (mean - b) / b
            if reference is None:
                raise ValueError("reference-arm values are needed for diff statistics")
            both = np.isfinite(arm) & np.isfinite(reference)
            a = np.nanmean(np.where(both, arm, np.nan), axis=1)
            r = np.nanmean(np.where(both, reference, np.nan), axis=1)
            if outcome.stat == "diff":
                return a - r
            return 100.0 * (a - r) / r
