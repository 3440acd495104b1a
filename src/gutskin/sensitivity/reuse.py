"""Reuse of per-sample solves across factor samples that agree on what a solve can feel.

Morris trajectories change one factor per point, so consecutive samples often agree on
every factor a burn-in (or an arm's run) can act on; :class:`SolveReuse` keys each sample's
result by those factor values (see :mod:`gutskin.sensitivity.evaluator`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from gutskin.engine.integrate import Status

__all__ = ["REUSE_ROWS", "SolveReuse", "failure_counts"]

#: Patient rows (samples × patients) kept for reuse per burn-in and per arm (a burn-in
#: row is the states, about 0.2 kB; an arm row 8 B per output time).
REUSE_ROWS = 1 << 16


class SolveReuse:
    """Per-sample results keyed by the factor values they depend on (least recently used
    entries dropped beyond ``max_rows`` patient rows).

    An entry is one sample's value for every cohort patient, with the solver failures of
    that solve, so that reporting counts them once per sample as without reuse.
    """

    def __init__(self, cols: Sequence[int], max_rows: int = REUSE_ROWS, enabled: bool = True):
        self.cols = np.asarray(list(cols), dtype=np.int64)
        self.max_entries = max(1, max_rows)
        self.enabled = enabled
        self._serial = 0  # disabled: every sample gets a key of its own
        self._data: OrderedDict[bytes, tuple[NDArray[np.float64], dict[str, int]]] = OrderedDict()

    def keys(self, x: NDArray[np.float64]) -> list[bytes]:
        """Key of every sample (row of ``x``): its values of the factors in ``cols``."""
        if not self.enabled:
            self._serial += x.shape[0]
            return [i.to_bytes(8, "little") for i in range(self._serial - x.shape[0], self._serial)]
        sub = np.ascontiguousarray(x[:, self.cols], dtype=np.float64)
        return [sub[i].tobytes() for i in range(sub.shape[0])]

    def missing(self, keys: Sequence[bytes]) -> list[int]:
        """Rows whose key has no entry, first occurrence of each key only."""
        seen: set[bytes] = set()
        out = []
        for i, k in enumerate(keys):
            if k not in self._data and k not in seen:
                seen.add(k)
                out.append(i)
        return out

    def put(self, key: bytes, value: NDArray[np.float64], failures: dict[str, int]) -> None:
        self._data[key] = (value, failures)
        self._data.move_to_end(key)

    def get(self, key: bytes) -> tuple[NDArray[np.float64], dict[str, int]]:
        self._data.move_to_end(key)
        return self._data[key]

    def trim(self, rows_per_entry: int) -> None:
        """Drop least recently used entries beyond the row budget."""
        keep = max(1, self.max_entries // max(1, rows_per_entry))
        while len(self._data) > keep:
            self._data.popitem(last=False)


def failure_counts(status: NDArray[np.int64]) -> dict[str, int]:
    """Count of patients per non-OK solver status name (what a reused entry reports)."""
    codes, counts = np.unique(np.asarray(status), return_counts=True)
    return {Status(int(k)).name: int(n) for k, n in zip(codes, counts, strict=True) if k != 0}
