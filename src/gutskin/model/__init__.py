"""The science: the acne gut-skin model, its strain library and its interventions.

- :func:`acne_model` — the model as a :class:`~gutskin.engine.spec.ModelSpec`, built from
  ``data/acne_model.yaml`` (equations) and ``data/parameters.csv`` (parameters with
  provenance).
- :func:`parameter_table` — the parameter table as a DataFrame.
- :func:`load_strains` — the probiotic strain library (``data/strains.yaml``), optionally
  merged with a user file.
- :data:`INTERVENTIONS`, :func:`get_intervention`, :func:`resolve` — interventions by name,
  and regimens to exposures plus parameter overrides.
"""

from gutskin.model.acne import acne_model, parameter_table
from gutskin.model.interventions import (
    INTERVENTIONS,
    Intervention,
    InterventionError,
    Regimen,
    arm_treatment,
    get_intervention,
    resolve,
)
from gutskin.model.strains import STRAIN_PROPERTIES, Strain, StrainError, load_strains

__all__ = [
    "INTERVENTIONS",
    "STRAIN_PROPERTIES",
    "Intervention",
    "InterventionError",
    "Regimen",
    "Strain",
    "StrainError",
    "acne_model",
    "arm_treatment",
    "get_intervention",
    "load_strains",
    "parameter_table",
    "resolve",
]
