"""Allocation of randomized patients to arms: simple, permuted-block, stratified blocks.

The allocation sequence comes from the trial-level stream ``"randomization"``
(:func:`gutskin.engine.random.run_rng`) and patients are allocated in screening
order, as in a real trial.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gutskin.engine.random import run_rng
from gutskin.trial.design import Design

__all__ = ["allocate"]


def _rng(seed: int) -> np.random.Generator:
    return run_rng(seed, "randomization")


def _blocks(
    n: int, names: list[str], ratios: list[int], size: int, rng: np.random.Generator
) -> list[str]:
    unit = [nm for nm, r in zip(names, ratios, strict=True) for _ in range(r)]
    reps = max(1, size // len(unit))
    block = unit * reps
    seq: list[str] = []
    while len(seq) < n:
        seq.extend(rng.permutation(block).tolist())
    return seq[:n]


def allocate(design: Design, baseline: pd.DataFrame, seed: int) -> NDArray[np.str_]:
    """Arm of each randomized patient (rows of ``baseline`` in screening order).

    ``simple``: independent draws with probabilities proportional to the arm
    ratios.  ``block``: permuted blocks (default size 2 × sum of ratios).
    ``stratified``: permuted blocks within each stratum (``sex`` and/or
    ``severity`` = baseline IGA).
    """
    names = [a.name for a in design.arms]
    ratios = [a.ratio for a in design.arms]
    rng = _rng(seed)
    n = len(baseline)
    r = design.randomization
    size = r.block_size or 2 * sum(ratios)
    if r.method == "simple":
        p = np.array(ratios, float) / sum(ratios)
        return np.array(names)[rng.choice(len(names), size=n, p=p)]
    if r.method == "block" or not r.strata:
        return np.array(_blocks(n, names, ratios, size, rng))
    keys = []
    for s in r.strata:
        keys.append(baseline["sex"].astype(str) if s == "sex" else baseline["iga"].astype(str))
    stratum = pd.Series(["|".join(t) for t in zip(*keys, strict=True)], index=baseline.index)
    out = np.empty(n, dtype=object)
    for key in sorted(stratum.unique()):
        pos = np.flatnonzero(stratum.to_numpy() == key)
        out[pos] = _blocks(len(pos), names, ratios, size, rng)
    return out.astype(str)
