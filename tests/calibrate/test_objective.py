"""Objective determinism and synthetic recovery of a known parameter value."""

from __future__ import annotations

import dataclasses

import pytest

from gutskin.calibrate.fit import fit
from gutskin.calibrate.objective import evaluate, objective, residuals
from gutskin.calibrate.targets import load_targets


def test_objective_deterministic_for_seed(tiny_targets):
    ts = load_targets(tiny_targets)
    a = objective(ts, {"iso_ed50": 0.2}, seed=3)
    b = objective(ts, {"iso_ed50": 0.2}, seed=3)
    assert a == b
    assert objective(ts, {"iso_ed50": 0.4}, seed=3) != a
    sim = evaluate(ts, None, seed=3)
    assert sim["tiny_missing"] is None
    assert set(residuals(ts, sim)) == {"tiny_trial", "tiny_sebum"}


def test_models_travel_as_objects_and_the_registry_is_read_only(tiny_targets):
    """Issue 33: a parameter variant is a ModelSpec passed along; nothing is registered."""
    import pytest

    from gutskin.simulation import MODELS

    before = set(MODELS)
    evaluate(load_targets(tiny_targets), {"iso_ed50": 0.3}, seed=1)
    assert set(MODELS) == before
    with pytest.raises(TypeError):
        MODELS["mine"] = lambda: None  # type: ignore[index]


def test_synthetic_recovery(tiny_targets):
    """Simulate the sebum target at a known iso_ed50, then recover it by fitting."""
    ts = load_targets(tiny_targets)
    sebum = ts.by_id("tiny_sebum")
    truth = 0.3
    obs = evaluate(ts, {"iso_ed50": truth}, seed=5, targets=[sebum])["tiny_sebum"]
    synthetic = dataclasses.replace(ts, targets=[dataclasses.replace(sebum, observed=obs)])
    res = fit(synthetic, ["iso_ed50"], budget=24, seed=5, profile_points=1)
    assert res.fitted["iso_ed50"] == pytest.approx(truth, rel=0.1)
    assert res.j_best < 0.05
    tab = res.table()
    assert list(tab.columns[:6]) == [
        "name", "value", "lower", "upper", "at_bound", "identifiable",
    ]  # fmt: skip
    assert bool(tab.loc[0, "identifiable"])
    assert not bool(tab.loc[0, "at_bound"])


def test_population_case_definition_follows_the_target():
    """A population target's ``cases``/``controls`` pick the groups it compares."""
    import numpy as np

    from gutskin.calibrate.objective import population_statistic, simulate_cohort
    from gutskin.model import acne_model
    from gutskin.population.pipeline import output as _output

    spec = acne_model()
    base = load_targets().by_id("yan2018_actinobacteria_ratio")
    _, res = simulate_cohort(spec, 60, 11)
    inf = _output(spec, res, "inflammatory_lesions")[:, 1]
    x = _output(spec, res, "gut_bifido")[:, 1]
    for lo, hi in ((20.0, 1.0), (5.0, 2.0)):
        t = dataclasses.replace(
            base,
            options={
                **base.options,
                "n": 60,
                "cases": {"inflammatory_min": lo},
                "controls": {"inflammatory_max": hi},
            },
        )
        a, c = res.ok & (inf >= lo), res.ok & (inf < hi)
        assert a.sum() >= 3 and c.sum() >= 3
        expect = float(np.mean(x[a]) / np.mean(x[c]))
        assert population_statistic(spec, t, 11) == pytest.approx(expect, rel=1e-12)


def test_a_failing_target_simulation_is_reported_not_swallowed(monkeypatch):
    """Issue 31: an exception in a target's trial names the design and targets; a design
    the parameter set cannot fill is undefined (NaN), which the objective penalises."""
    import pytest

    from gutskin.calibrate import objective
    from gutskin.calibrate.targets import TargetError, load_targets
    from gutskin.trial.design import DesignError

    ts = load_targets()
    trial_targets = [t for t in ts.targets if t.simulator == "trial"][:2]
    dname = trial_targets[0].options["design"]
    group = [t for t in trial_targets if t.options["design"] == dname]

    def boom(*args, **kwargs):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(objective, "_run_design", boom)
    with pytest.raises(TargetError, match=f"{dname}.*solver exploded") as err:
        objective.evaluate(ts, None, targets=group)
    assert group[0].id in str(err.value)

    def cannot_fill(*args, **kwargs):
        raise DesignError("population.inclusion: only 3 of 114 met the entry criteria")

    monkeypatch.setattr(objective, "_run_design", cannot_fill)
    out = objective.evaluate(ts, None, targets=group)
    assert all(out[t.id] != out[t.id] for t in group)  # NaN


def test_solver_options_reach_every_simulation(tiny_targets, monkeypatch):
    """Issue 33: calibrate takes one SolverOptions, honoured by its trials and cohorts."""
    from gutskin.calibrate import objective
    from gutskin.engine import SolverOptions
    from gutskin.trial import run as trial_run

    seen = []
    real_trial, real_cohort = trial_run.run_trial, objective.simulate_cohort

    def trial(*args, **kwargs):
        seen.append(("trial", kwargs.get("solver")))
        return real_trial(*args, **kwargs)

    def cohort(*args, **kwargs):
        seen.append(("cohort", kwargs.get("solver")))
        return real_cohort(*args, **kwargs)

    monkeypatch.setattr(trial_run, "run_trial", trial)
    monkeypatch.setattr(objective, "simulate_cohort", cohort)
    opts = SolverOptions(rtol=1e-5, atol=1e-7)
    evaluate(load_targets(tiny_targets), None, seed=2, solver=opts)
    kinds = {k for k, _ in seen}
    assert kinds == {"trial", "cohort"} and all(s is opts for _, s in seen)


def test_replicate_objective_is_the_mean_of_replicate_trials(tiny_targets):
    """J of the replicate objective is sum z^2 over the means of the replicate trials that
    ``make validate`` draws (same seeds, same pools); deterministic; groups restrict it."""
    import numpy as np

    from gutskin.calibrate.replicates import ReplicateObjective, check_groups, run_validation

    ts = load_targets(tiny_targets)
    ro = ReplicateObjective(replicates=2, rinaldi_replicates=3, pool_size=120)
    j = ro(ts, {"iso_ed50": 0.2}, seed=4)
    assert j == ro(ts, {"iso_ed50": 0.2}, seed=4)
    reps = run_validation(
        ts, {"iso_ed50": 0.2}, replicates=2, rinaldi_replicates=3, seed=4, pool_size=120
    )
    trial, sebum = ts.by_id("tiny_trial"), ts.by_id("tiny_sebum")
    assert len(reps["tiny_trial"]) == 3 and len(reps["tiny_sebum"]) == 2
    want = (
        trial.z(float(np.mean(reps["tiny_trial"]))) ** 2
        + sebum.z(float(np.mean(reps["tiny_sebum"]))) ** 2
    )
    assert j == pytest.approx(want, rel=1e-12)
    only = ReplicateObjective(
        replicates=2, rinaldi_replicates=3, pool_size=120, groups=("relation",)
    )
    assert [t.id for t in only.targets(ts)] == ["tiny_sebum"]
    assert only(ts, {"iso_ed50": 0.2}, seed=4) == pytest.approx(
        sebum.z(float(np.mean(reps["tiny_sebum"]))) ** 2, rel=1e-12
    )
    with pytest.raises(ValueError, match="nope"):
        check_groups(ts, ["nope"])
