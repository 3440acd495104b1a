"""Parameter sampling, flare noise and burn-in."""

from __future__ import annotations

import numpy as np
import pytest

from gutskin.population import (
    NOISE_ORIGIN,
    burn_in,
    flare_noise_schedule,
    sample_parameters,
)


def test_sampling_is_chunk_invariant(spec):
    whole = sample_parameters(spec, range(50), seed=3)
    parts = np.vstack(
        [sample_parameters(spec, range(0, 20), 3), sample_parameters(spec, range(20, 50), 3)]
    )
    np.testing.assert_array_equal(whole, parts)
    np.testing.assert_array_equal(sample_parameters(spec, [17], 3)[0], whole[17])
    assert not np.array_equal(sample_parameters(spec, range(5), 4), whole[:5])


def test_sampling_distribution(spec):
    p = sample_parameters(spec, range(4000), seed=1)
    for j, par in enumerate(spec.parameters):
        col = p[:, j]
        assert np.all(col >= par.lower) and np.all(col <= par.upper), par.name
        if par.cv == 0:
            assert np.all(col == par.value), par.name
    j = spec.parameter_names.index("immune_reactivity")  # cv 0.6, wide bounds
    x = p[:, j]
    assert abs(np.median(x) / spec.parameters[j].value - 1) < 0.05
    sigma = np.sqrt(np.log1p(spec.parameters[j].cv ** 2))
    assert abs(np.std(np.log(x)) / sigma - 1) < 0.08


def test_sampling_overrides_and_errors(spec):
    p = sample_parameters(spec, range(2000), 1, values={"mu_cac": 1.0})
    j = spec.parameter_names.index("mu_cac")
    assert abs(np.median(p[:, j]) - 1.0) < 0.03  # new median, same CV
    with pytest.raises(ValueError, match="unknown parameter"):
        sample_parameters(spec, range(3), 1, values={"nope": 1.0})


def test_noise_windows_are_segments_of_one_path(spec):
    idx = [3, 8]
    p = sample_parameters(spec, idx, 5)
    full = flare_noise_schedule(spec, p, idx, 5, -30.0, 20.0)
    a = flare_noise_schedule(spec, p, idx, 5, -30.0, 0.0)
    b = flare_noise_schedule(spec, p, idx, 5, 0.0, 20.0)
    cols = [spec.input_names.index(n) for n in ("flare_noise", "disease_activity")]
    np.testing.assert_array_equal(full.values[:, :30, cols], a.values[:, :, cols])
    # a window that starts later begins its path later: equal to exp(-20) of the SD
    np.testing.assert_allclose(full.values[:, 30:, cols], b.values[:, :, cols], rtol=0, atol=1e-8)
    one = flare_noise_schedule(spec, p[1:], idx[1:], 5, 0.0, 20.0)  # patient alone
    np.testing.assert_array_equal(one.values[0], b.values[1])
    others = np.ones(len(spec.inputs), dtype=bool)
    others[cols] = False
    assert np.all(full.values[:, :, others] == 0)
    assert np.all(full.values[:, :, cols] != 0)
    off = flare_noise_schedule(spec, p, idx, 5, 0.0, 20.0, enabled=False)
    assert np.all(off.values == 0) and np.array_equal(off.times, b.times)
    with pytest.raises(ValueError):
        flare_noise_schedule(spec, p, idx, 5, NOISE_ORIGIN - 1, 0.0)


def test_noise_schedule_adds_to_treatment(spec):
    from gutskin.engine import Exposure, build_schedule

    p = sample_parameters(spec, range(2), 5)
    noise = flare_noise_schedule(spec, p, range(2), 5, 0.0, 10.0)
    trt = build_schedule(
        spec.input_names, [0.0] * len(spec.inputs), [Exposure("botanical", 1, 2, 6)], 2, 0.0
    )
    both = trt + noise
    assert both.at(3.0)[0, spec.input_names.index("botanical")] == 1.0
    col = spec.input_names.index("flare_noise")
    assert both.at(3.5)[0, col] == noise.at(3.0)[0, col] != 0.0


def test_burn_in_is_deterministic_and_reaches_baseline(spec):
    idx = np.arange(6)
    p = sample_parameters(spec, idx, 9)

    def base(params, days, indices, **kw):
        res, _ = burn_in(spec, params, indices, 9, days, **kw)
        assert res.ok.all()
        return res.y[:, -1, :]

    y1 = base(p, 300, idx)
    y2 = base(p[3:], 300, idx[3:])
    np.testing.assert_array_equal(y1[3:], y2)
    assert np.isfinite(y1).all()
    # without noise, a longer burn-in barely moves the baseline
    a = base(p, 300, idx, noise=False)
    b = base(p, 600, idx, noise=False)
    np.testing.assert_allclose(a, b, rtol=0.02, atol=1e-3)


def test_shared_cause_correlation_keeps_marginals(spec):
    """The copula pair (igf1_host, gut_dysbiosis) gets the Spearman correlation a Gaussian
    copula implies, each margin stays the same distribution, and other parameters and a
    zero correlation leave the draws bit-identical."""
    from scipy import stats

    from gutskin.engine.random import name_key, uniforms
    from gutskin.population import parameter_uniforms

    (first, second, rho_name), *_ = spec.metadata["parameter_correlations"]
    a, b = spec.parameter_names.index(first), spec.parameter_names.index(second)
    n, rho = 3000, 0.6
    raw = np.column_stack(
        [
            uniforms(5, "parameters", range(n), 1, sub=name_key(p))[:, 0]
            for p in spec.parameter_names
        ]
    )
    u0 = parameter_uniforms(spec, range(n), 5, values={rho_name: 0.0})
    np.testing.assert_array_equal(u0, raw)
    u = parameter_uniforms(spec, range(n), 5, values={rho_name: rho})
    others = [j for j in range(len(spec.parameters)) if j != b]
    np.testing.assert_array_equal(u[:, others], raw[:, others])
    assert stats.kstest(u[:, b], "uniform").pvalue > 0.01
    expected = 6.0 / np.pi * np.arcsin(rho / 2.0)  # Spearman's rho of a Gaussian copula
    assert stats.spearmanr(u[:, a], u[:, b]).statistic == pytest.approx(expected, abs=0.04)
    p0 = sample_parameters(spec, range(n), 5, values={rho_name: 0.0})
    p = sample_parameters(spec, range(n), 5, values={rho_name: rho})
    assert stats.ks_2samp(p[:, b], p0[:, b]).pvalue > 0.01
    assert stats.spearmanr(p[:, a], p[:, b]).statistic == pytest.approx(expected, abs=0.04)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"between": ["igf1_host"], "rho": "rho_diet_igf1_dysbiosis"}, "two different"),
        ({"between": ["igf1_host", "sebum_ref"], "rho": "rho_diet_igf1_dysbiosis"}, "cv > 0"),
        ({"between": ["igf1_host", "gut_dysbiosis"], "rho": "igf1_host"}, "cv 0"),
        ({"between": ["igf1_host", "gut_dysbiosis"]}, "expected"),
    ],
)
def test_bad_parameter_correlation(entry, message):
    from gutskin.engine.spec import SpecError
    from gutskin.model.acne import _correlations, read_parameters

    doc = {"parameter_correlations": [entry], "population_parameters": ["rho_diet_igf1_dysbiosis"]}
    with pytest.raises(SpecError, match=message):
        _correlations(doc, read_parameters())


def test_parameter_correlation_needs_bounded_rho():
    """A correlation parameter without table bounds could be set outside (-1, 1)."""
    import dataclasses

    from gutskin.engine.spec import SpecError
    from gutskin.model.acne import _correlations, read_parameters

    params = [
        dataclasses.replace(p, upper=None) if p.name == "rho_diet_igf1_dysbiosis" else p
        for p in read_parameters()
    ]
    doc = {
        "parameter_correlations": [
            {"between": ["igf1_host", "gut_dysbiosis"], "rho": "rho_diet_igf1_dysbiosis"}
        ],
        "population_parameters": ["rho_diet_igf1_dysbiosis"],
    }
    with pytest.raises(SpecError, match="bounds inside"):
        _correlations(doc, params)
    assert _correlations(doc, read_parameters()) == [
        ("igf1_host", "gut_dysbiosis", "rho_diet_igf1_dysbiosis")
    ]
