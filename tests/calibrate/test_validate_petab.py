"""Validation bookkeeping (no simulation) and the PEtab export."""

from __future__ import annotations

import pandas as pd
import pytest

from gutskin.calibrate.checks import check_targets
from gutskin.calibrate.report import render_markdown
from gutskin.calibrate.targets import load_targets


def test_check_targets_and_report(tiny_targets):
    ts = load_targets(tiny_targets)
    reps = {"tiny_trial": [-41.0, -39.0, -42.0], "tiny_sebum": [-30.0, -31.0], "tiny_missing": []}
    checks = {c.target.id: c for c in check_targets(ts, reps)}
    assert checks["tiny_trial"].status == "met"
    assert checks["tiny_sebum"].status == "not met"
    assert checks["tiny_missing"].status == "not represented"
    md = render_markdown(
        ts, list(checks.values()), None, replicates=3, rinaldi_replicates=3, seed=0,
        seconds=1.0, figures=[], parameter_source="table",
    )  # fmt: skip
    # targets the model cannot meet or express are listed, never dropped
    assert "tiny_missing" in md and "no FOXO1 state" in md
    assert md.count("`tiny_sebum`") >= 2


def test_direction_and_ordering():
    ts = load_targets()
    arms = {"probiotics_botanicals": -50.0, "botanicals": -40.0, "probiotics": -38.0,
            "placebo": -10.0}  # fmt: skip
    reps = {t.id: [] for t in ts.targets}
    reps["rinaldi2022_arm_ordering"] = [arms, arms]
    reps["rinaldi2022_direction_sebum"] = [
        {"probiotics_botanicals": -5.0, "probiotics": -3.0, "botanicals": 1.0}
    ]
    checks = {c.target.id: c for c in check_targets(ts, reps) if c.target.id in (
        "rinaldi2022_arm_ordering", "rinaldi2022_direction_sebum")}  # fmt: skip
    assert checks["rinaldi2022_arm_ordering"].status == "met"
    assert checks["rinaldi2022_direction_sebum"].status == "not met"


def test_petab_export_lints(tmp_path):
    pytest.importorskip("petab")
    from gutskin.calibrate.petab_export import export_petab, lint_petab

    info = export_petab(load_targets(), tmp_path)
    assert "rinaldi2022_probiotics_botanicals" in info["exported"]
    assert "leyden1975_c_acnes_density" in info["skipped"]
    for f in ("model.xml", "conditions.tsv", "observables.tsv", "measurements.tsv",
              "parameters.tsv", "problem.yaml"):  # fmt: skip
        assert (tmp_path / f).exists(), f
    assert lint_petab(tmp_path)
    # measurement rows in condition order (pyPESTO's RoadRunner backend relies on it)
    meas = pd.read_csv(tmp_path / "measurements.tsv", sep="\t")
    ids = meas["simulationConditionId"].tolist()
    assert ids == sorted(ids) and len(set(ids)) > 1
    # only parameters the problem can move are estimated (issue 22): those named in the
    # issue act outside the model's equations here, and the README lists them
    par = pd.read_csv(tmp_path / "parameters.tsv", sep="\t").set_index("parameterId")
    for name in ("activity_sd", "care_seeking", "iga_cut_2", "rho_diet_igf1_dysbiosis"):
        if name in par.index:
            assert par.loc[name, "estimate"] == 0, name
            assert f"`{name}`" in (tmp_path / "README.md").read_text()
    assert set(info["fixed"]) == set(par.index[par["estimate"] == 0])
    assert (par["estimate"] == 1).sum() >= 5
