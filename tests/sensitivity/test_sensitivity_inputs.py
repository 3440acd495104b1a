"""Factors, outcomes and plans: parsing and validation (nothing is simulated)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gutskin.engine.structure import influential_parameters
from gutskin.population.sampling import sample_parameters, truncated_lognormal
from gutskin.sensitivity import (
    FactorError,
    MethodError,
    OutcomeError,
    SensitivityError,
    default_factors,
    load_factors,
    make_factor,
    parse_outcome,
    plan,
    strain_factors,
)
from gutskin.sensitivity.factors import salib_problem, to_physical
from gutskin.simulation import get_model
from gutskin.trial.design import load_design


@pytest.fixture(scope="module")
def spec():
    return get_model("acne")


def test_factor_kinds_bounds_and_scale(spec):
    f = make_factor("gut_skin_gain", spec)
    assert f.kind == "parameter" and (f.lower, f.upper) == (0.0, 4.0) and not f.log
    assert f.nominal == spec.parameter("gut_skin_gain").value
    pb = make_factor("pb_ed50", spec)
    assert pb.log and pb.bounds == pytest.approx((8.0, 10.0))
    s = make_factor("LS03.anti_il8", spec)
    assert (s.kind, s.target, s.prop, s.nominal) == ("strain", "LS03", "anti_il8", 0.175)
    assert (s.lower, s.upper) == (0.0, 0.9)
    d = make_factor("botanical.dose", spec, nominal_doses={"botanical": 1.0})
    assert (d.kind, d.target, d.nominal, d.lower, d.upper) == ("dose", "botanical", 1.0, 0, 5)
    narrow = make_factor("LS03.anti_il8", spec, lower=0.1, upper=0.25, log=False)
    assert (narrow.lower, narrow.upper) == (0.1, 0.25)


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("gut_skin_gian", {}, "did you mean gut_skin_gain"),
        ("XX99.anti_il8", {}, "unknown strain 'XX99'"),
        ("LS03.potency", {}, "unknown strain property 'potency'"),
        ("placebo.dose", {}, "placebo has no dose"),
        ("nosuch.dose", {}, "unknown intervention"),
        ("gut_skin_gain", {"lower": -1.0}, "leave the allowed range"),
        ("gut_skin_gain", {"lower": 2.0, "upper": 1.0}, "must be below upper"),
        ("gut_skin_gain", {"log": True}, "log scale needs lower > 0"),
    ],
)
def test_bad_factors_are_named(spec, name, kwargs, match):
    with pytest.raises(FactorError, match=match):
        make_factor(name, spec, **kwargs)


def test_factor_sets(spec):
    fs = default_factors(spec)
    fixed = {
        *spec.metadata.get("population_parameters", ()),
        *spec.metadata.get("observation_parameters", ()),
    }
    assert fixed  # screening and grading parameters exist and are left out
    assert len(fs) == sum(1 for p in spec.parameters if p.lower < p.upper and p.name not in fixed)
    arm = next(a for a in load_design("rinaldi2022").arms if a.name == "probiotics")
    sf = strain_factors(spec, arm.regimens)
    assert [f.name for f in sf[:2]] == ["BR03.engraftment", "BR03.bacteriocin"]
    assert len(sf) == 21 and {f.group for f in sf} == {
        "engraftment",
        "bacteriocin",
        "anti_il8",
        "scfa",
        "igf1_lowering",
        "barrier",
        "washout",
    }
    placebo = load_design("rinaldi2022").arms[0]
    with pytest.raises(FactorError, match="gives no probiotic strain"):
        strain_factors(spec, placebo.regimens)


def test_factors_files(spec, tmp_path):
    y = tmp_path / "f.yaml"
    y.write_text(
        "- {name: gut_skin_gain, lower: 0.5, upper: 3}\n"
        "- {name: LS03.anti_il8, lower: 0.1, upper: 0.25, group: il8}\n"
        "- {name: pb_ed50, scale: linear}\n"
    )
    fs = load_factors(y, spec)
    assert [f.name for f in fs] == ["gut_skin_gain", "LS03.anti_il8", "pb_ed50"]
    assert fs[0].lower == 0.5 and fs[1].group == "il8" and not fs[2].log
    m = tmp_path / "m.yaml"
    m.write_text("gut_skin_gain: {lower: 1, upper: 3, log: true}\nLS03.engraftment:\n")
    fm = load_factors(m, spec)
    assert fm[0].log and fm[1].upper == 2.0
    c = tmp_path / "f.csv"
    c.write_text("name,lower,upper,log\ngut_skin_gain,0.5,3,false\nk_neu,,,\n")
    fc = load_factors(c, spec)
    assert fc[0].upper == 3 and fc[1].lower == spec.parameter("k_neu").lower
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {name: gut_skin_gain}\n- {name: no_such_parameter}\n")
    with pytest.raises(FactorError, match=r"bad.yaml.*no_such_parameter"):
        load_factors(bad, spec)
    dup = tmp_path / "dup.csv"
    dup.write_text("name\nk_neu\nk_neu\n")
    with pytest.raises(FactorError, match="listed twice"):
        load_factors(dup, spec)
    odd = tmp_path / "odd.csv"
    odd.write_text("name,min\nk_neu,1\n")
    with pytest.raises(FactorError, match="unknown column"):
        load_factors(odd, spec)


def test_log_factors_map_to_physical_values(spec):
    fs = [make_factor("pb_ed50", spec), make_factor("gut_skin_gain", spec)]
    problem = salib_problem(fs)
    assert problem["bounds"][0] == pytest.approx([8.0, 10.0])
    xp = to_physical(fs, np.array([[9.0, 2.0], [10.0, 0.0]]))
    assert xp[:, 0] == pytest.approx([1e9, 1e10]) and list(xp[:, 1]) == [2.0, 0.0]


def test_outcomes(spec):
    o = parse_outcome("inflammatory_lesions@56", spec, duration_days=56)
    assert (o.stat, o.variable, o.observed, o.days, o.time_resolved) == (
        "mean",
        "inflammatory_lesions",
        False,
        (56.0,),
        False,
    )
    w = parse_outcome("pct_diff:inflammatory_lesions@w8", spec, duration_days=56)
    assert w.days == (56.0,) and w.needs_reference and w.unit == "%"
    t = parse_outcome("change:skin_IL8", spec, duration_days=56, every=14)
    assert t.time_resolved and t.days == (14.0, 28.0, 42.0, 56.0)
    t2 = parse_outcome("gut_shannon", spec, duration_days=60, every=7)
    assert t2.days[-1] == 60.0 and t2.days[-2] == 56.0
    e = parse_outcome("diff:iga_success@w8", spec, duration_days=56)
    assert e.observed and e.unit == "fraction"
    assert parse_outcome("observed.erythema@28", spec, duration_days=56).observed
    assert not parse_outcome("erythema@28", spec, duration_days=56).observed


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("lesions@56", "unknown variable 'lesions'"),
        ("median:inflammatory_lesions@56", "unknown statistic 'median'"),
        ("inflammatory_lesions@90", "after the end"),
        ("change:inflammatory_lesions@0", "day must be > 0"),
        ("pct_change:iga_success@w8", "already relative to baseline"),
        ("inflammatory_lesions@soon", "must be a day"),
        ("observed.skin_IL8@7", "unknown trial endpoint"),
        ("a b c", "expected"),
    ],
)
def test_bad_outcomes_are_named(spec, text, match):
    with pytest.raises(OutcomeError, match=match):
        parse_outcome(text, spec, duration_days=56)


def test_plan_validates_without_simulating():
    p = plan(
        method="sobol",
        factors="strain",
        outcome="pct_diff:inflammatory_lesions@56",
        design="rinaldi2022:probiotics",
        samples=64,
    )
    assert p.arm == "probiotics" and p.reference == "placebo"
    assert p.n_evaluations == 64 * 23
    g = plan(
        method="sobol", factors="strain", outcome="inflammatory_lesions@56", samples=64, groups=True
    )
    assert g.arm == "probiotics_botanicals" and g.n_evaluations == 64 * 9
    with pytest.raises(SensitivityError, match="no arm 'nope'"):
        plan(method="morris", factors="strain", outcome="papules@28", design="rinaldi2022:nope")
    with pytest.raises(SensitivityError, match="reference arm"):
        plan(
            method="morris",
            factors="default",
            outcome="diff:papules@28",
            design="rinaldi2022:placebo",
        )
    with pytest.raises(MethodError, match="not pawn"):
        plan(method="pawn", factors="strain", outcome="papules@28", groups=True)
    with pytest.raises(FactorError, match="neither a factors file"):
        plan(method="morris", factors="nosuchfile.yaml", outcome="papules@28")


def test_structural_influence(spec):
    untreated = influential_parameters(spec, ["flare_noise"])
    assert "gut_skin_gain" in untreated and "k_pus_res" in untreated
    assert not {"pb1_anti_il8", "pb3_bacteriocin", "bot_emax", "pb_ed50"} & untreated
    dosed = influential_parameters(spec, ["flare_noise", "probiotic_dose_1"], ["papules"])
    assert {"pb1_anti_il8", "pb_ed50"} <= dosed and "pb3_bacteriocin" not in dosed
    assert "erythema_weight" in influential_parameters(spec, ["flare_noise"], ["erythema"])


def test_median_shift_reproduces_population_sampling(spec):
    idx = np.arange(20)
    seed = 4
    from gutskin.population import parameter_uniforms

    # the uniforms behind the draw, shared-cause correlation included (gut_dysbiosis is
    # the second of a copula pair, so the raw stream would not reproduce it)
    u = parameter_uniforms(spec, idx, seed)
    for name in ("keratinization", "gut_dysbiosis", "flare_sd"):
        j = spec.parameter_names.index(name)
        p = spec.parameters[j]
        nominal = sample_parameters(spec, idx, seed)[:, j]
        mine = truncated_lognormal(p.value, u[:, j], p.cv, p.lower, p.upper)
        np.testing.assert_allclose(mine, nominal, rtol=1e-12)
        shifted = sample_parameters(spec, idx, seed, values={name: 1.3 * p.value})[:, j]
        mine2 = truncated_lognormal(1.3 * p.value, u[:, j], p.cv, p.lower, p.upper)
        np.testing.assert_allclose(mine2, shifted, rtol=1e-12)
    assert math.isclose(truncated_lognormal(2.0, u[:3, 0], 0.0, 0.0, 5.0)[1], 2.0)
