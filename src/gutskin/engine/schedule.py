"""Piecewise-constant input schedules, compiled to arrays the solvers read.

An intervention reaches the model as one or more :class:`Exposure` s of an
input (e.g. ``probiotic_dose`` at 1e9 CFU/day from day 0 to day 56, taken
daily with 85 % adherence).  :func:`build_schedule` turns the exposures of a
batch of patients into one shared breakpoint grid ``times`` (K+1,) and
per-patient values ``values`` (N, K, n_inputs); the solvers restart exactly
at each breakpoint, so there is no per-step Python and no smoothing error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gutskin.engine.random import uniforms

__all__ = ["Exposure", "Schedule", "ScheduleError", "Treatment", "build_schedule"]

Pattern = Literal["continuous", "daily"]


class ScheduleError(ValueError):
    """An exposure or schedule is invalid; the message names the field."""


@dataclass(frozen=True)
class Exposure:
    """One regimen of one input.

    Parameters
    ----------
    input : str
        Name of the model input it sets.
    level : float
        Input level while active (e.g. CFU/day); must be >= 0.
    start, stop : float
        Active on ``[start, stop)`` in model time units (days).
    pattern : {"continuous", "daily"}
        ``continuous``: constant ``level * adherence`` over the window.
        ``daily``: each day in the window is taken (level) or missed (0) at
        random with probability ``adherence``, drawn from the patient's stream.
    adherence : float
        Fraction of doses taken, in [0, 1].
    """

    input: str
    level: float
    start: float
    stop: float
    pattern: Pattern = "continuous"
    adherence: float = 1.0

    def __post_init__(self) -> None:
        if not np.isfinite(self.level) or self.level < 0:
            raise ScheduleError(f"exposure {self.input!r}: level must be >= 0, got {self.level}")
        if not (np.isfinite(self.start) and self.start >= 0):
            raise ScheduleError(f"exposure {self.input!r}: start must be >= 0, got {self.start}")
        if not self.stop > self.start:
            raise ScheduleError(
                f"exposure {self.input!r}: stop ({self.stop}) must be after start ({self.start})"
            )
        if not 0.0 <= self.adherence <= 1.0:
            raise ScheduleError(
                f"exposure {self.input!r}: adherence must be in [0, 1], got {self.adherence}"
            )
        if self.pattern not in ("continuous", "daily"):
            raise ScheduleError(
                f"exposure {self.input!r}: pattern must be 'continuous' or 'daily', "
                f"got {self.pattern!r}"
            )


@dataclass(frozen=True)
class Schedule:
    """Inputs of a batch of patients: piecewise-constant levels plus smooth processes.

    ``times`` (K+1,) are breakpoints with ``times[-1] = inf``; ``values``
    (N, K, n_inputs) holds each patient's input levels on ``[times[k], times[k+1])``.

    ``features`` (N, F), where given, are each patient's smooth-input features
    (:meth:`gutskin.engine.spec.ModelSpec.feature_layout`): the kernel adds
    ``sum_k a_k cos(omega_k t + phi_k)`` to each smooth input, evaluated at every
    right-hand-side call, so a smooth input needs no breakpoints.  ``smooth``
    lists ``(input column, first feature column, K)`` of each smooth input, so that
    :meth:`at` can evaluate the whole input without the model at hand.
    """

    times: NDArray[np.float64]
    values: NDArray[np.float64]
    features: NDArray[np.float64] | None = None
    smooth: tuple[tuple[int, int, int], ...] = ()

    def __post_init__(self) -> None:
        if self.features is not None and (
            self.features.ndim != 2 or self.features.shape[0] != self.values.shape[0]
        ):
            raise ScheduleError(
                f"features: expected shape ({self.values.shape[0]}, F), got {self.features.shape}"
            )

    @property
    def n_patients(self) -> int:
        return int(self.values.shape[0])

    def smooth_values(self, times: ArrayLike) -> NDArray[np.float64]:
        """The smooth part of every input at ``times``, shape (N, T, n_inputs)."""
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        out = np.zeros((self.values.shape[0], t.size, self.values.shape[2]))
        if self.features is None:
            return out
        for col, first, k in self.smooth:
            f = self.features[:, first : first + 3 * k].reshape(-1, k, 3)
            arg = f[:, None, :, 1] * t[None, :, None] + f[:, None, :, 2]
            out[:, :, col] = np.sum(f[:, None, :, 0] * np.cos(arg), axis=2)
        return out

    def at(self, t: float) -> NDArray[np.float64]:
        """Input levels of every patient at time ``t`` (N, n_inputs), right-continuous."""
        k = int(np.searchsorted(self.times, t, side="right") - 1)
        k = min(max(k, 0), self.values.shape[1] - 1)
        if self.features is None:
            return self.values[:, k, :]
        return self.values[:, k, :] + self.smooth_values([t])[:, 0, :]

    def on_grid(self, times: NDArray[np.float64]) -> Schedule:
        """The same schedule expressed on a finer breakpoint grid ``times``."""
        idx = np.searchsorted(self.times, times[:-1], side="right") - 1
        idx = np.clip(idx, 0, self.values.shape[1] - 1)
        return replace(self, times=times, values=self.values[:, idx, :])

    def __add__(self, other: Schedule) -> Schedule:
        """Sum of two schedules on the union of their breakpoints.

        At most one of the two may carry smooth features (two smooth processes on one
        input do not add feature by feature).
        """
        if other.values.shape[0] != self.values.shape[0] or (
            other.values.shape[2] != self.values.shape[2]
        ):
            raise ScheduleError("cannot add schedules of different patient or input counts")
        if self.features is not None and other.features is not None:
            raise ScheduleError("cannot add two schedules that both carry smooth features")
        grid = np.union1d(self.times, other.times)
        a, b = self.on_grid(grid), other.on_grid(grid)
        smooth = self if self.features is not None else other
        return Schedule(
            times=grid, values=a.values + b.values, features=smooth.features, smooth=smooth.smooth
        )

    def slice(self, start: int, stop: int) -> Schedule:
        """Schedule of patients ``start:stop``."""
        f = None if self.features is None else self.features[start:stop]
        return replace(self, values=self.values[start:stop], features=f)

    def take(self, rows: ArrayLike) -> Schedule:
        """Schedule of the patients ``rows`` (indices or a boolean mask)."""
        r = np.asarray(rows)
        f = None if self.features is None else self.features[r]
        return replace(self, values=self.values[r], features=f)


@dataclass(frozen=True)
class Treatment:
    """What an arm does to its patients: input exposures and parameter overrides.

    Parameters
    ----------
    exposures : tuple of Exposure
        Time-varying inputs (resolved regimens; several on one input add up).
    overrides : mapping
        Parameter name -> value set in every patient of the arm (e.g. a probiotic
        strain's slot parameters).
    """

    exposures: tuple[Exposure, ...] = ()
    overrides: Mapping[str, float] = field(default_factory=dict)

    def with_exposures(self, *extra: Exposure) -> Treatment:
        """The same treatment with ``extra`` exposures added."""
        return replace(self, exposures=(*self.exposures, *extra))

    def apply(
        self, parameter_names: Sequence[str], params: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """``params`` (columns ``parameter_names``) with the overrides set (a copy if any)."""
        if not self.overrides:
            return params
        names = list(parameter_names)
        out = np.array(params, dtype=np.float64, copy=True)
        for name, value in self.overrides.items():
            out[:, names.index(name)] = value
        return out


def build_schedule(
    input_names: Sequence[str],
    defaults: Sequence[float],
    exposures: Sequence[Exposure],
    n_patients: int,
    t0: float,
    *,
    seed: int | None = None,
    indices: ArrayLike | None = None,
    adherence: NDArray[np.float64] | None = None,
) -> Schedule:
    """Compile exposures (shared by all patients) into a :class:`Schedule`.

    Parameters
    ----------
    input_names, defaults
        Model inputs in kernel order and their levels when nothing is scheduled.
    exposures
        Regimens; several on one input add up.
    n_patients
        Batch size N.
    t0
        Start of integration (first breakpoint).
    seed, indices
        Run seed and the N patient numbers; required when a ``daily`` exposure has
        adherence < 1.  Day ``d`` of exposure ``e`` (its position in ``exposures``) is
        taken when uniform ``d`` of the patient's ``"schedule"`` stream, sub-key ``e``, is
        below the adherence, so a missed day does not depend on the window simulated.
    adherence : array (N,), optional
        Per-patient adherence fractions that replace each daily exposure's own
        ``adherence`` (continuous exposures are scaled by them).

    Returns
    -------
    Schedule
    """
    names = list(input_names)
    for e in exposures:
        if e.input not in names:
            raise ScheduleError(f"exposure: unknown input {e.input!r}; model inputs are {names}")
    points = {float(t0), np.inf}
    for e in exposures:
        if e.pattern == "daily":
            days = np.arange(np.floor(e.start), np.ceil(e.stop))
            points.update(float(d) for d in days if d >= e.start)
            points.update(float(d) for d in days + 1 if d + 1 <= e.stop)
        points.add(float(e.start))
        points.add(float(e.stop))
    times = np.array(sorted(p for p in points if p >= t0), dtype=np.float64)
    k = len(times) - 1
    values = np.empty((n_patients, k, len(names)), dtype=np.float64)
    values[:] = np.asarray(defaults, dtype=np.float64)
    left = times[:-1]
    if adherence is not None:
        adherence = np.asarray(adherence, dtype=np.float64)
        if adherence.shape != (n_patients,) or np.any((adherence < 0) | (adherence > 1)):
            raise ScheduleError("adherence: expected one fraction in [0, 1] per patient")
    for e_no, e in enumerate(exposures):
        col = names.index(e.input)
        active = (left >= e.start) & (left < e.stop)
        p_take = np.full(n_patients, e.adherence) if adherence is None else adherence
        if e.pattern == "continuous":
            values[:, active, col] += e.level * p_take[:, None]
            continue
        if np.all(p_take >= 1.0):
            values[:, active, col] += e.level
            continue
        if seed is None or indices is None or np.asarray(indices).shape != (n_patients,):
            raise ScheduleError(
                f"exposure {e.input!r}: daily adherence < 1 needs the seed and one patient "
                "number per patient"
            )
        seg_idx = np.flatnonzero(active)
        day_of_seg = np.floor(left[seg_idx]).astype(np.int64)
        first_day = int(np.floor(e.start))
        n_days = int(np.ceil(e.stop)) - first_day
        u = uniforms(seed, "schedule", np.asarray(indices), n_days, sub=e_no, first=first_day)
        taken = u < p_take[:, None]
        values[:, seg_idx, col] += e.level * taken[:, day_of_seg - first_day]
    return Schedule(times=times, values=values)
