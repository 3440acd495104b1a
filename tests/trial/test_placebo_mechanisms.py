"""Placebo-response mechanisms: disease activity, care seeking, calibrated IGA cut points."""

import numpy as np
import pytest

from gutskin.model import acne_model
from gutskin.population.sampling import flare_noise_schedule, sample_parameters
from gutskin.trial.design import load_design
from gutskin.trial.observation import IGA_CUTS, N_UNIFORMS, observe_visits
from gutskin.trial.run import run_trial
from gutskin.trial.screening import _presents, iga_cuts


def _spec(**values):
    return acne_model().with_parameters(**values)


def test_activity_path_is_its_own_stream_and_has_its_sd():
    spec0 = _spec(activity_sd=0.0)
    spec1 = _spec(activity_sd=0.6, activity_tau=20.0)
    idx = np.arange(40)
    p0 = sample_parameters(spec0, idx, 3)
    p1 = sample_parameters(spec1, idx, 3)
    s0 = flare_noise_schedule(spec0, p0, idx, 3, -2000.0, 0.0)
    s1 = flare_noise_schedule(spec1, p1, idx, 3, -2000.0, 0.0)
    f = spec0.input_names.index("flare_noise")
    a = spec0.input_names.index("disease_activity")
    # the fast flare path does not move when the slow activity is switched on
    np.testing.assert_array_equal(s0.values[:, :, f], s1.values[:, :, f])
    assert not s0.values[:, :, a].any()
    path = s1.values[:, :, a]
    # stationary SD 0.6: pooled over 40 patients x 2000 days (tau 20 d), well inside +-10 %
    assert 0.54 < path.std() < 0.66
    lag = np.corrcoef(path[:, :-20].ravel(), path[:, 20:].ravel())[0, 1]
    assert abs(lag - np.exp(-1.0)) < 0.08


def test_care_seeking_selects_active_phases_and_zero_selects_nobody_out():
    idx = np.arange(400)
    for beta, expect_all in ((0.0, True), (2.0, False)):
        spec = _spec(activity_sd=0.7, care_seeking=beta)
        p = sample_parameters(spec, idx, 11)
        noise = flare_noise_schedule(spec, p, idx, 11, -100.0, 10.0)
        came = _presents(spec, p, noise, idx, 11)
        a = noise.values[:, int(np.searchsorted(noise.times, 0.0, side="right")) - 1]
        z = a[:, spec.input_names.index("disease_activity")] / 0.7
        if expect_all:
            assert came.all()
        else:
            # Phi(2 z): about half come forward, those in active phases
            assert 0.35 < came.mean() < 0.65
            assert z[came].mean() > 0.5 > z[~came].mean()


def test_iga_cuts_come_from_the_model_and_move_grades():
    table = acne_model().parameter_values()
    np.testing.assert_allclose(
        iga_cuts(acne_model()), np.log1p([table[f"iga_cut_{k}"] for k in range(1, 5)])
    )
    assert iga_cuts(acne_model().with_parameters(iga_cut_2=7.0))[1] == IGA_CUTS[1]
    wider = iga_cuts(_spec(iga_cut_2=15.0))
    assert wider[1] == pytest.approx(np.log1p(15.0))
    n = 200
    expected = {
        "noninflammatory": np.full(n, 10.0),
        "papules": np.full(n, 8.0),
        "pustules": np.full(n, 1.0),
        "nodules": np.zeros(n),
        **{k: np.ones(n) for k in ("erythema", "sebum", "rel_c_acnes", "rel_s_epidermidis")},
        "rel_s_aureus": np.ones(n),
        "gut_shannon": np.ones(n),
    }
    u = np.random.default_rng(0).random((n, N_UNIFORMS))
    kw = dict(
        post_baseline=np.zeros(n, bool),
        count_dispersion=20.0,
        rater_cv=0.1,
        iga_rater_sd=0.25,
        instrument_cv=0.1,
        expectation_bias=0.0,
    )
    default = observe_visits(expected, u, **kw)["iga"]
    moved = observe_visits(expected, u, iga_cuts=wider, **kw)["iga"]
    assert (moved <= default).all() and (moved < default).mean() > 0.3


@pytest.mark.slow
def test_care_seeking_gives_a_placebo_response_that_grows_over_weeks():
    """Phase 3-like entry: selection in active phases -> improvement growing to week 12."""
    base = load_design("rinaldi2022")
    inc = base.population.inclusion.model_validate(
        {"iga": {"min": 3, "max": 4}, "inflammatory": {"min": 20, "max": 50}, "nodules_max": 2}
    )
    change = {}
    for beta in (0.0, 1.5):
        spec = _spec(activity_sd=0.8, care_seeking=beta)
        d = base.model_copy(
            update={
                "sample_size": 240,
                "duration_weeks": 12,
                "visits_weeks": [0, 4, 12],
                "arms": base.arms[:1],
                "population": base.population.model_copy(update={"inclusion": inc}),
                "dropout": base.dropout.model_copy(update={"rate_per_week": 0.0}),
            }
        )
        ep = run_trial(d, seed=5, analyse=False, model=spec).endpoints
        b = ep[ep.visit_week == 0].inflammatory.mean()
        for w in (4, 12):
            change[(beta, w)] = 100 * (ep[ep.visit_week == w].inflammatory.mean() - b) / b
    assert change[(1.5, 12)] < change[(0.0, 12)] - 5, change
    assert change[(1.5, 12)] < change[(1.5, 4)] - 3, change
