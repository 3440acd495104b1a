"""Run provenance: what made an output folder (version, seed, command, inputs, times)."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gutskin._version import __version__

__all__ = ["file_sha256", "now_iso", "provenance_record", "write_provenance"]


def now_iso() -> str:
    """Current UTC time in ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def provenance_record(
    *,
    seed: int | None,
    started: str,
    inputs: dict[str, str | Path] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A provenance dictionary; input files are recorded with their SHA-256."""
    import numba
    import numpy

    rec: dict[str, Any] = {
        "gutskin_version": __version__,
        "seed": seed,
        "command": sys.argv,
        "started": started,
        "finished": now_iso(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "inputs": {
            k: {"path": str(v), "sha256": file_sha256(v)} for k, v in (inputs or {}).items()
        },
    }
    if extra:
        rec.update(extra)
    return rec


def write_provenance(directory: str | Path, record: dict[str, Any]) -> Path:
    """Write ``provenance.json`` into ``directory``."""
    from gutskin.io.outdir import write_file_atomic

    # atomic: a provenance.json that is a link is replaced, its target never written
    return write_file_atomic(
        Path(directory) / "provenance.json", json.dumps(record, indent=2, default=str) + "\n"
    )
