"""Scale-out: streaming, resumable runs of 10^5-10^8 virtual patients, in process or on Dask.

- :func:`run` — simulate patients chunk by chunk into a Zarr store, keeping only visit
  days (or every day) and chosen variables; resumable after a crash; chunks run in
  this process or as Dask tasks (``scheduler="dask"``); every chunk's files are
  hashed (SHA-256) and a resumed run recomputes damaged chunks.
- :func:`verify` — check a run's store against those hashes.
- :func:`simulate_chunk` — one chunk, exactly as :func:`gutskin.simulation.simulate`
  would simulate those patients.
- the ``gutskin run`` command lives in :mod:`gutskin.cli.run`.

See ``docs/scale.md``.
"""

from gutskin.scale.integrity import StoreCheck, verify
from gutskin.scale.runner import VISIT_DAYS, RunSummary, output_times, run, simulate_chunk
from gutskin.scale.store import MAX_CHUNKS, MAX_PATIENTS, RunConfig, ScaleError

__all__ = [
    "MAX_CHUNKS",
    "MAX_PATIENTS",
    "VISIT_DAYS",
    "RunConfig",
    "RunSummary",
    "ScaleError",
    "StoreCheck",
    "output_times",
    "run",
    "simulate_chunk",
    "verify",
]
