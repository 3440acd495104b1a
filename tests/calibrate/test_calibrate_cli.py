"""`gutskin calibrate` / `export petab`: bad input -> one line, exit 2, nothing written."""

from __future__ import annotations

import pandas as pd
import pytest

from gutskin.cli import main


@pytest.mark.parametrize(
    "extra",
    [
        ["--budget", "0"],
        ["--budget", "x"],
        ["--targets", "/nonexistent/targets.yaml"],
        ["--parameters", "nope"],
        ["--profile-points", "-1"],
    ],
)
def test_bad_input(tmp_path, capsys, extra):
    out = tmp_path / "o"
    assert main(["calibrate", "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gutskin: error:") and "\n" not in err
    assert not out.exists()


def test_out_is_file(tmp_path, capsys, tiny_targets):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["calibrate", "--targets", str(tiny_targets), "--out", str(f)]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["export", "petab", "--out", str(f)]) == 2


def test_export_petab_old_spelling_is_a_deprecated_alias(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["export-petab", "--out", str(f)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("gutskin: note: `gutskin export-petab` is deprecated")
    assert err[1].startswith("gutskin: error:") and "not a folder" in err[1]
    assert main(["--help"]) == 0
    assert "export-petab" not in capsys.readouterr().out


def test_bad_targets_content(tmp_path, capsys, tiny_targets):
    tiny_targets.write_text(tiny_targets.read_text().replace("simulator: cohort", "simulator: x"))
    out = tmp_path / "o"
    assert main(["calibrate", "--targets", str(tiny_targets), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "tiny_sebum" in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.slow
def test_calibrate_end_to_end(tmp_path, tiny_targets):
    out = tmp_path / "fit"
    args = ["calibrate", "--targets", str(tiny_targets), "--budget", "4",
            "--profile-points", "1", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    tab = pd.read_csv(out / "fitted_parameters.csv")
    assert list(tab.columns[:6]) == [
        "name", "value", "lower", "upper", "at_bound", "identifiable",
    ]  # fmt: skip
    for f in ("fit_diagnostics.json", "candidate_parameters.csv", "provenance.json",
              "targets.yaml", "figures/residuals.png", "figures/profiles.png"):  # fmt: skip
        assert (out / f).exists(), f
