"""Shared pieces of the command-line faces (errors, progress), importable by subpackages."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

__all__ = [
    "MAX_DAYS",
    "MAX_SIMULATE_PATIENTS",
    "AtolOption",
    "LazyProgress",
    "MethodOption",
    "OverwriteOption",
    "RtolOption",
    "UserError",
    "check_int",
    "check_number",
    "check_seed",
    "console",
    "solver_options",
]

#: Longest simulated period a command accepts (days): ten years.
MAX_DAYS = 3650.0
#: Most patients ``gutskin simulate`` holds in memory (``gutskin run`` streams more); the
#: same as :data:`gutskin.simulation.MAX_PATIENTS` (kept here so the CLI starts without
#: importing numpy; a test keeps the two equal).
MAX_SIMULATE_PATIENTS = 200_000

#: Options shared by several commands (one help text each).
OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="Replace an earlier gutskin output in --out.")
]
MethodOption = Annotated[str, typer.Option(help="Solver: auto, dopri5 or rosenbrock.")]
RtolOption = Annotated[float, typer.Option(help="Relative tolerance (1e-12 to 1e-2).")]
AtolOption = Annotated[float, typer.Option(help="Absolute tolerance (1e-16 to 1e-2).")]

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
    """A seed is an integer in 0..2**64-1 (a Philox key); otherwise a one-line error.

    The bound is :func:`gutskin.engine.random.check_seed`'s (imported here, not at start-up).
    """
    from gutskin.engine.random import check_seed as engine_check_seed

    try:
        return engine_check_seed(seed, option)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def check_int(option: str, value: int, lo: int, hi: int | None = None, why: str = "") -> int:
    """An integer option within ``[lo, hi]`` (``hi`` None: no upper bound)."""
    if value < lo or (hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise UserError(f"{option} must be {rng}{why}, got {value}")
    return value


def check_number(
    option: str,
    value: float,
    lo: float,
    hi: float,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    why: str = "",
) -> float:
    """A finite number within ``[lo, hi]`` (an end excluded with ``lo_open``/``hi_open``)."""
    import math

    if not math.isfinite(value):
        raise UserError(f"{option} must be a finite number, got {value}")
    below = value <= lo if lo_open else value < lo
    above = value >= hi if hi_open else value > hi
    if below or above:
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        raise UserError(f"{option} must be in {left}{lo:g}, {hi:g}{right}{why}, got {value:g}")
    return value


def solver_options(method: str, rtol: float, atol: float, dense: bool = True) -> Any:
    """A :class:`gutskin.engine.SolverOptions` from CLI values, errors naming the option."""
    from gutskin.engine.integrate import EngineError
    from gutskin.engine.options import SolverOptions

    if method not in ("auto", "dopri5", "rosenbrock"):
        raise UserError(f"--method must be auto, dopri5 or rosenbrock, got {method!r}")
    try:
        return SolverOptions(
            method=method,  # type: ignore[arg-type]
            rtol=float(rtol),
            atol=float(atol),
            dense=bool(dense),
        )
    except EngineError as exc:
        raise UserError(f"--{exc}") from None


@contextmanager
def replicate_job_errors(bar: Any) -> Iterator[None]:
    """Run a replicate job (power, assurance): a design or value error becomes a
    :class:`UserError`, a dead worker process one that says what to lower, and the
    progress ``bar`` is closed whatever happens."""
    from concurrent.futures.process import BrokenProcessPool

    from gutskin.trial.design import DesignError

    try:
        yield
    except (DesignError, ValueError) as exc:
        raise UserError(str(exc)) from None
    except BrokenProcessPool:
        raise UserError(
            "a worker process died (most often out of memory); lower --n or --workers"
        ) from None
    finally:
        bar.close()
