"""The endpoint registry: one record per endpoint, read by every part that names endpoints.

The design schema (:data:`gutskin.trial.design.ENDPOINTS`), the statistics
(:data:`gutskin.trial.statistics.COUNT_ENDPOINTS` ...), the trial runner's model outputs
(:data:`gutskin.trial.run.MODEL_OUTPUTS`), sensitivity outcomes and the docs all derive
their lists from :data:`REGISTRY`. Adding an endpoint means one record here and, when it
is observed in a new way, its observation rule in :mod:`gutskin.trial.observation`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: A GAGS responder improves by at least this many points from baseline (assumed).
GAGS_IMPROVEMENT = 4.0


def iga_success(iga: ArrayLike, baseline_iga: ArrayLike) -> NDArray[np.float64]:
    """IGA success (FDA 2018): grade 0 or 1 *and* at least 2 grades below baseline.

    Parameters
    ----------
    iga, baseline_iga : array_like
        Post-baseline and baseline grades (0-4), broadcastable.

    Returns
    -------
    ndarray of float
        1.0 for a responder, 0.0 otherwise.
    """
    g, b = np.asarray(iga), np.asarray(baseline_iga)
    return ((g <= 1) & (b - g >= 2)).astype(float)


def gags_improved(gags: ArrayLike, baseline_gags: ArrayLike) -> NDArray[np.float64]:
    """GAGS responder: at least :data:`GAGS_IMPROVEMENT` points below baseline (1.0/0.0)."""
    g, b = np.asarray(gags), np.asarray(baseline_gags)
    return (b - g >= GAGS_IMPROVEMENT).astype(float)


Rule = Callable[[ArrayLike, ArrayLike], NDArray[np.float64]]

__all__ = [
    "GAGS_IMPROVEMENT",
    "REGISTRY",
    "Endpoint",
    "Kind",
    "Rule",
    "gags_improved",
    "iga_success",
    "names_of_kind",
    "responder_endpoints",
]

Kind = Literal["count", "ordinal", "binary", "continuous"]


@dataclass(frozen=True)
class Endpoint:
    """One trial endpoint.

    Attributes
    ----------
    name : str
        Column name in ``endpoints.parquet`` and in design files.
    kind : {"count", "ordinal", "binary", "continuous"}
        Decides the statistical methods that accept it (``gutskin.trial.design.METHODS``).
    unit : str
        Unit of one observation.
    description : str
        What is measured.
    model_output : str or None
        Model state or observable whose value is the expected observation (None: derived
        from other observations at the visit, e.g. IGA from the counts).
    responder_rule : str or None
        For binary endpoints defined against baseline: the rule, in words (the code is
        :func:`gutskin.trial.observation.iga_success` / ``gags_improved``).
    severity : str or None
        For binary endpoints defined against baseline: the endpoint whose baseline value
        is the patient's severity on that scale (a predictor of the endpoint's
        imputation model under multiple imputation).
    rule : callable or None
        The responder rule as code: ``rule(values, baseline_values)`` of the ``severity``
        endpoint gives 1.0 for a responder, 0.0 otherwise. The trial runner and
        sensitivity outcomes derive the endpoint with it, so a new responder endpoint is
        one record here.
    """

    name: str
    kind: Kind
    unit: str
    description: str
    model_output: str | None = None
    responder_rule: str | None = None
    severity: str | None = None
    rule: Rule | None = None

    def responder(self, values: ArrayLike, baseline: ArrayLike) -> NDArray[np.float64]:
        """Responder status (1.0/0.0) from the severity endpoint's values and baseline."""
        if self.rule is None:
            raise ValueError(f"endpoint {self.name!r} has no responder rule")
        return self.rule(values, baseline)


_ROWS = (
    Endpoint("inflammatory", "count", "lesions", "papules + pustules, counted"),
    Endpoint(
        "noninflammatory",
        "count",
        "lesions",
        "open + closed comedones, counted",
        model_output="noninflammatory_lesions",
    ),
    Endpoint("total", "count", "lesions", "inflammatory + non-inflammatory"),
    Endpoint("nodules", "count", "lesions", "nodules, counted", model_output="nodules"),
    Endpoint("iga", "ordinal", "score", "Investigator's Global Assessment, grade 0-4"),
    Endpoint(
        "iga_success",
        "binary",
        "1",
        "IGA success",
        responder_rule="IGA 0 or 1 and at least 2 grades below baseline",
        severity="iga",
        rule=iga_success,
    ),
    Endpoint("gags", "ordinal", "score", "Global Acne Grading System score, 0-44"),
    Endpoint(
        "gags_improved",
        "binary",
        "1",
        "GAGS improvement",
        responder_rule="GAGS at least 4 points below baseline",
        severity="gags",
        rule=gags_improved,
    ),
    Endpoint("erythema", "continuous", "a.u.", "erythema index", model_output="erythema"),
    Endpoint("sebum", "continuous", "1", "casual sebum, relative", model_output="sebum"),
    Endpoint(
        "rel_c_acnes",
        "continuous",
        "fraction",
        "C. acnes relative abundance on skin",
        model_output="skin_rel_C_acnes",
    ),
    Endpoint(
        "rel_s_epidermidis",
        "continuous",
        "fraction",
        "S. epidermidis relative abundance on skin",
        model_output="skin_rel_S_epidermidis",
    ),
    Endpoint(
        "rel_s_aureus",
        "continuous",
        "fraction",
        "S. aureus relative abundance on skin",
        model_output="skin_rel_S_aureus",
    ),
    Endpoint(
        "gut_shannon",
        "continuous",
        "nat",
        "gut Shannon diversity",
        model_output="gut_shannon",
    ),
)

#: Every endpoint, in the order of ``endpoints.parquet``.
REGISTRY: dict[str, Endpoint] = {e.name: e for e in _ROWS}


def responder_endpoints() -> tuple[Endpoint, ...]:
    """The endpoints derived from another by a responder rule, in registry order."""
    return tuple(e for e in _ROWS if e.rule is not None)


def names_of_kind(kind: Kind) -> tuple[str, ...]:
    """Names of the endpoints of one kind, in registry order."""
    return tuple(e.name for e in _ROWS if e.kind == kind)
