"""Shared test set-up: one kernel cache for the whole run."""

import os
from pathlib import Path

os.environ.setdefault(
    "GUTSKIN_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".gutskin_cache")
)
