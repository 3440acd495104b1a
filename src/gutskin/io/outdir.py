"""Output folders that appear whole or not at all.

Results are written into a temporary sibling folder and moved into place only
when everything succeeded; on any error the temporary folder is removed and
an existing folder of the same name is left untouched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["OutputDirError", "atomic_output_dir", "check_writable"]


class OutputDirError(ValueError):
    """The output folder cannot be created or written."""


def check_writable(out: str | Path) -> Path:
    """Validate that ``out`` can be created (its parent is a writable folder)."""
    p = Path(out).expanduser().resolve()
    if p.exists() and not p.is_dir():
        raise OutputDirError(f"--out {out}: exists and is not a folder")
    parent = p.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise OutputDirError(f"--out {out}: folder {parent} is not writable")
    if p.exists() and not os.access(p, os.W_OK | os.X_OK):
        raise OutputDirError(f"--out {out}: folder is not writable")
    return p


@contextmanager
def atomic_output_dir(out: str | Path) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``out`` when the block succeeds."""
    final = check_writable(out)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        os.replace(final, old / "x")
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
