"""Interrupted commands exit 130 (SIGINT) or 143 (SIGTERM) with one line, and leave no
partial output folder and no worker process behind (issue 31).

Before the fix, typer turned KeyboardInterrupt into a returned 130 that ``main`` dropped:
Ctrl-C ended ``simulate``, ``run`` and ``power`` with status 0. SIGTERM killed the
command without clean-up, and pool workers ran on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

COMMANDS = {
    "simulate": ["simulate", "--scenario", "placeholder-untreated", "--patients", "200000",
                 "--days", "300"],
    "run": ["run", "--scenario", "placeholder-untreated", "--patients", "400000", "--days",
            "300", "--chunk-size", "20000"],
    "power": ["power", "probiotic12wk", "--n", "100", "--replicates", "400", "--pool", "fresh",
              "--workers", "2"],
}  # fmt: skip


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _default_sigint() -> None:  # runs in the child before exec
    # A shell starts background jobs with SIGINT ignored, and an ignored signal stays
    # ignored across exec (Python then installs no KeyboardInterrupt handler). The command
    # is meant to be interrupted here, as from a terminal, whatever started pytest.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _started(proc: subprocess.Popen, out: Path, command: str, t0: float) -> bool:
    """The command is at work: a store begun, workers up, or the simulation running."""
    if command == "run":
        return (out / "run.json").exists()
    if command == "power":
        return len(_children(proc.pid)) >= 3  # resource tracker + 2 workers
    return time.monotonic() - t0 > 8.0  # simulate writes its folder at the end


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_interrupt_exits_with_the_signal_status_and_cleans_up(tmp_path, command, sig):
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gutskin.cli", *COMMANDS[command], "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=_default_sigint,
    )
    t0 = time.monotonic()
    deadline = t0 + 120
    while not _started(proc, out, command, t0):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the command did not start its output"
        time.sleep(0.2)
    time.sleep(2.0 if command == "power" else 0.5)  # workers up, work under way
    kids = _children(proc.pid)
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == (130 if sig == "SIGINT" else 143), err.decode()
    lines = [ln for ln in err.decode().splitlines() if ln.startswith("gutskin: aborted")]
    assert len(lines) == 1 and "Traceback" not in err.decode()
    assert not list(tmp_path.glob(".out.partial-*"))
    if command == "run":  # the resumable store stays, marked incomplete
        assert json.loads((out / "run.json").read_text())["complete"] is False
    else:
        assert not out.exists()
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{k}").exists() for k in kids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [k for k in kids if Path(f"/proc/{k}").exists()], "worker processes survived"
