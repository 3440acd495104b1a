"""Virtual patients: parameter sampling, disease-activity noise, the patient pipeline."""

from gutskin.population.pipeline import (
    Personalisation,
    Treatment,
    burn_in,
    initial_states,
    patient_parameters,
    treat,
)
from gutskin.population.sampling import (
    NOISE_ORIGIN,
    flare_noise_schedule,
    parameter_uniforms,
    sample_parameters,
    truncated_lognormal,
)

__all__ = [
    "NOISE_ORIGIN",
    "Personalisation",
    "Treatment",
    "burn_in",
    "flare_noise_schedule",
    "initial_states",
    "parameter_uniforms",
    "patient_parameters",
    "sample_parameters",
    "treat",
    "truncated_lognormal",
]
