"""Sensitivity analysis on the acne model: trial consistency, null factors, resume."""

from __future__ import annotations

import numpy as np
import pytest

from gutskin.sensitivity import (
    ModelEvaluator,
    SensitivityError,
    build_cohort,
    execute,
    make_factor,
    parse_outcome,
    plan,
    run_sensitivity,
)
from gutskin.sensitivity.factors import Factor
from gutskin.trial.design import load_design
from gutskin.trial.run import run_trial


def test_nominal_evaluation_reproduces_the_trial():
    """At nominal factors the cohort sees exactly what its patients saw in the trial."""
    design = load_design("rinaldi2022")
    cohort = build_cohort(design, 24, seed=3)
    trial = run_trial(design.model_copy(update={"sample_size": 24}), seed=3, analyse=False)
    spec = cohort.spec
    factor = make_factor("LS03.anti_il8", spec)
    ep = trial.endpoints
    sel = trial.patients.loc[trial.patients["arm"] == "probiotics", "patient"].to_numpy()
    assert len(sel) >= 3
    # counts, and IGA (graded with the model's calibrated cut points in both)
    for endpoint in ("inflammatory", "iga"):
        out = parse_outcome(endpoint, spec, duration_days=56, every=28)
        ev = ModelEvaluator(cohort, arm="probiotics", outcome=out, factors=[factor])
        values = ev.patient_values(ev.nominal_x())["probiotics"][0]  # (C, T): days 0, 28, 56
        checked = 0
        for pid in sel:
            row = list(cohort.indices).index(pid)
            for t, week in enumerate((0, 4, 8)):
                rec = ep[(ep["patient"] == pid) & (ep["visit_week"] == week)]
                if bool(rec["observed"].iloc[0]):
                    assert values[row, t] == rec[endpoint].iloc[0], (endpoint, pid, week)
                    checked += 1
        assert checked >= 8


@pytest.fixture(scope="module")
def null_run():
    spec_factors = ["LS03.anti_il8", "LS03.engraftment", "pb3_bacteriocin", "k_pus_res"]
    p = plan(
        method="sobol",
        factors=[make_factor(n, _spec()) for n in spec_factors],
        outcome="diff:papules@56",
        design="probiotic12wk:ls03",
        samples=64,
        cohort=6,
        seed=2,
    )
    return execute(p)


def _spec():
    from gutskin.simulation import get_model

    return get_model("acne")


def test_factors_off_the_causal_path_get_zero_total_index(null_run):
    st = null_run.indices[null_run.indices["index"] == "ST"].set_index("factor")
    # pb3_bacteriocin: strain property of the empty slot 3; k_pus_res: pustule resolution,
    # downstream of papules (lesion states do not feed back)
    for name in ("pb3_bacteriocin", "k_pus_res"):
        # zero up to round-off (bootstrap CIs of an all-zero effect can sit at +-1e-17)
        assert st.loc[name, "ci_low"] <= 1e-12 and st.loc[name, "ci_high"] >= -1e-12, name
        assert abs(st.loc[name, "value"]) < 1e-9
    # the strain's own properties matter, clearly
    assert st.loc["LS03.anti_il8", "ci_low"] > 0
    assert st.loc["LS03.engraftment", "ci_low"] > 0
    assert null_run.info["per_sample_burn_in"]  # k_pus_res acts before treatment
    assert null_run.info["arms_per_sample"] == ["ls03", "placebo"]
    assert not null_run.info["solver_failures"]
    # the treatment lowers papules at nominal factors by week 8 (diff < 0; at week 4 this
    # cohort is still within a small early rise, +0.6 papules)
    assert null_run.nominal[0] < 0


def test_dose_and_noise_factors_reproduce_nominal_and_act():
    design = load_design("probiotic12wk")
    cohort = build_cohort(design, 5, seed=1)
    spec = cohort.spec
    out = parse_outcome("change:inflammatory@w12", spec, duration_days=84)
    dose = make_factor("LS03.dose", spec, lower=1e8, upper=1e10, log=True, nominal_doses={})
    noise = make_factor("flare_sd", spec)
    plain = ModelEvaluator(
        cohort, arm="ls03", outcome=out, factors=[make_factor("LS03.washout", spec)]
    )
    both = ModelEvaluator(cohort, arm="ls03", outcome=out, factors=[dose, noise])
    assert both.burn_varies and both.noise_varies
    ref = plain.patient_values(plain.nominal_x())["ls03"]
    x = np.array([[1e9, spec.parameter("flare_sd").value]])
    np.testing.assert_allclose(both.patient_values(x)["ls03"], ref, rtol=1e-9)
    y = both(np.array([[1e8, 0.5], [1e10, 0.5], [1e9, 0.2], [1e9, 0.8]]))
    assert y.shape == (4, 1) and np.all(np.isfinite(y))
    assert y[1, 0] < y[0, 0]  # a higher dose lowers inflammatory counts more


def test_resume_reuses_cached_chunks(tmp_path):
    factors = [
        Factor(name=n, lower=0.0, upper=1.0, log=False, kind="parameter", target=n)
        for n in ("a", "b")
    ]
    calls = []

    def func(x):
        calls.append(len(x))
        return x[:, 0] + 2 * x[:, 1]

    kw = dict(method="sobol", samples=16, seed=1, chunk=10, partial_dir=tmp_path / ".partial")
    first = run_sensitivity(func, factors, nominal=False, **kw)
    assert sum(calls) == 64 and len(list((tmp_path / ".partial").glob("chunk_*.npy"))) == 7

    def boom(x):
        raise AssertionError("should not evaluate")

    again = run_sensitivity(boom, factors, nominal=False, resume=True, **kw)
    np.testing.assert_array_equal(again.y, first.y)
    kw["seed"] = 2
    with pytest.raises(SensitivityError, match="other settings"):
        run_sensitivity(func, factors, nominal=False, resume=True, **kw)


def test_cohort_takes_the_trials_baseline_without_a_second_burn_in():
    """The cohort's baseline is the trial's own (TrialResult.baseline), equal to burning
    the same patients in again."""
    from gutskin.population import pipeline

    design = load_design("rinaldi2022")
    cohort = build_cohort(design, 6, seed=2)
    trial = run_trial(design.model_copy(update={"sample_size": 8}), seed=2, analyse=False)
    assert trial.baseline is not None
    base = trial.baseline.rows(cohort.indices)
    np.testing.assert_array_equal(cohort.baseline, base.states)
    np.testing.assert_array_equal(cohort.params, base.params)
    again, _ = pipeline.burn_in(
        cohort.spec,
        cohort.params,
        cohort.indices,
        2,
        float(design.population.burn_in_days),
    )
    np.testing.assert_allclose(again.y[:, -1, :], cohort.baseline, rtol=1e-12, atol=1e-12)
    with pytest.raises(KeyError, match="no baseline"):
        trial.baseline.rows([10**9])


def test_samples_share_burn_ins_and_arm_runs_without_changing_results():
    """Morris points that differ only in factors a burn-in or an arm cannot feel reuse its
    solve: values equal those of a run without reuse (up to round-off) and do not depend
    on the chunking."""
    design = load_design("probiotic12wk")
    cohort = build_cohort(design, 4, seed=1)
    spec = cohort.spec
    out = parse_outcome("pct_diff:inflammatory@w12", spec, duration_days=84)
    # k_pus_res acts on the untreated model (burn-in), LS03.engraftment on the ls03 arm
    # only, pb3_bacteriocin (an empty strain slot) on nothing
    factors = [make_factor(n, spec) for n in ("k_pus_res", "LS03.engraftment", "pb3_bacteriocin")]
    p = plan(
        method="morris", factors=factors, outcome="pct_diff:inflammatory@w12",
        design="probiotic12wk:ls03", samples=4, cohort=4, seed=1,
    )  # fmt: skip
    from gutskin.sensitivity.factors import salib_problem, to_physical

    x = to_physical(factors, p.method.sample(salib_problem(factors), 4, 7))
    kw = {"arm": "ls03", "outcome": out, "factors": factors, "reference": "placebo"}
    shared = ModelEvaluator(cohort, **kw, chunk_rows=8)  # 2 samples per call
    alone = ModelEvaluator(cohort, **kw, reuse=False)
    y_shared, y_alone = shared(x), alone(x)
    assert shared.n_reused > 0 and alone.n_reused == 0
    assert shared.n_solves < alone.n_solves
    np.testing.assert_allclose(y_shared, y_alone, rtol=1e-6, atol=1e-9)
    big = ModelEvaluator(cohort, **kw, chunk_rows=4 * x.shape[0])
    np.testing.assert_array_equal(big(x), y_shared)
