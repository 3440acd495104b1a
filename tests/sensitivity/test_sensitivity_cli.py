"""`gutskin sensitivity` end to end: outputs, one-line errors with exit 2 and no folder."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from gutskin.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sens") / "morris"
    args = [
        "sensitivity",
        "--method", "morris",
        "--factors", "strain",
        "--design", "rinaldi2022:probiotics",
        "--outcome", "pct_diff:inflammatory_lesions",
        "--every", "28",
        "--samples", "4",
        "--cohort", "4",
        "--seed", "3",
        "--out", str(out),
    ]  # fmt: skip
    assert main(args) == 0
    return out


def test_outputs(run_dir):
    for f in ("indices.csv", "factors.csv", "evaluations.parquet", "provenance.json"):
        assert (run_dir / f).exists(), f
    assert not (run_dir / ".partial").exists()
    assert sorted(x.name for x in run_dir.parent.iterdir()) == ["morris"]  # cache removed
    figs = {p.name for p in (run_dir / "figures").glob("*.png")}
    assert {"indices.png", "indices_time.png", "indices_lines.png", "outcome.png"} <= figs
    assert "morris.png" in figs
    idx = pd.read_csv(run_dir / "indices.csv")
    assert list(idx.columns) == [
        "outcome",
        "day",
        "factor",
        "factor2",
        "index",
        "value",
        "conf",
        "ci_low",
        "ci_high",
        "n_used",
        "conf_level",
    ]
    assert set(idx["day"]) == {28.0, 56.0}
    mu = idx[idx["index"] == "mu_star"]
    assert len(mu) == 2 * 21 and mu["value"].notna().all()
    ev = pd.read_parquet(run_dir / "evaluations.parquet")
    assert len(ev) == 4 * 22 and {"LS03.anti_il8", "day_28", "day_56"} <= set(ev.columns)
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["seed"] == 3 and prov["salib"] == "1.6.0"
    assert prov["analysis"]["arm"] == "probiotics"
    assert prov["analysis"]["reference_arm"] == "placebo"
    assert prov["result"]["cohort_size"] == 4 and prov["result"]["evaluations"] == 88
    assert set(prov["nominal_outcome"]) == {"28", "56"}


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--method", "fast", "--outcome", "papules@28"], "unknown method 'fast'"),
        (["--outcome", "papules@28", "--factors", "strain", "--design", "rinaldi2022:placebo"],
         "gives no probiotic strain"),
        (["--outcome", "pimples@28"], "unknown variable 'pimples'"),
        (["--outcome", "papules@28", "--method", "sobol", "--samples", "100"], "power of two"),
        (["--outcome", "papules@28", "--method", "sobol", "--samples", "8"], "too small"),
        (["--outcome", "papules@28", "--method", "pawn", "--samples", "20"], "too small"),
        (["--outcome", "papules@28", "--design", "rinaldi2022:nope"], "no arm 'nope'"),
        (["--outcome", "papules@28", "--design", "nodesign"], "neither a file nor a built-in"),
        (["--outcome", "papules@28", "--cohort", "1"], "--cohort"),
        (["--outcome", "papules@28", "--method", "pawn", "--grouped"], "not pawn"),
    ],
)  # fmt: skip
def test_bad_input_one_line_exit_2_no_folder(tmp_path, capsys, extra, match):
    out = tmp_path / "out"
    assert main(["sensitivity", *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gutskin: error: ") and match in err[0], err
    assert not out.exists()


def test_unknown_factor_in_file(tmp_path, capsys):
    f = tmp_path / "factors.yaml"
    f.write_text("- {name: gut_skin_gain}\n- {name: LS03.potency}\n")
    out = tmp_path / "out"
    code = main(["sensitivity", "--factors", str(f), "--outcome", "papules@28", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown strain property 'potency'" in err[0]
    assert not out.exists()
