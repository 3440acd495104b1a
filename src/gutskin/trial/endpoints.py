"""The endpoint registry: one record per endpoint, read by every part that names endpoints.

The design schema (:data:`gutskin.trial.design.ENDPOINTS`), the statistics
(:data:`gutskin.trial.statistics.COUNT_ENDPOINTS` ...), the trial runner's model outputs
(:data:`gutskin.trial.run.MODEL_OUTPUTS`), sensitivity outcomes and the docs all derive
their lists from :data:`REGISTRY`. Adding an endpoint means one record here and, when it
is observed in a new way, its observation rule in :mod:`gutskin.trial.observation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["REGISTRY", "Endpoint", "Kind", "names_of_kind"]

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
    """

    name: str
    kind: Kind
    unit: str
    description: str
    model_output: str | None = None
    responder_rule: str | None = None
    severity: str | None = None


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
    ),
    Endpoint("gags", "ordinal", "score", "Global Acne Grading System score, 0-44"),
    Endpoint(
        "gags_improved",
        "binary",
        "1",
        "GAGS improvement",
        responder_rule="GAGS at least 4 points below baseline",
        severity="gags",
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


def names_of_kind(kind: Kind) -> tuple[str, ...]:
    """Names of the endpoints of one kind, in registry order."""
    return tuple(e.name for e in _ROWS if e.kind == kind)
