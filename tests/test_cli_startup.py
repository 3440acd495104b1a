"""`gutskin --version` / `--help` start fast: the CLI imports no heavy library at import time.

A check that can fail (which modules got imported), not a timing assertion.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "pandas", "scipy", "numba", "xarray")

_PROBE = """
import json, sys
{body}
heavy = {heavy!r}
print(json.dumps({{
    "heavy": sorted(m for m in sys.modules if m.split('.')[0] in heavy),
    "domain": sorted(
        m for m in sys.modules
        if m.startswith('gutskin.') and not m.startswith(('gutskin.cli', 'gutskin._version'))
    ),
}}))
"""


def _probe(body: str) -> dict[str, list[str]]:
    code = _PROBE.format(body=body, heavy=set(HEAVY))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_gutskin_cli_imports_no_heavy_library():
    found = _probe("import gutskin.cli")
    assert found["heavy"] == []
    assert found["domain"] == []


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["export", "--help"]])
def test_version_and_help_import_no_heavy_library(args):
    body = (
        "import contextlib, io\n"
        "from gutskin.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main({args!r}) == 0\n"
    )
    found = _probe(body)
    assert found["heavy"] == []
    assert found["domain"] == []


def test_import_gutskin_is_light():
    assert _probe("import gutskin")["heavy"] == []


def test_simulate_patient_cap_matches_the_in_memory_limit():
    from gutskin.cli.support import MAX_SIMULATE_PATIENTS
    from gutskin.simulation import MAX_PATIENTS

    assert MAX_SIMULATE_PATIENTS == MAX_PATIENTS
