"""CLI faces of the model: params, interventions, strains, export sbml."""

import io
import json

import libsbml
import pandas as pd
import pytest

from gutskin.cli import main
from gutskin.model import acne_model


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_params_formats(capsys, fmt):
    assert main(["params", "--format", fmt]) == 0
    out = capsys.readouterr().out
    spec = acne_model()
    if fmt == "csv":
        df = pd.read_csv(io.StringIO(out))
        assert list(df["name"]) == spec.parameter_names
        assert {"value", "unit", "lower", "upper", "cv", "source", "confidence", "note"} <= set(
            df.columns
        )
        assert df["source"].notna().all() and (df["source"].str.len() > 0).all()
    elif fmt == "json":
        rows = json.loads(out)
        assert len(rows) == len(spec.parameters)
    else:
        assert spec.parameter_names[0] in out


def test_params_bad_format(capsys):
    assert main(["params", "--format", "xml"]) == 2
    assert "--format" in capsys.readouterr().err


def test_interventions_and_strains_list(capsys):
    assert main(["interventions", "--format", "csv"]) == 0
    df = pd.read_csv(io.StringIO(capsys.readouterr().out))
    names = set(df["name"])
    for n in ("LS03", "BR03", "LC03", "SP1", "placebo", "botanical", "isotretinoin"):
        assert n in names
    assert main(["strains", "--format", "json"]) == 0
    strains = json.loads(capsys.readouterr().out)
    assert len(strains) >= 6
    assert strains[0]["properties"]["engraftment"]["source"]  # nested, with provenance


def test_strains_table_and_csv_are_flat(capsys):
    """Each property is a column; no Python dict repr reaches a cell (issue 20)."""
    assert main(["strains", "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert "{'" not in out and "'value'" not in out
    assert "1 (assumed)" in out and "1e+09" in out  # LS03 engraftment; the dose
    assert main(["strains", "--format", "csv"]) == 0
    df = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert {"bacteriocin", "bacteriocin_confidence", "bacteriocin_source"} <= set(df.columns)
    ls03 = df.set_index("id").loc["LS03"]
    assert ls03["bacteriocin"] == 1.0 and ls03["default_dose_cfu_per_day"] == 1e9


def test_strains_bad_user_file(tmp_path, capsys):
    bad = tmp_path / "s.yaml"
    bad.write_text("strains:\n  MY1:\n    properties:\n      bacteriocin: {value: -3}\n")
    assert main(["strains", "--file", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "MY1" in err and len(err.strip().splitlines()) == 1


def test_export_sbml_is_consistent(tmp_path):
    out = tmp_path / "model.xml"
    assert main(["export", "sbml", "--out", str(out)]) == 0
    doc = libsbml.readSBMLFromString(out.read_text())
    assert doc.getLevel() == 3
    doc.setConsistencyChecks(libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, True)
    doc.checkConsistency()
    errors = [
        doc.getError(i)
        for i in range(doc.getNumErrors())
        if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR
    ]
    assert not errors, [e.getMessage() for e in errors]
    model = doc.getModel()
    assert model.getNumRules() >= len(acne_model().states)


def test_export_sbml_unknown_model(tmp_path, capsys):
    assert main(["export", "sbml", "--model", "nope", "--out", str(tmp_path / "m.xml")]) == 2
    assert "unknown model" in capsys.readouterr().err
    assert not (tmp_path / "m.xml").exists()


def test_interventions_table_fits_the_terminal(capsys, monkeypatch):
    """The table is laid out for the terminal's width (100 columns at least), with the dose
    in one column, not a fixed 200-column table (issue 20)."""
    monkeypatch.setenv("COLUMNS", "110")
    assert main(["interventions"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 110
    assert "isotretinoin" in out and "dose" in out
