"""Shared pieces of the command-line faces (errors, progress), importable by subpackages."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

__all__ = ["LazyProgress", "UserError", "console"]

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
