"""Virtual patients: parameter sampling, disease-activity noise, burn-in to baseline."""

from gutskin.population.sampling import (
    NOISE_ORIGIN,
    burn_in,
    flare_noise_schedule,
    parameter_uniforms,
    sample_parameters,
)

__all__ = [
    "NOISE_ORIGIN",
    "burn_in",
    "flare_noise_schedule",
    "parameter_uniforms",
    "sample_parameters",
]
