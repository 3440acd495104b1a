"""Covariate effects: males get a higher androgen tone, bounded by the parameter range."""

import numpy as np

from gutskin.model import acne_model
from gutskin.population.covariates import apply_covariates
from gutskin.population.sampling import sample_parameters


def test_male_androgen_tone_scaled_and_clipped():
    spec = acne_model()
    p = sample_parameters(spec, np.arange(200), 3)
    sex = np.array(["M", "F"] * 100)
    q = apply_covariates(spec, p, sex)
    j = spec.parameter_names.index("androgen_tone")
    hi = spec.parameters[j].upper
    assert np.allclose(q[sex == "F"], p[sex == "F"])
    assert np.allclose(q[sex == "M", j], np.minimum(1.25 * p[sex == "M", j], hi))
    others = [k for k in range(p.shape[1]) if k != j]
    assert np.array_equal(q[:, others], p[:, others])
