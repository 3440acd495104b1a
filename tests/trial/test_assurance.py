"""Assurance (issue 19): power averaged over parameter uncertainty, on the acne model."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from gutskin.cli import main
from gutskin.model.priors import Prior, PriorError, parse_prior
from gutskin.model.strains import StrainError, load_strains
from gutskin.simulation import get_model
from gutskin.trial.assurance import (
    AssuranceError,
    EnsembleUncertainty,
    assurance,
    default_quantities,
    prior_uncertainty,
    read_ensemble,
    weighted_quantile,
)
from gutskin.trial.design import load_design, parse_design
from gutskin.trial.power import power_curve

# a small probiotic trial: LS03 vs placebo, 12 weeks, one comparison, short burn-in
SMALL = {
    "name": "small_probiotic",
    "model": "acne",
    "sample_size": 40,
    "duration_weeks": 12,
    "visits_weeks": [0, 12],
    "arms": [
        {"name": "placebo", "regimens": [{"intervention": "placebo"}]},
        {"name": "ls03", "regimens": [{"intervention": "LS03", "dose": 1.0e9}]},
    ],
    "population": {
        "burn_in_days": 120,
        "inclusion": {"iga": {"min": 2, "max": 4}, "inflammatory": {"min": 5}},
    },
    "analysis": {
        "reference_arm": "placebo",
        "comparisons": [{"endpoint": "inflammatory", "method": "ancova", "visit_week": 12}],
    },
}
GAIN = next(  # gut_skin_gain's point value in parameters.csv
    p.value for p in get_model("acne").parameters if p.name == "gut_skin_gain"
)


def _small():
    return parse_design(SMALL)


# -- priors and sources (no simulation) --------------------------------------------------
def test_default_prior_shape_follows_the_span_of_the_range():
    assert Prior.from_range(0.1, 2.0).distribution == "loguniform"  # 20-fold
    assert Prior.from_range(0.2, 0.7).distribution == "uniform"
    assert Prior.from_range(0.0, 5.0).distribution == "uniform"  # not positive
    u = np.linspace(0.001, 0.999, 101)
    for p in (Prior("loguniform", 0.1, 10), Prior("uniform", 0, 2), Prior("triangular", 0, 2, 1.5)):
        x = p.ppf(u)
        assert np.all(np.diff(x) > 0) and x.min() >= p.lower and x.max() <= p.upper
    assert Prior("loguniform", 0.1, 10).ppf([0.5])[0] == pytest.approx(1.0)
    assert Prior("triangular", 0, 2, 1.5).ppf([0.75])[0] == pytest.approx(1.5)
    assert np.all(Prior("uniform", 1.0, 1.0).ppf(u) == 1.0)  # a point mass


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([1, 2, 3], "expected [lower, upper]"),
        ({"lower": 0.5}, "'upper' is required"),
        ({"lower": 0, "upper": 1, "distribution": "normal"}, "distribution must be one of"),
        ({"lower": 0, "upper": 1, "distribution": "loguniform"}, "lower > 0"),
        ({"lower": 0, "upper": 1, "mode": 3}, "mode in [0, 1]"),
        ({"lower": 0, "upper": 1, "sd": 3}, "unknown key(s) ['sd']"),
        ([2, 1], "lower <= upper"),
        ([0, 9], "outside the allowed range [0, 2]"),
        (["a", 1], "expected a number"),
    ],
)
def test_prior_errors_name_the_field(raw, message):
    with pytest.raises(PriorError, match=None) as err:
        parse_prior(raw, "strain 'X', property 'engraftment', prior", (0.0, 2.0))
    assert message in str(err.value) and "property 'engraftment', prior" in str(err.value)


def test_strain_yaml_priors(tmp_path):
    f = tmp_path / "strains.yaml"
    f.write_text(
        "strains:\n  LS03:\n    properties:\n"
        "      engraftment: {value: 1.0, prior: [0.2, 1.6]}\n"
        "      anti_il8: {value: 0.175, prior: {distribution: triangular, lower: 0.05,"
        " upper: 0.3, mode: 0.175}}\n"
    )
    lib = load_strains(f)
    props = lib["LS03"].properties
    assert props["engraftment"].prior == Prior("uniform", 0.2, 1.6)
    assert props["anti_il8"].prior == Prior("triangular", 0.05, 0.3, 0.175)
    assert props["bacteriocin"].prior is None and props["engraftment"].value == 1.0
    assert load_strains()["LS03"].properties["engraftment"].prior is None  # packaged: none
    # every strain property with a prior is drawn by default, besides the parameters
    names = default_quantities(_small(), strains=lib)
    assert {"LS03.engraftment", "LS03.anti_il8"} <= set(names)
    assert not any(re.match(r"pb[0-9]_", n) for n in names)  # slots: via STRAIN.property
    assert "gut_skin_gain" in names  # assumed, and acts on the skin
    assert "bot_emax" not in names  # not assumed (M)
    f.write_text(
        "strains:\n  LS03:\n    properties:\n      engraftment: {value: 1.9, prior: [0.2, 1.6]}\n"
    )
    with pytest.raises(StrainError, match="lies outside its prior"):
        load_strains(f)
    f.write_text(
        "strains:\n  LS03:\n    properties:\n      engraftment: {value: 1, prior: [0, 5]}\n"
    )
    with pytest.raises(StrainError, match=r"prior: \[0, 5\] is outside the allowed range"):
        load_strains(f)


def test_prior_draws_are_reproducible_and_keyed_by_name():
    d = _small()
    one = prior_uncertainty(d, parameters=["LS03.engraftment"]).table(20, seed=4)
    two = prior_uncertainty(d, parameters=["gut_skin_gain", "LS03.engraftment"]).table(20, seed=4)
    pd.testing.assert_series_equal(one["LS03.engraftment"], two["LS03.engraftment"])
    assert two["gut_skin_gain"].between(0.0, 4.0).all()
    assert math.isclose(two["weight"].sum(), 1.0)
    other = prior_uncertainty(d, parameters=["LS03.engraftment"]).table(20, seed=5)
    assert not np.allclose(one["LS03.engraftment"], other["LS03.engraftment"])


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["nope"], "unknown parameter 'nope'"),
        (["pb1_engraftment"], "name the strain's property instead (e.g. LS03.engraftment)"),
        (["BR03.engraftment"], "strain 'BR03' is in no arm of the design"),
        (["LS03.colour"], "unknown strain property 'colour'"),
        (["XX.engraftment"], "unknown strain 'XX'"),
        (["gut_skin_gain", "gut_skin_gain"], "named twice"),
    ],
)
def test_prior_name_errors(names, message):
    with pytest.raises(AssuranceError) as err:
        prior_uncertainty(_small(), parameters=names)
    assert message in str(err.value) and str(err.value).startswith("--parameters")


def test_ensemble_reader(tmp_path):
    f = tmp_path / "ens.csv"
    f.write_text("member,gut_skin_gain,LS03.engraftment,weight\na,1.5,0.8,1\nb,2.0,1.2,3\n")
    ens = read_ensemble(f)
    assert ens.names == ("gut_skin_gain", "LS03.engraftment") and ens.members == ("a", "b")
    t = ens.table(None, seed=0)
    assert t["weight"].tolist() == [0.25, 0.75] and t["member"].tolist() == ["a", "b"]
    sub = ens.table(1, seed=0)
    assert len(sub) == 1 and sub["weight"].item() == 1.0
    with pytest.raises(AssuranceError, match=r"--draws must be in 1\.\.2"):
        ens.table(3, seed=0)
    for text, message in (
        ("", "is empty"),
        ("gut_skin_gain\n", "has a header but no rows"),
        ("weight\n1\n", "no parameter columns"),
        ("gut_skin_gain,gut_skin_gain\n1,2\n", "more than once"),
        ("gut_skin_gain,weight\n1\n", "line 2: 1 fields, the header has 2"),
        ("gut_skin_gain\nabc\n", "line 2, column 'gut_skin_gain': expected a finite number"),
        ("gut_skin_gain\nnan\n", "expected a finite number"),
        ("gut_skin_gain,weight\n1,-1\n", "must be >= 0"),
        ("gut_skin_gain,weight\n1,0\n", "the weights sum to 0"),
    ):
        f.write_text(text)
        with pytest.raises(AssuranceError, match=None) as err:
            read_ensemble(f)
        assert message in str(err.value), (text, str(err.value))


def test_weighted_quantile_matches_hazen_for_equal_weights():
    x = np.array([0.3, 0.1, 0.9, 0.5])
    q = weighted_quantile(x, np.ones(4), [0.1, 0.5, 0.9])
    np.testing.assert_allclose(q, np.quantile(x, [0.1, 0.5, 0.9], method="hazen"))
    assert weighted_quantile([0.0, 1.0], [0.0, 1.0], 0.5) == 1.0


# -- runs ---------------------------------------------------------------------------------
def test_assurance_equals_power_when_every_uncertain_quantity_is_fixed(tmp_path):
    """Identical rows (at the point values, unequal weights) and a point-mass strain prior:
    every draw is the point model, so assurance is exactly the power."""
    d = _small()
    kw = dict(replicates=3, seed=2, pool=150, workers=1)
    pw, _ = power_curve(d, [20, 40], **kw)
    ens = EnsembleUncertainty(
        "identical rows",
        ("gut_skin_gain", "LS03.engraftment"),
        ((GAIN, 1.0),) * 3,
        (1.0, 2.0, 0.5),
    )
    f = tmp_path / "strains.yaml"
    f.write_text(
        "strains:\n  LS03:\n    properties:\n      engraftment: {value: 1, prior: [1, 1]}\n"
    )
    lib = load_strains(f)
    point = prior_uncertainty(d, parameters=["LS03.engraftment"], strains=lib)
    for source, strains in ((ens, None), (point, lib)):
        res = assurance(d, [20, 40], uncertainty=source, draws=None, strains=strains, **kw)
        s = res.summary.sort_values("n")
        assert s["assurance"].tolist() == pw.sort_values("n")["power"].tolist()
        assert s["point_power"].tolist() == s["assurance"].tolist()
        assert (s["power_q10"] == s["power_q90"]).all()
        assert res.draws["true_effect"].nunique() == 1


def test_assurance_below_point_power_when_engraftment_is_uncertain():
    """probiotic12wk at a 10-fold dose (point power ~1 at n = 200): with LS03's
    engraftment drawn over its range [0, 2], weakly engrafting draws fail, so assurance
    falls below the point-estimate power, and the draws show why."""
    data = load_design("probiotic12wk").model_dump(mode="json")
    data.update(sample_size=200, visits_weeks=[0, 12])
    data["population"]["burn_in_days"] = 120
    data["arms"][1]["regimens"][0]["dose"] = 1.0e10
    data["analysis"]["comparisons"] = [
        {"endpoint": "inflammatory", "method": "ancova", "visit_week": 12}
    ]
    d = parse_design(data)
    source = prior_uncertainty(d, parameters=["LS03.engraftment"])
    res = assurance(
        d, [100, 200], uncertainty=source, draws=8, replicates=10, seed=0, pool=400, workers=1
    )
    at200 = res.summary[res.summary["n"] == 200].iloc[0]
    assert at200["point_power"] >= 0.85
    assert at200["assurance"] < at200["point_power"] - 0.1
    assert at200["power_q10"] < at200["assurance"] <= at200["power_q90"]
    dr = res.draws
    # weak engraftment: smaller effect (the effect is a reduction, negative)
    rho = np.corrcoef(dr["LS03.engraftment"], dr["true_effect"])[0, 1]
    assert rho < -0.8
    small = res.smallest_n(0.99)
    assert small["smallest_n"].isna().all()


def test_results_do_not_depend_on_worker_count():
    """Strain draws: one shared virtual population, parts of it in the workers."""
    d = _small()
    source = prior_uncertainty(d, parameters=["LS03.engraftment"])
    kw = dict(uncertainty=source, draws=3, replicates=2, seed=3, pool=150)
    one = assurance(d, [20, 40], workers=1, **kw)
    two = assurance(d, [20, 40], workers=2, **kw)
    for a, b in ((one.summary, two.summary), (one.draws, two.draws), (one.raw, two.raw)):
        pd.testing.assert_frame_equal(a, b)


@pytest.mark.slow
def test_results_do_not_depend_on_worker_count_with_parameter_draws():
    """Model-parameter draws: each worker builds its draws' virtual populations."""
    d = _small()
    source = prior_uncertainty(d, parameters=["LS03.engraftment", "gut_skin_gain"])
    kw = dict(uncertainty=source, draws=2, replicates=2, seed=3, pool=150)
    one = assurance(d, [20, 40], workers=1, **kw)
    two = assurance(d, [20, 40], workers=2, **kw)
    for a, b in ((one.summary, two.summary), (one.draws, two.draws), (one.raw, two.raw)):
        pd.testing.assert_frame_equal(a, b)


def test_assurance_cli_writes_its_tables(tmp_path, capsys):
    design = tmp_path / "small.yaml"
    design.write_text(yaml.safe_dump(SMALL))
    ens = tmp_path / "ens.csv"
    ens.write_text("LS03.engraftment,weight\n0.5,1\n1.5,1\n")
    out = tmp_path / "assure"
    args = ["power", str(design), "--n", "20,40", "--replicates", "2", "--pool", "150"]
    rc = main([*args, "--uncertainty", str(ens), "--workers", "1", "--out", str(out)])
    assert rc == 0
    for f in (
        "assurance.csv",
        "draws.csv",
        "power.csv",
        "power_by_draw.csv",
        "replicates.csv",
        "smallest_n.csv",
        "provenance.json",
        "figures/assurance_curve.png",
    ):
        assert (out / f).exists(), f
    draws = pd.read_csv(out / "draws.csv")
    assert draws["LS03.engraftment"].tolist() == [0.5, 1.5]
    assert {"true_effect", "power_n20", "power_n40", "weight"} <= set(draws.columns)
    summary = pd.read_csv(out / "assurance.csv")
    assert {"assurance", "point_power", "power_median", "power_q10", "power_q90"} <= set(
        summary.columns
    )
    import json

    prov = json.loads((out / "provenance.json").read_text())
    assert prov["uncertainty"] == str(ens) and prov["inputs"]["ensemble"]["sha256"]
    assert "assurance" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--uncertainty", "prior", "--parameters", "nope"], "unknown parameter 'nope'"),
        (["--uncertainty", "prior", "--draws", "0"], "--draws must be in 1..100000"),
        (["--draws", "5"], "--draws needs --uncertainty"),
        (["--uncertainty", "{d}/bad.csv"], "line 2, column 'gut_skin_gain'"),
        (["--uncertainty", "{d}/missing.csv"], "is not a file"),
        (["--uncertainty", "{d}/bad.csv", "--parameters", "x"], "--parameters is for"),
        (["--uncertainty", "prior", "--pool", "fresh"], "--pool fresh is not supported"),
    ],
)
def test_assurance_cli_errors(tmp_path, capsys, extra, message):
    (tmp_path / "bad.csv").write_text("gut_skin_gain\nmany\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    args = [a.replace("{d}", str(tmp_path)) for a in extra]
    rc = main(["power", "probiotic12wk", *args, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and message in err, err
    assert err.count("gutskin: error:") == 1 and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_new_strain_with_priors_from_a_user_file(tmp_path):
    """A strain with no data, defined in the user's YAML with priors, in a design's arm."""
    f = tmp_path / "strains.yaml"
    f.write_text(
        "strains:\n  MY01:\n    name: Lactobacillus sp. MY01\n    genus: Lactobacillus\n"
        "    default_dose: 1.0e+9\n    properties:\n"
        "      engraftment: {value: 0.8, prior: {distribution: loguniform, lower: 0.1,"
        " upper: 2.0}}\n"
        "      bacteriocin: {value: 0.5, prior: [0.0, 1.5]}\n"
        "      anti_il8: 0.1\n      scfa: 0.05\n      igf1_lowering: 0.1\n"
        "      barrier: 0.1\n      washout: 4.0\n"
    )
    lib = load_strains(f)
    data = dict(
        SMALL, arms=[SMALL["arms"][0], {"name": "my01", "regimens": [{"intervention": "MY01"}]}]
    )
    with pytest.raises(ValueError, match="MY01"):
        parse_design(data)  # the packaged library does not know it
    d = parse_design(data, strains=lib)
    names = default_quantities(d, strains=lib)
    assert names[-2:] == ["MY01.engraftment", "MY01.bacteriocin"]
    source = prior_uncertainty(d, parameters=names[-2:], strains=lib)
    res = assurance(
        d, [20], uncertainty=source, draws=2, replicates=1, seed=0, pool=60, strains=lib, workers=1
    )
    t = res.draws
    assert t["MY01.engraftment"].between(0.1, 2.0).all() and len(t) == 2
    assert res.draws["true_effect"].nunique() == 2  # the draws act on the arm


def test_the_packaged_calibrated_ensemble_reads():
    """``--uncertainty calibrated`` reads the ensemble that issue 30 packages: every column
    a model parameter inside its table range, weights summing to one."""
    from importlib import resources

    from gutskin.simulation import get_model
    from gutskin.trial.assurance import read_ensemble

    path = resources.files("gutskin.calibrate") / "data" / "ensemble.csv"
    ens = read_ensemble(str(path), label="calibrated")
    params = {p.name: p for p in get_model("acne").parameters}
    assert len(ens.values) >= 5
    assert sum(ens.weights) == pytest.approx(1.0)
    for row in ens.values:
        for name, value in zip(ens.names, row, strict=True):
            p = params[name]
            assert p.lower <= value <= p.upper, (name, value)
