"""Priors of uncertain model quantities: small frozen distributions on a closed range.

Used for the population median of a model parameter (its ``lower``..``upper`` range in
``parameters.csv``) and for a probiotic strain property given as a range or distribution
in a strain YAML (:mod:`gutskin.model.strains`). An assurance run
(:mod:`gutskin.trial.assurance`) draws from them by the inverse CDF of uniforms from its
own random stream.

The default shape of a range (:meth:`Prior.from_range`) is log-uniform when the range is
positive and spans more than a factor of :data:`LOG_SPAN` (a rate or a dose known only to
an order of magnitude, where a uniform prior would put 90 % of its mass in the top decade),
else uniform.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["DISTRIBUTIONS", "LOG_SPAN", "Prior", "PriorError", "parse_prior"]

#: Distributions a prior may have.
DISTRIBUTIONS = ("uniform", "loguniform", "triangular")
#: A positive range wider than this factor gets a log-uniform default prior.
LOG_SPAN = 10.0


class PriorError(ValueError):
    """A prior is invalid; the message names what is wrong and what is allowed."""


@dataclass(frozen=True)
class Prior:
    """A distribution on ``[lower, upper]``.

    Parameters
    ----------
    distribution : {"uniform", "loguniform", "triangular"}
        ``uniform``: flat on the range; ``loguniform``: flat in ``log`` (``lower > 0``);
        ``triangular``: density rising linearly from ``lower`` to ``mode`` and falling to
        ``upper``.
    lower, upper : float
        The range, in the quantity's own unit; ``lower == upper`` is a point mass (the
        quantity is fixed).
    mode : float, optional
        Peak of a triangular prior, in ``[lower, upper]``.
    """

    distribution: str
    lower: float
    upper: float
    mode: float | None = None

    def __post_init__(self) -> None:
        if self.distribution not in DISTRIBUTIONS:
            raise PriorError(
                f"distribution must be one of {', '.join(DISTRIBUTIONS)}, got {self.distribution!r}"
            )
        lo, hi = self.lower, self.upper
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise PriorError(f"needs finite lower <= upper, got [{lo:g}, {hi:g}]")
        if self.distribution == "loguniform" and lo <= 0:
            raise PriorError(f"a loguniform prior needs lower > 0, got {lo:g}")
        if self.distribution == "triangular":
            if self.mode is None or not (lo <= self.mode <= hi):
                raise PriorError(
                    f"a triangular prior needs a mode in [{lo:g}, {hi:g}], got {self.mode!r}"
                )
        elif self.mode is not None:
            raise PriorError(f"mode is only for a triangular prior, not {self.distribution}")

    @classmethod
    def from_range(cls, lower: float, upper: float) -> Prior:
        """The default prior of a range: log-uniform beyond a :data:`LOG_SPAN`-fold span."""
        lo, hi = float(lower), float(upper)
        if lo > 0 and hi > LOG_SPAN * lo:
            return cls("loguniform", lo, hi)
        return cls("uniform", lo, hi)

    @property
    def fixed(self) -> bool:
        """Whether the prior is a point mass (``lower == upper``)."""
        return self.lower == self.upper

    def ppf(self, u: ArrayLike) -> NDArray[np.float64]:
        """Quantiles at probabilities ``u`` in (0, 1) (inverse CDF)."""
        q = np.asarray(u, dtype=np.float64)
        lo, hi = self.lower, self.upper
        if self.fixed:
            return np.full(q.shape, lo)
        out: NDArray[np.float64]
        if self.distribution == "uniform":
            out = lo + q * (hi - lo)
        elif self.distribution == "loguniform":
            out = np.exp(math.log(lo) + q * (math.log(hi) - math.log(lo)))
        else:
            m = float(self.mode if self.mode is not None else lo)
            c = (m - lo) / (hi - lo)
            below = lo + np.sqrt(q * (hi - lo) * (m - lo))
            above = hi - np.sqrt((1.0 - q) * (hi - lo) * (hi - m))
            out = np.asarray(np.where(q < c, below, above), dtype=np.float64)
        return np.asarray(np.clip(out, lo, hi), dtype=np.float64)

    def describe(self) -> str:
        """Short text, e.g. ``loguniform[0.1, 2]``."""
        if self.distribution == "triangular":
            return f"triangular[{self.lower:g}, {self.mode:g}, {self.upper:g}]"
        return f"{self.distribution}[{self.lower:g}, {self.upper:g}]"


def parse_prior(raw: Any, where: str, bounds: tuple[float, float] | None = None) -> Prior:
    """A :class:`Prior` from YAML data: ``[lower, upper]`` or a mapping.

    Parameters
    ----------
    raw : list or mapping
        ``[lower, upper]`` (the default shape, :meth:`Prior.from_range`), or
        ``{distribution, lower, upper[, mode]}``.
    where : str
        Field path for error messages.
    bounds : tuple of float, optional
        The allowed range of the quantity; the prior must lie within it.

    Raises
    ------
    PriorError
        One line naming ``where``, the problem and what is allowed.
    """
    allowed = "[lower, upper] or {distribution: uniform|loguniform|triangular, lower, upper, mode}"
    if isinstance(raw, Sequence) and not isinstance(raw, str | bytes):
        if len(raw) != 2:
            raise PriorError(f"{where}: expected {allowed}, got {raw!r}")
        lo, hi = (_number(v, where) for v in raw)
        try:
            prior = Prior.from_range(lo, hi)
        except PriorError as exc:
            raise PriorError(f"{where}: {exc}") from None
    elif isinstance(raw, Mapping):
        unknown = sorted(set(raw) - {"distribution", "lower", "upper", "mode"})
        if unknown:
            raise PriorError(
                f"{where}: unknown key(s) {unknown}; allowed: distribution, lower, upper, mode"
            )
        for key in ("lower", "upper"):
            if key not in raw:
                raise PriorError(f"{where}: {key!r} is required ({allowed})")
        lo, hi = _number(raw["lower"], where), _number(raw["upper"], where)
        mode = _number(raw["mode"], where) if "mode" in raw else None
        dist = raw.get("distribution")
        try:
            prior = (
                Prior.from_range(lo, hi)
                if dist is None and mode is None
                else Prior(str(dist or "triangular"), lo, hi, mode)
            )
        except PriorError as exc:
            raise PriorError(f"{where}: {exc}") from None
    else:
        raise PriorError(f"{where}: expected {allowed}, got {raw!r}")
    if bounds is not None and not (bounds[0] <= prior.lower and prior.upper <= bounds[1]):
        raise PriorError(
            f"{where}: [{prior.lower:g}, {prior.upper:g}] is outside the allowed range "
            f"[{bounds[0]:g}, {bounds[1]:g}]"
        )
    return prior


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool):
        raise PriorError(f"{where}: expected a number, got {v!r}")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise PriorError(f"{where}: expected a number, got {v!r}") from None
    if not math.isfinite(x):
        raise PriorError(f"{where}: expected a finite number, got {v!r}")
    return x
