"""Covariate effects on patient parameters (sex, age).

Each effect multiplies one parameter for patients matching a condition.  They
are few, marked with their evidence, and kept as data so calibration can
revise them.

* ``androgen_tone`` × 1.25 in males — assumed (L).  Direction: casual sebum
  correlates with lesions most strongly in males (Youn group, n = 914; H,
  qualitative); higher male sebum output is general knowledge, magnitude
  unverified.

Age is sampled and recorded (analysis covariate, stratification) but has no
biological effect in the model: Leyden 1975 found acne-vs-normal differences in
*C. acnes* only up to age 21, which the model's parameters do not resolve by age.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gutskin.engine.spec import ModelSpec

__all__ = ["COVARIATE_EFFECTS", "CovariateEffect", "apply_covariates"]


@dataclass(frozen=True)
class CovariateEffect:
    """Multiply ``parameter`` by ``factor`` for patients of ``sex``."""

    parameter: str
    sex: str
    factor: float
    source: str
    confidence: str


COVARIATE_EFFECTS: tuple[CovariateEffect, ...] = (
    CovariateEffect(
        parameter="androgen_tone",
        sex="M",
        factor=1.25,
        source="assumed; direction from Youn group (casual sebum vs lesions strongest in males)",
        confidence="assumed",
    ),
)


def apply_covariates(
    spec: ModelSpec,
    params: NDArray[np.float64],
    sex: Sequence[str] | NDArray[np.str_],
    effects: Sequence[CovariateEffect] = COVARIATE_EFFECTS,
) -> NDArray[np.float64]:
    """Parameters adjusted for each patient's covariates (a new array, clipped to bounds)."""
    out = np.array(params, dtype=np.float64, copy=True)
    sexes = np.asarray(sex)
    for eff in effects:
        if eff.parameter not in spec.parameter_names:
            continue
        j = spec.parameter_names.index(eff.parameter)
        p = spec.parameters[j]
        col = np.where(sexes == eff.sex, out[:, j] * eff.factor, out[:, j])
        lo = -np.inf if p.lower is None else p.lower
        hi = np.inf if p.upper is None else p.upper
        out[:, j] = np.clip(col, lo, hi)
    return out
