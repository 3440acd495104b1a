"""Smooth disease-activity noise: random Fourier features evaluated inside the kernel."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from gutskin.engine import integrate
from gutskin.population import pipeline
from gutskin.population.sampling import (
    NOISE_BAND,
    noise_schedule,
    sample_parameters,
    smooth_noise_features,
)


def _band_limited_ou_corr(lag: float, tau: float) -> float:
    """Correlation of the OU process band-limited to ``|omega| tau < tan(pi/2 NOISE_BAND)``.

    The OU spectrum is ``S(omega) = sd^2 tau / (pi (1 + omega^2 tau^2))``; the kept part
    integrates to ``NOISE_BAND sd^2`` at lag 0.
    """
    cut = math.tan(0.5 * math.pi * NOISE_BAND)
    val, _ = quad(lambda u: math.cos(u * lag / tau) / (1 + u * u), 0.0, cut, limit=400)
    return 2.0 / math.pi * val


def _fixed(spec, n, sd=0.5, tau=21.0):
    p = sample_parameters(spec, range(n), 3)
    names = spec.parameter_names
    p[:, names.index("flare_sd")] = sd
    p[:, names.index("flare_tau")] = tau
    return p


def test_smooth_noise_has_the_band_limited_ou_moments(spec):
    """Across patients: variance NOISE_BAND * sd^2, lag covariance of the band-limited OU."""
    n, sd, tau = 20_000, 0.5, 21.0
    p = _fixed(spec, n, sd, tau)
    sched = noise_schedule(spec, p, np.arange(n), 7, -10.0, 100.0)
    col = spec.input_names.index("flare_noise")
    x = sched.smooth_values([0.0, 7.0, 28.0, 84.0, 1000.0])[:, :, col]
    var = x.var(axis=0)
    se_var = sd**2 * math.sqrt(2.0 / n) * 1.5  # features add kurtosis: a generous SE
    assert np.all(np.abs(var - NOISE_BAND * sd**2) < 4 * se_var)
    for j, lag in ((1, 7.0), (2, 28.0), (3, 84.0)):
        cov = np.mean(x[:, 0] * x[:, j])
        want = sd**2 * _band_limited_ou_corr(lag, tau)
        assert abs(cov - want) < 4 * se_var, (lag, cov, want)
    # the band keeps the OU's zero-frequency spectral density: integral of the covariance
    lags = np.linspace(0.0, 3000.0, 301)
    cut = math.tan(0.5 * math.pi * NOISE_BAND)
    s0 = 2 * np.trapezoid([_band_limited_ou_corr(s, tau) for s in lags], lags)
    assert abs(s0 - 2 * tau) < 0.02 * 2 * tau
    assert cut == pytest.approx(12.706, abs=1e-3)


def test_a_patients_path_does_not_depend_on_batch_or_window(spec):
    p = sample_parameters(spec, range(6), 4)
    idx = np.arange(6)
    all_ = smooth_noise_features(spec, p, idx, 9)
    alone = smooth_noise_features(spec, p[3:4], idx[3:4], 9)
    np.testing.assert_array_equal(all_[3:4], alone)
    a = noise_schedule(spec, p, idx, 9, -240.0, 0.0)
    b = noise_schedule(spec, p, idx, 9, 0.0, 84.0)
    np.testing.assert_array_equal(a.features, b.features)
    assert a.times.size == 2  # no breakpoints: one segment
    other_seed = smooth_noise_features(spec, p, idx, 10)
    assert not np.allclose(all_, other_seed)
    p0 = p.copy()
    p0[:, spec.parameter_names.index("flare_sd")] = 0.0
    f0 = smooth_noise_features(spec, p0, idx, 9)
    (_, first, k) = spec.feature_layout()[0]
    assert not f0[:, first : first + 3 * k : 3].any()  # zero SD: zero amplitudes


@pytest.mark.parametrize("dense", [False, True])
def test_kernel_evaluates_the_same_path(spec, dense):
    """The kernel's flare noise, read back from ``skin_priming``, is the schedule's path."""
    n = 9
    idx = np.arange(n)
    p = sample_parameters(spec, idx, 2)
    sched = pipeline.untreated_schedule(
        spec, n, -30.0, noise_schedule(spec, p, idx, 2, -30.0, 60.0)
    )
    y0 = pipeline.initial_states(spec, p)
    t = np.linspace(-30.0, 60.0, 37)
    res = integrate(spec, y0, p, t, sched, dense=dense)
    quiet = integrate(spec, y0, p, t, pipeline.untreated_schedule(spec, n, -30.0, None))
    assert res.ok.all()
    j = spec.assignment_names.index("skin_priming")
    si = spec.assignment_names.index("systemic_inflammation")
    gain = p[:, spec.parameter_names.index("gut_skin_gain")][:, None]
    got = np.log(res.observables[:, :, j]) - gain * np.log(res.observables[:, :, si])
    want = sched.smooth_values(t)[:, :, spec.input_names.index("flare_noise")]
    np.testing.assert_allclose(got, want, atol=1e-12, rtol=0)
    assert np.abs(want).max() > 0.1
    # with the features zeroed the model is the noise-free one
    silent = integrate(
        spec, y0, p, t, pipeline.untreated_schedule(spec, n, -30.0, None), dense=dense
    )
    np.testing.assert_allclose(silent.y, quiet.y, rtol=1e-5, atol=1e-8)


def test_feature_shape_is_checked(spec):
    from gutskin.engine.integrate import EngineError
    from gutskin.engine.schedule import Schedule

    n = 2
    base = pipeline.untreated_schedule(spec, n, 0.0, None)
    bad = Schedule(times=base.times, values=base.values, features=np.zeros((n, 5)))
    y0 = pipeline.initial_states(spec, sample_parameters(spec, range(n), 1))
    with pytest.raises(EngineError, match="features have shape"):
        integrate(spec, y0, sample_parameters(spec, range(n), 1), [0.0, 1.0], bad)
    daily = spec.with_smooth_inputs({})
    with pytest.raises(EngineError, match="no smooth inputs"):
        integrate(
            daily,
            y0,
            sample_parameters(daily, range(n), 1),
            [0.0, 1.0],
            Schedule(times=base.times, values=base.values, features=np.zeros((n, 3))),
        )
