"""The simulate API and the `gutskin simulate` command."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from gutskin.cli import main
from gutskin.scenario import ScenarioError
from gutskin.simulation import simulate


def test_same_seed_same_numbers_any_chunk_size():
    a = simulate("placeholder-treated", patients=23, days=20, seed=5, chunk_size=1)
    b = simulate("placeholder-treated", patients=23, days=20, seed=5, chunk_size=7)
    c = simulate("placeholder-treated", patients=23, days=20, seed=5, chunk_size=1000)
    for v in ("sebum", "bacteria", "lesions", "parameters"):
        assert np.array_equal(a[v].values, b[v].values)
        assert np.array_equal(a[v].values, c[v].values)


def test_patient_draws_do_not_depend_on_batch_size():
    small = simulate("placeholder-untreated", patients=5, days=5, seed=3)
    large = simulate("placeholder-untreated", patients=50, days=5, seed=3)
    assert np.array_equal(small["parameters"].values, large["parameters"].values[:5])


def test_different_seed_different_numbers():
    a = simulate("placeholder-untreated", patients=10, days=5, seed=1)
    b = simulate("placeholder-untreated", patients=10, days=5, seed=2)
    assert not np.allclose(a["parameters"].values, b["parameters"].values)


def test_treatment_lowers_bacteria_in_every_patient():
    off = simulate("placeholder-untreated", patients=30, days=56, seed=0)
    on = simulate("placeholder-treated", patients=30, days=56, seed=0)
    assert (on["status"].values == 0).all() and (off["status"].values == 0).all()
    ratio = on["bacteria"].sel(time=56).values / off["bacteria"].sel(time=56).values
    assert np.all(ratio < 0.5)


def test_dataset_carries_units_and_provenance_attrs():
    ds = simulate("placeholder-untreated", patients=2, days=3, seed=0)
    assert ds["lesions"].attrs["units"] == "count"
    assert ds["time"].attrs["units"] == "day"
    assert ds.attrs["seed"] == 0 and ds.attrs["gutskin_version"]


def test_bad_arguments_raise_named_errors():
    with pytest.raises(ScenarioError, match="patients"):
        simulate("placeholder-untreated", patients=0)
    with pytest.raises(ScenarioError, match="days"):
        simulate("placeholder-untreated", days=-1)
    with pytest.raises(ScenarioError, match="unknown scenario"):
        simulate("nope")


def test_cli_simulate_writes_all_outputs(tmp_path):
    out = tmp_path / "run"
    rc = main(
        [
            "simulate",
            "--scenario",
            "placeholder-treated",
            "--patients",
            "20",
            "--days",
            "30",
            "--seed",
            "4",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    ds = xr.open_zarr(out / "trajectories.zarr", consolidated=False)
    assert ds.sizes["patient"] == 20 and ds.sizes["time"] == 31
    assert ds["sebum"].attrs["units"] == "1"
    summary = (out / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("variable,time,units,n,mean")
    assert len(list((out / "figures").glob("*.png"))) >= 4
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["seed"] == 4 and prov["gutskin_version"] and prov["started"] <= prov["finished"]


def test_cli_design_file_is_hashed_in_provenance(tmp_path):
    design = tmp_path / "sc.yaml"
    design.write_text(
        "model: placeholder\nexposures:\n"
        "  - {input: treatment, level: 1, start_day: 2, stop_day: 9, pattern: daily,"
        " adherence: 0.5}\n"
    )
    out = tmp_path / "run"
    assert (
        main(
            [
                "simulate",
                "--design",
                str(design),
                "--patients",
                "3",
                "--days",
                "10",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    prov = json.loads((out / "provenance.json").read_text())
    assert len(prov["inputs"]["design"]["sha256"]) == 64


BAD = [
    (["--scenario", "nope"], "unknown scenario"),
    (["--patients", "0"], "--patients"),
    (["--patients", "-3"], "--patients"),
    (["--days", "abc"], "days"),
    (["--days", "0"], "--days"),
    (["--method", "euler"], "--method"),
]


@pytest.mark.parametrize(("args", "needle"), BAD)
def test_cli_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, args, needle):
    out = tmp_path / "run"
    rc = main(["simulate", "--out", str(out), *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and err.startswith("gutskin: error:")
    assert needle in err
    assert "Traceback" not in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (
            "model: placeholder\nexposures: [{input: treatment, level: -1, start_day: 0, "
            "stop_day: 5}]\n",
            "exposures.0.level",
        ),
        (
            "model: placeholder\nexposures: [{input: treatment, level: 1, start_day: 5, "
            "stop_day: 2}]\n",
            "stop_day",
        ),
        ("model: [unclosed\n", "malformed YAML"),
        ("model: nomodel\n", "unknown model"),
        (
            "model: placeholder\nexposures: [{input: nosuch, level: 1, start_day: 0, "
            "stop_day: 5}]\n",
            "unknown input",
        ),
    ],
)
def test_cli_bad_design_files(tmp_path, capsys, content, needle):
    design = tmp_path / "bad.yaml"
    design.write_text(content)
    out = tmp_path / "run"
    rc = main(["simulate", "--design", str(design), "--patients", "2", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert needle in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_cli_unwritable_out(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if __import__("os").access(locked, __import__("os").W_OK):
            pytest.skip("running as a user who can write anywhere (root); permission check moot")
        rc = main(["simulate", "--patients", "2", "--out", str(locked / "run")])
        assert rc == 2
        assert "not writable" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


def test_cli_out_is_a_file(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("x")
    rc = main(["simulate", "--patients", "2", "--out", str(f)])
    assert rc == 2
    assert "not a folder" in capsys.readouterr().err
    assert f.read_text() == "x"


def test_console_script_version():
    exe = Path(sys.executable).parent / "gutskin"
    res = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False)
    assert res.returncode == 0 and res.stdout.startswith("gutskin ")


def test_cli_out_under_a_file_names_the_file(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("x")
    rc = main(["simulate", "--patients", "2", "--out", str(f / "run")])
    assert rc == 2
    assert f"{f} is a file, not a folder" in capsys.readouterr().err
    assert f.read_text() == "x"
