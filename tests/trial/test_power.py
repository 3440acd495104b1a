"""`gutskin power`: replicate trials over sample sizes, on the acne model."""

import pandas as pd
import pytest
import yaml

from gutskin.cli import main
from gutskin.trial.design import parse_design
from gutskin.trial.power import power_curve, replicate_seed

SMALL = {
    "name": "small",
    "model": "acne",
    "sample_size": 40,
    "duration_weeks": 4,
    "visits_weeks": [0, 4],
    "arms": [
        {"name": "placebo", "regimens": [{"intervention": "placebo"}]},
        {"name": "isotretinoin", "regimens": [{"intervention": "isotretinoin", "dose": 0.5}]},
    ],
    "population": {
        "burn_in_days": 120,
        "inclusion": {"iga": {"min": 2, "max": 4}, "inflammatory": {"min": 5}},
    },
    "analysis": {
        "comparisons": [
            {"endpoint": "inflammatory", "method": "ancova"},
            {"endpoint": "sebum", "method": "ancova"},
        ]
    },
}


def test_replicate_seeds_are_distinct_and_stable():
    seeds = [replicate_seed(7, r) for r in range(200)]
    assert len(set(seeds)) == 200
    assert seeds == [replicate_seed(7, r) for r in range(200)]


@pytest.mark.parametrize("pool", ["fresh", 150])
def test_power_curve_shape_and_reproducibility(pool):
    d = parse_design(SMALL)
    kw = dict(replicates=3, seed=2, pool=pool, analyses="all")
    pw, raw = power_curve(d, [8, 40], workers=1, **kw)
    assert set(pw["n"]) == {8, 40}
    assert set(pw["endpoint"]) == {"inflammatory", "sebum"}
    assert ((pw["power"] >= 0) & (pw["power"] <= 1)).all()
    assert (pw["ci_low"] <= pw["power"]).all() and (pw["power"] <= pw["ci_high"]).all()
    assert len(raw) == 3 * 2 * 2
    assert (pw["pool"] == "fresh").all() if pool == "fresh" else (pw["pool"] >= 150).all()
    pw2, raw2 = power_curve(d, [8, 40], workers=2, **kw)
    pd.testing.assert_frame_equal(pw, pw2)
    pd.testing.assert_frame_equal(raw, raw2)
    # on a local Dask cluster (one worker or two): the same numbers
    for n_workers in (1, 2):
        pw3, raw3 = power_curve(d, [8, 40], workers=n_workers, scheduler="dask", **kw)
        pd.testing.assert_frame_equal(pw, pw3)
        pd.testing.assert_frame_equal(raw, raw3)
    # isotretinoin suppresses sebum strongly: detected at n = 40 in every replicate
    sebum40 = pw[(pw["endpoint"] == "sebum") & (pw["n"] == 40)]["power"].item()
    assert sebum40 == 1.0


def test_power_cli_outputs_and_errors(tmp_path, capsys):
    design = tmp_path / "small.yaml"
    design.write_text(yaml.safe_dump(SMALL))
    out = tmp_path / "power"
    rc = main(
        [
            "power",
            str(design),
            "--n",
            "8,16",
            "--replicates",
            "2",
            "--pool",
            "150",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    for f in (
        "power.csv",
        "replicates.csv",
        "smallest_n.csv",
        "provenance.json",
        "figures/power_curve.png",
    ):
        assert (out / f).exists(), f
    assert main(["power", str(design), "--n", "8,x", "--out", str(tmp_path / "p2")]) == 2
    assert "--n" in capsys.readouterr().err
    assert main(["power", str(design), "--n", "2", "--out", str(tmp_path / "p3")]) == 2
    assert main(["power", str(design), "--replicates", "0", "--out", str(tmp_path / "p4")]) == 2
    assert main(["power", str(design), "--pool", "many", "--out", str(tmp_path / "p5")]) == 2
    assert "--pool" in capsys.readouterr().err
    assert main(["power", str(design), "--analyses", "some", "--out", str(tmp_path / "p6")]) == 2
    assert "--analyses" in capsys.readouterr().err
    for args, message in (
        (["--scheduler", "spark"], "--scheduler must be inprocess or dask"),
        (["--address", "tcp://127.0.0.1:1"], "--address needs --scheduler dask"),
        (["--scheduler", "dask", "--workers", "2", "--address", "tcp://x:1"], "not both"),
        (["--scheduler", "dask", "--address", "tcp://127.0.0.1:1"], "cannot reach"),
    ):
        assert main(["power", str(design), *args, "--out", str(tmp_path / "p7")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "p2").exists() and not (tmp_path / "p3").exists()
    assert not (tmp_path / "p7").exists()


def test_power_analyses_the_primary_comparison_by_default():
    marked = dict(
        SMALL,
        analysis={
            "comparisons": [
                {"endpoint": "inflammatory", "method": "ancova"},
                {"endpoint": "sebum", "method": "ancova", "primary": True},
            ]
        },
    )
    pw, raw = power_curve(parse_design(marked), [40], replicates=2, seed=1, pool=150)
    assert set(pw["endpoint"]) == {"sebum"} and len(raw) == 2
    pw, _ = power_curve(parse_design(SMALL), [40], replicates=2, seed=1, pool=150)
    assert set(pw["endpoint"]) == {"inflammatory"}  # the first when none is marked
    two = dict(
        marked,
        analysis={
            "comparisons": [dict(c, primary=True) for c in marked["analysis"]["comparisons"]]
        },
    )
    with pytest.raises(ValueError, match="primary"):
        parse_design(two)


def test_pool_replicates_share_patients_but_not_trials():
    from gutskin.trial.pool import build_pool

    d = parse_design(SMALL)
    pool = build_pool(d, seed=3, size=200)
    assert pool.n_eligible_reference >= 200 and pool.size >= pool.n_eligible_reference
    a, b = pool.draw(11), pool.draw(12)
    assert len(a.positions) == len(b.positions) == d.sample_size
    assert not (a.positions == b.positions).all()  # another order, another screening
    again = pool.draw(11)
    assert (again.positions == a.positions).all() and (again.arms == a.arms).all()
    pool.simulate_arms([a, b])
    ta, tb = pool.trial(a), pool.trial(b)
    assert len(ta.patients) == d.sample_size
    # a patient randomized in both replicates to the same arm has one trajectory, and
    # observation noise of its own replicate
    common = set(ta.patients["patient"]) & set(tb.patients["patient"])
    assert common


@pytest.mark.slow
def test_pool_and_fresh_power_agree():
    """Issue 33: >= 400 replicates each way; the estimates agree within 2.5 MC SEs."""
    import math

    design = dict(
        SMALL,
        arms=[
            {"name": "placebo", "regimens": [{"intervention": "placebo"}]},
            {"name": "iso", "regimens": [{"intervention": "isotretinoin", "dose": 0.03}]},
        ],
        analysis={"comparisons": [{"endpoint": "sebum", "method": "ancova"}]},
    )
    d = parse_design(design)
    fresh, _ = power_curve(d, [24], replicates=400, seed=8, pool="fresh")
    pooled, _ = power_curve(d, [24], replicates=400, seed=8)
    p1, p2 = fresh["power"].item(), pooled["power"].item()
    assert 0.15 < p1 < 0.85, p1  # a discriminating operating point
    se = math.sqrt(p1 * (1 - p1) / 400 + p2 * (1 - p2) / 400)
    assert abs(p1 - p2) <= 2.5 * se, (p1, p2, se)


@pytest.mark.slow
def test_null_design_false_positive_rate_on_the_model():
    """Two identical placebo arms: ANCOVA rejects in ~5 % of replicate trials."""
    null = dict(
        SMALL,
        arms=[
            {"name": "a", "regimens": [{"intervention": "placebo"}]},
            {"name": "b", "regimens": [{"intervention": "placebo"}]},
        ],
        analysis={"comparisons": [{"endpoint": "inflammatory", "method": "ancova"}]},
    )
    d = parse_design(null)
    pw, _ = power_curve(d, [40], replicates=400, seed=5)
    rate = pw["power"].item()
    # 99 % binomial interval around 0.05 for 400 trials: [0.0275, 0.0775]
    assert 0.0275 <= rate <= 0.0775, rate


def test_adverse_event_flags_follow_the_intervention():
    from gutskin.trial.run import run_trial

    d = parse_design(
        dict(
            SMALL,
            sample_size=40,
            arms=SMALL["arms"]
            + [{"name": "doxy", "regimens": [{"intervention": "oral_antibiotic", "dose": 100}]}],
            analysis={"comparisons": [{"endpoint": "sebum", "method": "ancova"}]},
        )
    )
    d = d.model_copy(update={"sample_size": 42})
    res = run_trial(d, seed=4)
    ae = {r["arm"]: r for r in res.adverse_events()}
    assert ae["isotretinoin"]["ae_dry_skin"] > ae["placebo"]["ae_dry_skin"]
    assert ae["doxy"]["ae_gut_diversity_loss"] >= ae["placebo"]["ae_gut_diversity_loss"]
    assert all(r["n_at_risk"] > 0 for r in ae.values())
