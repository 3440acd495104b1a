"""`gutskin trial` end to end on the acne model: outputs, reproducibility, errors, report."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from gutskin.cli import main
from gutskin.trial.design import builtin_designs

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("trial") / "rinaldi"
    assert main(["trial", "rinaldi2022", "--seed", "11", "--out", str(out)]) == 0
    return out


def test_outputs_and_results_schema(run_dir):
    for f in (
        "results.json",
        "endpoints.parquet",
        "report.html",
        "provenance.json",
        "design.yaml",
        "patients.csv",
    ):
        assert (run_dir / f).exists(), f
    assert list((run_dir / "figures").glob("*.png"))
    res = json.loads((run_dir / "results.json").read_text())
    assert res["seed"] == 11 and res["gutskin_version"]
    assert res["design"]["name"] == "rinaldi2022"
    assert [a["name"] for a in res["arms"]] == [
        "placebo",
        "probiotics_botanicals",
        "botanicals",
        "probiotics",
    ]
    assert sum(a["n_randomized"] for a in res["arms"]) == 114
    assert all(a["n_completed"] <= a["n_randomized"] for a in res["arms"])
    e = res["endpoints"][0]
    assert {
        "endpoint",
        "visit_week",
        "arm",
        "n",
        "mean",
        "sd",
        "change_mean",
        "pct_change_mean",
    } <= set(e)
    c = res["comparisons"][0]
    assert {
        "endpoint",
        "visit_week",
        "arm",
        "reference",
        "method",
        "estimate",
        "ci_low",
        "ci_high",
        "p_value",
    } <= set(c)
    methods = {c["method"] for c in res["comparisons"]}
    assert {"ancova", "negbin", "responder", "mmrm"} <= methods
    ep = pd.read_parquet(run_dir / "endpoints.parquet")
    assert set(ep["visit_week"]) == {0.0, 4.0, 8.0}
    assert ep.groupby("patient").size().eq(3).all()


def test_same_seed_identical_results_different_seed_different(run_dir, tmp_path):
    again = tmp_path / "again"
    assert main(["trial", "rinaldi2022", "--seed", "11", "--out", str(again)]) == 0
    a = json.loads((run_dir / "results.json").read_text())
    b = json.loads((again / "results.json").read_text())
    assert a == b
    other = tmp_path / "other"
    assert main(["trial", "rinaldi2022", "--seed", "12", "--out", str(other)]) == 0
    c = json.loads((other / "results.json").read_text())
    assert a["endpoints"] != c["endpoints"]


def _bad(tmp_path, mutate):
    d = yaml.safe_load(builtin_designs()["rinaldi2022"].read_text())
    mutate(d)
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(d))
    return p


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (
            lambda d: d["arms"][1]["regimens"].append({"intervention": "unicorn_extract"}),
            "unicorn_extract",
        ),
        (lambda d: d["arms"][1]["regimens"][0].update(dose=-5), "dose"),
        (lambda d: d.update(visits_weeks=[0, 4, 10]), "after the end"),
        (lambda d: d.update(sample_size=1), "sample_size"),
    ],
)
def test_bad_design_files_exit_2_without_output(tmp_path, capsys, mutate, needle):
    design = _bad(tmp_path, mutate)
    out = tmp_path / "out"
    rc = main(["trial", str(design), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_malformed_yaml_exit_2(tmp_path, capsys):
    p = tmp_path / "bad.yaml"
    p.write_text("name: [oops\n")
    out = tmp_path / "out"
    assert main(["trial", str(p), "--out", str(out)]) == 2
    assert "malformed YAML" in capsys.readouterr().err
    assert not out.exists()


def test_designs_commands(capsys):
    assert main(["designs"]) == 0
    listing = capsys.readouterr().out
    assert "rinaldi2022" in listing and "probiotic12wk" in listing
    assert main(["designs", "show", "rinaldi2022"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["sample_size"] == 114
    assert main(["designs", "show", "nope"]) == 2


def test_report_renders_in_headless_chromium(run_dir):
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium")
    assert exe, "Debian chromium missing: run `make browser` (part of `make test`)"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto((run_dir / "report.html").as_uri())
        assert "In-silico trial" in page.locator("h1").inner_text()
        for cls in ("arms", "endpoints", "comparisons"):
            table = page.locator(f"table.{cls}")
            assert table.count() == 1
            assert table.locator("tbody tr").count() >= 4
        imgs = page.locator("figure img")
        assert imgs.count() >= 4
        widths = page.evaluate(
            "Array.from(document.querySelectorAll('figure img')).map(i => i.naturalWidth)"
        )
        assert all(w > 100 for w in widths), widths
        page.screenshot(path=str(ARTIFACTS / "trial-report.png"), full_page=True)
        browser.close()


def test_console_names_its_two_percent_changes(tmp_path, capsys):
    """The console shows the % change of arm means (as reports, the calibration and
    docs/validation.md) beside the mean of per-patient % changes, named apart (issue 20)."""
    d = yaml.safe_load(builtin_designs()["rinaldi2022"].read_text())
    d["sample_size"] = 16
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(d))
    out = tmp_path / "out"
    assert main(["trial", str(path), "--seed", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "% change of arm mean" in text and "mean % change per patient" in text
    res = json.loads((out / "results.json").read_text())
    last = d["visits_weeks"][-1]
    row = next(
        e
        for e in res["endpoints"]
        if e["endpoint"] == "inflammatory" and e["visit_week"] == last and e["arm"] == "placebo"
    )
    placebo = next(ln for ln in text.splitlines() if "placebo" in ln)
    assert format(row["pct_change_of_means"], "+.1f") in placebo
    assert format(row["pct_change_mean"], "+.1f") in placebo
