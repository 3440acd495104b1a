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


def test_power_curve_shape_and_reproducibility():
    d = parse_design(SMALL)
    pw, raw = power_curve(d, [8, 40], replicates=3, seed=2, workers=1)
    assert set(pw["n"]) == {8, 40}
    assert set(pw["endpoint"]) == {"inflammatory", "sebum"}
    assert ((pw["power"] >= 0) & (pw["power"] <= 1)).all()
    assert (pw["ci_low"] <= pw["power"]).all() and (pw["power"] <= pw["ci_high"]).all()
    assert len(raw) == 3 * 2 * 2
    pw2, raw2 = power_curve(d, [8, 40], replicates=3, seed=2, workers=2)
    pd.testing.assert_frame_equal(pw, pw2)
    pd.testing.assert_frame_equal(raw, raw2)
    # isotretinoin suppresses sebum strongly: detected at n = 40 in every replicate
    sebum40 = pw[(pw["endpoint"] == "sebum") & (pw["n"] == 40)]["power"].item()
    assert sebum40 == 1.0


def test_power_cli_outputs_and_errors(tmp_path, capsys):
    design = tmp_path / "small.yaml"
    design.write_text(yaml.safe_dump(SMALL))
    out = tmp_path / "power"
    rc = main(["power", str(design), "--n", "8,16", "--replicates", "2", "--out", str(out)])
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
    assert not (tmp_path / "p2").exists() and not (tmp_path / "p3").exists()


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
