"""``gutskin run``: the streaming runner from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from gutskin import cli


def _main(args, capsys):
    code = cli.main(["run", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_run_writes_store_and_resumes(tmp_path, capsys):
    out = tmp_path / "big"
    args = ["--scenario", "placeholder-treated", "--patients", "60", "--chunk-size", "25",
            "--seed", "4", "--variables", "lesions,sebum", "--out", str(out)]  # fmt: skip
    code, _, err = _main(args, capsys)
    assert code == 0, err
    assert "simulated 60 patients" in err
    ds = xr.open_zarr(out / "trajectories.zarr", consolidated=False)
    assert set(ds.data_vars) == {"lesions", "sebum", "status", "n_steps"}
    assert ds.sizes == {"patient": 60, "time": 5}
    assert np.all(ds["status"].values == 0)
    assert json.loads((out / "run.json").read_text())["config"]["chunk_size"] == 25
    code, _, err = _main([*args, "--resume"], capsys)
    assert code == 0 and "3 chunks already done" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--patients", "0"], "--patients must be >= 1"),
        (["--days", "-3"], "--days must be a number in (0, 3650]"),
        (["--chunk-size", "0"], "--chunk-size must be >= 1"),
        (["--scheduler", "spark"], "--scheduler must be inprocess or dask"),
        (["--workers", "2"], "--workers and --address need --scheduler dask"),
        (["--scheduler", "dask", "--workers", "2", "--address", "tcp://x:1"], "not both"),
        (["--scenario", "nope"], "unknown scenario 'nope'"),
        (["--scenario", "placeholder-treated", "--variables", "lesions,zzz"], "unknown variable"),
        (["--scenario", "placeholder-treated", "--outputs", "weekly"], "outputs must be"),
        (["--scenario", "placeholder-treated", "--method", "euler"], "--method must be"),
        (["--patients", "abc"], "Invalid value for '--patients'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    out = tmp_path / "o"
    code, _, err = _main([*args, "--out", str(out)], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gutskin: error: "), err
    assert message in lines[0]
    assert not out.exists()


def test_out_holding_other_files_is_refused(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = _main(["--scenario", "placeholder-treated", "--out", str(out)], capsys)
    assert code == 2 and "holds no gutskin run" in err
    assert (out / "keep.txt").read_text() == "mine"
