"""Observation model: counts, IGA, GAGS and instruments behave as documented."""

import numpy as np
from scipy import stats

from gutskin.trial.observation import N_UNIFORMS, gags_band, observe_visits


def _expected(m, infl=20.0, non=40.0, nod=0.0):
    return {
        "noninflammatory": np.full(m, non),
        "papules": np.full(m, 0.7 * infl),
        "pustules": np.full(m, 0.3 * infl),
        "nodules": np.full(m, nod),
        "erythema": np.full(m, 1.5),
        "sebum": np.full(m, 120.0),
        "rel_c_acnes": np.full(m, 0.6),
        "rel_s_epidermidis": np.full(m, 0.3),
        "rel_s_aureus": np.full(m, 0.02),
        "gut_shannon": np.full(m, 1.2),
    }


def _obs(expected, m, seed=0, post=False, **kw):
    rng = np.random.default_rng(seed)
    opts = {
        "count_dispersion": 20.0,
        "rater_cv": 0.1,
        "iga_rater_sd": 0.25,
        "instrument_cv": 0.1,
        "expectation_bias": 0.0,
    }
    opts.update(kw)
    return observe_visits(
        expected, rng.random((m, N_UNIFORMS)), post_baseline=np.full(m, post), **opts
    )


def test_counts_are_negative_binomial_around_expected():
    m = 40_000
    o = _obs(_expected(m), m, rater_cv=0.0)
    x = o["noninflammatory"]
    assert np.all(x == np.round(x)) and x.min() >= 0
    # mean 40, variance 40 + 40^2/20 = 120; 99.9 % intervals of the sample moments
    assert abs(x.mean() - 40) < 4 * np.sqrt(120 / m)
    assert abs(x.var() - 120) < 0.05 * 120
    assert np.array_equal(o["inflammatory"], o["papules"] + o["pustules"])
    assert np.array_equal(o["total"], o["inflammatory"] + o["noninflammatory"])


def test_expectation_bias_lowers_post_baseline_counts():
    m = 20_000
    a = _obs(_expected(m), m, post=True, expectation_bias=0.2)
    b = _obs(_expected(m), m, post=False, expectation_bias=0.2)
    ratio = a["total"].mean() / b["total"].mean()
    assert abs(ratio - 0.8) < 0.02


def test_iga_rises_with_severity_and_spans_the_scale():
    m = 5000
    grades = [_obs(_expected(m, infl=i, non=2 * i), m)["iga"].mean() for i in (0, 3, 10, 30, 90)]
    assert np.all(np.diff(grades) > 0)
    assert grades[0] < 0.5 and grades[-1] > 3.5
    typical = _obs(_expected(m, infl=27, non=44), m)["iga"]  # Huang 2023 medians: moderate
    assert stats.mode(typical).mode == 3


def test_gags_range_monotone_and_bands():
    m = 5000
    g = [
        _obs(_expected(m, infl=i, non=2 * i, nod=n), m)["gags"].mean()
        for i, n in ((0, 0), (5, 0), (30, 0), (60, 3))
    ]
    assert np.all(np.diff(g) > 0)
    top = _obs(_expected(m, infl=200, non=300, nod=50), m)["gags"]
    assert top.max() <= 32 and top.min() >= 0
    assert gags_band(0) == "none" and gags_band(18) == "mild" and gags_band(19) == "moderate"
    assert gags_band(31) == "severe" and gags_band(39) == "very severe"


def test_same_uniforms_same_observations():
    m = 50
    assert all(
        np.array_equal(v, _obs(_expected(m), m, seed=3)[k])
        for k, v in _obs(_expected(m), m, seed=3).items()
    )


def test_responder_rules():
    """FDA IGA success needs grade <= 1 and a 2-grade drop; GAGS needs the set improvement."""
    from gutskin.trial.observation import GAGS_IMPROVEMENT, gags_improved, iga_success

    iga = np.array([1, 1, 0, 2, 0])
    base = np.array([3, 2, 2, 4, 1])
    assert iga_success(iga, base).tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]
    g = np.array([10.0, 10.0 - GAGS_IMPROVEMENT, 20.0])
    assert gags_improved(g, np.array([10.0 + GAGS_IMPROVEMENT, 10.0, 19.0])).tolist() == [
        1.0,
        1.0,
        0.0,
    ]


def test_negative_binomial_counts_equal_scipy_inverse_cdf():
    """The compiled inverse CDF gives scipy's nbinom.ppf, count for count."""
    from scipy import stats

    from gutskin.trial.observation import _nb

    rng = np.random.default_rng(3)
    n = 200_000
    u = np.clip(rng.random(n), 1e-12, 1 - 1e-12)
    mu = np.exp(rng.uniform(np.log(0.01), np.log(300.0), n))
    mu[:5] = [0.0, -1.0, np.nan, 1e-300, 1e4]
    for k in (0.5, 4.0, 20.0):
        want = np.where(
            np.maximum(mu, 0) > 0, stats.nbinom.ppf(u, k, k / (k + np.maximum(mu, 0))), 0
        )
        np.testing.assert_array_equal(_nb(u, mu, k), np.nan_to_num(want))


def test_each_instrument_has_its_own_sub_stream():
    """An instrument's numbers come from its own sub-stream: adding an instrument (a new
    line in INSTRUMENTS) or asking for more visits moves no other instrument's draws."""
    import itertools

    import numpy as np

    from gutskin.engine.random import name_key, uniforms
    from gutskin.trial.observation import COLUMNS, INSTRUMENTS, N_UNIFORMS, observation_uniforms

    idx = np.array([3, 11, 12])
    u = observation_uniforms(5, idx, 4)
    assert u.shape == (3, 4, N_UNIFORMS) == (3, 4, sum(INSTRUMENTS.values()))
    for name, k in INSTRUMENTS.items():
        own = uniforms(5, "observation", idx, 4 * k, sub=name_key(name)).reshape(3, 4, k)
        np.testing.assert_array_equal(u[:, :, COLUMNS[name]], own)
    np.testing.assert_array_equal(observation_uniforms(5, idx, 7)[:, :4], u)
    cols = sorted((c.start, c.stop) for c in COLUMNS.values())
    assert cols[0][0] == 0 and cols[-1][1] == N_UNIFORMS
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cols))  # no gap, no overlap
