"""Deterministic per-patient random streams.

Patient ``i`` of a run with seed ``s`` always draws from
``SeedSequence(s, spawn_key=(stream, i))``, which is exactly the ``i``-th
child that ``SeedSequence(s).spawn`` would give for stream 0.  Numbers
therefore do not depend on chunk size, worker count or the order in which
patients are processed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["STREAMS", "patient_draws", "patient_rng", "patient_rngs"]

#: Named independent streams, so that e.g. adding a dropout draw never shifts
#: the parameter draws of a patient.
STREAMS: dict[str, int] = {
    "parameters": 0,
    "schedule": 1,
    "noise": 2,
    "observation": 3,
    "dropout": 4,
    "randomization": 5,
    "screening": 6,
    "adherence": 7,
    "activity": 8,
    "presentation": 9,
}


def patient_rng(seed: int, index: int, stream: str = "parameters") -> np.random.Generator:
    """Generator of patient ``index`` for the named ``stream`` of run ``seed``."""
    if stream not in STREAMS:
        raise KeyError(f"unknown random stream {stream!r}; known: {sorted(STREAMS)}")
    key: tuple[int, ...] = (index,) if STREAMS[stream] == 0 else (STREAMS[stream], index)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def patient_rngs(
    seed: int, indices: Iterable[int], stream: str = "parameters"
) -> list[np.random.Generator]:
    """One generator per patient index (see :func:`patient_rng`)."""
    return [patient_rng(seed, int(i), stream) for i in indices]


def patient_draws(
    seed: int,
    indices: Iterable[int],
    stream: str,
    draw: Callable[[np.random.Generator], Any],
    shape: tuple[int, ...] = (),
) -> NDArray[Any]:
    """``draw(generator)`` for each patient's ``stream`` generator, stacked on axis 0.

    Parameters
    ----------
    seed : int
        Run seed.
    indices : iterable of int
        Patient numbers.
    stream : str
        Named stream (:data:`STREAMS`).
    draw : callable
        Takes a patient's fresh generator and returns a scalar or an array of ``shape``.
    shape : tuple of int
        Shape of one patient's draw (used for an empty ``indices``).

    Returns
    -------
    ndarray, shape (N, *shape)
    """
    rows = [np.asarray(draw(patient_rng(seed, int(i), stream))) for i in indices]
    if not rows:
        return np.empty((0, *shape))
    return np.stack(rows)
