"""Solver options as one small frozen object that travels through every entry point."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from gutskin.engine.integrate import METHODS, EngineError, Method

__all__ = ["ATOL_RANGE", "RTOL_RANGE", "SolverOptions"]

#: Accepted relative tolerances: tighter than 1e-12 is below double-precision round-off
#: on this model's step sizes, looser than 1e-2 is no longer a solution.
RTOL_RANGE = (1e-12, 1e-2)
#: Accepted absolute tolerances (state units; the model's states are O(1e-3..1e3)).
ATOL_RANGE = (1e-16, 1e-2)


@dataclass(frozen=True, kw_only=True)
class SolverOptions:
    """How the engine integrates (see :func:`gutskin.engine.integrate`).

    Parameters
    ----------
    method : {"auto", "dopri5", "rosenbrock"}
        Integration method (auto: DOPRI5 with a stiffness test, Rosenbrock fallback).
    rtol, atol : float
        Local error tolerances, within :data:`RTOL_RANGE` and :data:`ATOL_RANGE`.
    dense : bool
        Step over output times and read them from the continuous extension (DOPRI5,
        SIMD lanes); results agree with ``dense=False`` to the order of the tolerances.
    max_steps : int
        Step budget per patient.
    """

    method: Method = "auto"
    rtol: float = 1e-6
    atol: float = 1e-8
    dense: bool = True
    max_steps: int = 200_000

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise EngineError(f"method must be one of {sorted(METHODS)}, got {self.method!r}")
        for name, value, (lo, hi) in (
            ("rtol", self.rtol, RTOL_RANGE),
            ("atol", self.atol, ATOL_RANGE),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise EngineError(f"{name} must be a number in [{lo:g}, {hi:g}], got {value!r}")
            if not math.isfinite(value):
                raise EngineError(f"{name} must be a finite number, got {value}")
            if not lo <= value <= hi:
                raise EngineError(f"{name} must be in [{lo:g}, {hi:g}], got {value:g}")
        if isinstance(self.max_steps, bool) or not isinstance(self.max_steps, int):
            raise EngineError(f"max_steps must be an integer >= 1, got {self.max_steps!r}")
        if self.max_steps < 1:
            raise EngineError(f"max_steps must be an integer >= 1, got {self.max_steps}")

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`gutskin.engine.integrate`."""
        kw = asdict(self)
        if self.method == "rosenbrock":
            kw["dense"] = False  # the Rosenbrock method always lands on output times
        return kw
