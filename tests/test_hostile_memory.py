"""Memory bombs are refused under an address-space limit, as a careful user would run them.

The hostile table (`tests/test_hostile_inputs.py`) runs its cases in this process, with
no limit: a case that expanded an alias bomb or read ``/dev/zero`` to the end would
still pass there after swallowing gigabytes (issue 31 saw 21 GB resident in 60 s). Here
the cases that can allocate without bound run in a child process whose address space is
capped with ``RLIMIT_AS``, and must end with exit 2 and one error line, not MemoryError.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest


def _hostile_table() -> tuple[list, dict]:
    """CASES and FILES of the hostile table (a sibling test file, loaded by path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_hostile_table", Path(__file__).with_name("test_hostile_inputs.py")
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.CASES, mod.FILES


CASES, FILES = _hostile_table()

#: Address space of the child: numpy, numba and the CLI import in well under this, while
#: an alias bomb or an unbounded read of /dev/zero would need several times more.
LIMIT_BYTES = 3 << 30

MEMORY_CASES = (
    "trial-alias-bomb",
    "strains-alias-bomb",
    "sens-factors-bomb",
    "sens-factors-dev-zero",
    "trial-dev-zero",
    "profile-zip-bomb",
    "profile-qza-unused-member",
)


def _limit() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    d = tmp_path / "work"
    for name, content in FILES.items():
        if name not in {"bomb.yaml", "bomb.qza", "qza_unused_bomb.qza"}:
            continue
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    d.mkdir(exist_ok=True)
    return d


@pytest.mark.slow
@pytest.mark.parametrize("name", MEMORY_CASES)
def test_memory_bomb_is_refused_under_an_address_space_limit(workdir: Path, name: str) -> None:
    case = {c[0]: c for c in CASES}[name]
    args = [a.replace("{d}", str(workdir)) for a in case[1]]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-m", "gutskin.cli", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit,
    )
    assert proc.returncode == 2, (name, proc.returncode, proc.stderr[-2000:])
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("gutskin: error:"), (name, lines)
    assert case[2] in lines[0]
    assert "MemoryError" not in proc.stderr and "Traceback" not in proc.stderr
    assert not (workdir / "out").exists()
