"""Virtual patients seeded from a table: overrides, baseline states, simulation."""

from __future__ import annotations

import numpy as np
import pytest
from mb_tables import COUNTS, write_classic

from gutskin.microbiome import GUT_GUILDS, population_from_table, simulate_samples


@pytest.fixture(scope="module")
def spec():
    from gutskin.model import acne_model

    return acne_model()


@pytest.fixture(scope="module")
def pop(tmp_path_factory, spec):
    d = tmp_path_factory.mktemp("pop")
    write_classic(d / "table.txt")
    (d / "map.txt").write_text(
        "#SampleID\tBODY_SITE\nG1\tfeces\nG2\tfeces\nG3\tstool\nG4\tfeces\nK1\tskin\nK2\tskin\n"
    )
    # relative paths are resolved against base_dir (a design file's folder)
    return population_from_table("table.txt", metadata="map.txt", base_dir=d, spec=spec)


def test_parameter_overrides(pop, spec):
    assert pop.kinds == ("gut",) * 4 + ("skin",) * 2
    assert list(pop.sample_of([0, 5, 6, 13])) == [0, 5, 0, 1]
    base = np.tile([p.value for p in spec.parameters], (6, 1))
    p = pop.apply_parameters(spec, base, np.arange(6))
    j = spec.parameter_names.index("gut_dysbiosis")
    want = pop.profile.samples["gut_dysbiosis"].to_numpy()
    np.testing.assert_allclose(p[:4, j], want[:4])
    np.testing.assert_allclose(p[4:, j], base[4:, j])  # skin samples keep the host draw
    others = np.delete(np.arange(p.shape[1]), j)
    np.testing.assert_array_equal(p[:, others], base[:, others])


def test_baseline_states(pop, spec):
    n = 6
    params = pop.apply_parameters(
        spec, np.tile([p.value for p in spec.parameters], (n, 1)), np.arange(n)
    )
    y = np.tile(spec.initial_values(), (n, 1))
    p2, y2 = pop.apply_baseline(spec, params, y, np.arange(n))
    gi = [spec.state_names.index(g) for g in GUT_GUILDS]
    # gut: the sample's composition, total load kept
    np.testing.assert_allclose(y2[:4][:, gi].sum(axis=1), y[:4][:, gi].sum(axis=1))
    comp = y2[:4][:, gi] / y2[:4][:, gi].sum(axis=1, keepdims=True)
    np.testing.assert_allclose(comp, pop.gut_composition.to_numpy()[:4])
    # skin: relative abundances of the sample, C. acnes density kept (the anchor)
    s = {k: spec.state_names.index(k) for k in ("C_acnes", "S_epidermidis", "S_aureus")}
    other = p2[4:, spec.parameter_names.index("skin_other")]
    total = y2[4:, s["C_acnes"]] + y2[4:, s["S_epidermidis"]] + y2[4:, s["S_aureus"]] + other
    for k in s:
        np.testing.assert_allclose(
            y2[4:, s[k]] / total, pop.profile.samples[k].to_numpy()[4:], rtol=1e-9
        )
    np.testing.assert_allclose(y2[4:, s["C_acnes"]], y[4:, s["C_acnes"]])
    for k in ("se_K", "sa_K"):
        par = spec.parameter(k)
        v = p2[:, spec.parameter_names.index(k)]
        assert np.all((v >= par.lower) & (v <= par.upper))
    # gut rows untouched on the skin side and vice versa
    np.testing.assert_array_equal(y2[:4, s["C_acnes"]], y[:4, s["C_acnes"]])
    np.testing.assert_array_equal(y2[4:][:, gi], y[4:][:, gi])
    assert COUNTS[10, 5] == 0  # K2 has no S. aureus: smallest capacity
    assert p2[5, spec.parameter_names.index("sa_K")] == spec.parameter("sa_K").lower


def test_apply_to_burn_in_refreshes_the_observables(pop, spec):
    from gutskin.engine import integrate

    idx = np.arange(8)
    params = pop.apply_parameters(
        spec, np.tile([p.value for p in spec.parameters], (8, 1)), pop.sample_of(idx)
    )
    res = integrate(spec, np.array(spec.initial_values()), params, [-60.0, 0.0])
    res2, p2 = pop.apply_to_burn_in(spec, res, params, pop.sample_of(idx))
    rel = res2.observables[:, -1, spec.assignment_names.index("skin_rel_C_acnes")]
    np.testing.assert_allclose(rel[[4, 5]], pop.profile.samples["C_acnes"].to_numpy()[4:])
    np.testing.assert_array_equal(res2.y[:, 0, :], res.y[:, 0, :])
    assert p2.shape == params.shape


def test_simulate_samples_with_replicates(pop, spec):
    sim = simulate_samples(
        pop,
        regimens=[{"intervention": "LS03", "dose": 1e9}],
        arm="LS03",
        days=28.0,
        visit_weeks=[0, 4],
        burn_in_days=60.0,
        replicates=3,
        adherence=0.9,
        seed=5,
        spec=spec,
    )
    v = sim.visits
    assert len(v) == 6 * 2 * 2
    assert {"inflammatory_p5", "inflammatory_p95"} <= set(v.columns)
    assert (v["n_ok"] == 3).all()
    assert len(sim.patients) == 18 and sim.inflammatory["LS03"].shape == (6, 29)
    again = simulate_samples(
        pop,
        regimens=[{"intervention": "LS03", "dose": 1e9}],
        arm="LS03",
        days=28.0,
        visit_weeks=[0, 4],
        burn_in_days=60.0,
        replicates=3,
        adherence=0.9,
        seed=5,
        spec=spec,
    )
    np.testing.assert_array_equal(v["inflammatory"], again.visits["inflammatory"])
