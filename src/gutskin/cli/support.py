"""Shared pieces of the command-line faces (errors, progress), importable by subpackages."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

__all__ = [
    "MAX_DAYS",
    "MAX_SIMULATE_PATIENTS",
    "LazyProgress",
    "UserError",
    "check_int",
    "check_number",
    "check_seed",
    "console",
    "solver_options",
]

#: Longest simulated period a command accepts (days): ten years.
MAX_DAYS = 3650.0
#: Most patients ``gutskin simulate`` holds in memory (``gutskin run`` streams more).
MAX_SIMULATE_PATIENTS = 1_000_000

console = Console(stderr=True)


class UserError(Exception):
    """An error caused by the user's input (exit 2, one line)."""


class LazyProgress:
    """A rich progress bar that only appears once a run has lasted a second."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label = total, label
        self.start = time.monotonic()
        self.bar: Progress | None = None
        self.task: Any = None

    def __call__(self, done: int) -> None:
        if self.bar is None and time.monotonic() - self.start > 1.0 and done < self.total:
            self.bar = Progress(
                TextColumn(self.label),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total)
        if self.bar is not None:
            self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def check_seed(seed: int, option: str = "--seed") -> int:
    """A seed is an integer in 0..2**64-1 (a Philox key); otherwise a one-line error."""
    if not 0 <= seed <= 2**64 - 1:
        raise UserError(f"{option} must be an integer in 0..2**64-1, got {seed}")
    return seed


def check_int(option: str, value: int, lo: int, hi: int | None = None, why: str = "") -> int:
    """An integer option within ``[lo, hi]`` (``hi`` None: no upper bound)."""
    if value < lo or (hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise UserError(f"{option} must be {rng}{why}, got {value}")
    return value


def check_number(
    option: str, value: float, lo: float, hi: float, *, lo_open: bool = False, why: str = ""
) -> float:
    """A finite number within ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""
    import math

    if not math.isfinite(value):
        raise UserError(f"{option} must be a finite number, got {value}")
    if (value <= lo if lo_open else value < lo) or value > hi:
        left = "(" if lo_open else "["
        raise UserError(f"{option} must be in {left}{lo:g}, {hi:g}]{why}, got {value:g}")
    return value


def solver_options(method: str, rtol: float, atol: float) -> Any:
    """A :class:`gutskin.engine.SolverOptions` from CLI values, errors naming the option."""
    from gutskin.engine.integrate import EngineError
    from gutskin.engine.options import SolverOptions

    if method not in ("auto", "dopri5", "rosenbrock"):
        raise UserError(f"--method must be auto, dopri5 or rosenbrock, got {method!r}")
    try:
        return SolverOptions(method=method, rtol=float(rtol), atol=float(atol))  # type: ignore[arg-type]
    except EngineError as exc:
        raise UserError(f"--{exc}") from None
