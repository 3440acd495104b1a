"""Streaming runner: equals simulate(), chunking-invariant, bounded outputs, resumable, on Dask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from gutskin.engine.options import SolverOptions
from gutskin.scale import VISIT_DAYS, ScaleError, output_times, run
from gutskin.simulation import simulate

SCENARIO = "placeholder-treated"  # 4 states, compiles in seconds; has a treatment window


def _open(path: Path) -> xr.Dataset:
    return xr.open_zarr(path / "trajectories.zarr", consolidated=False).load()


def _assert_same(a: xr.Dataset, b: xr.Dataset) -> None:
    assert sorted(a.data_vars) == sorted(b.data_vars)
    for v in a.data_vars:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)
    np.testing.assert_array_equal(a["time"].values, b["time"].values)
    np.testing.assert_array_equal(a["patient"].values, b["patient"].values)


def test_daily_run_equals_simulate(tmp_path):
    """Without dense output a streamed run reproduces simulate() bit for bit, chunk by chunk."""
    summary = run(
        SCENARIO, tmp_path / "r", patients=250, days=84, seed=3, chunk_size=37,
        outputs="daily", dense=False, parameters=True,
    )  # fmt: skip
    assert (summary.chunks, summary.chunks_run, summary.chunks_skipped) == (7, 7, 0)
    ds = _open(tmp_path / "r")
    ref = simulate(SCENARIO, patients=250, days=84, seed=3, solver=SolverOptions(dense=False))
    for v in ("sebum", "occlusion", "bacteria", "inflammation", "capacity", "lesions"):
        np.testing.assert_array_equal(ds[v].values, ref[v].values, err_msg=v)
        assert ds[v].attrs["units"] == ref[v].attrs["units"]
    np.testing.assert_array_equal(ds["status"].values, ref["status"].values)
    np.testing.assert_array_equal(ds["parameters"].values, ref["parameters"].values)
    assert list(ds["parameter"].values) == list(ref["parameter"].values)
    assert json.loads((tmp_path / "r" / "run.json").read_text())["complete"] is True
    assert (tmp_path / "r" / "provenance.json").is_file()
    # the defaults are the same in both (dense output, SIMD lanes): equal bit for bit too
    run(SCENARIO, tmp_path / "f", patients=250, days=84, seed=3, chunk_size=37, outputs="daily")
    fast, ref = _open(tmp_path / "f"), simulate(SCENARIO, patients=250, days=84, seed=3)
    for v in ("sebum", "lesions"):
        np.testing.assert_array_equal(fast[v].values, ref[v].values, err_msg=v)


def test_visits_and_variables_only(tmp_path):
    """Visit-day outputs of chosen variables only.

    With dense output the steps do not depend on the output grid, so the visit
    values equal the daily run's values at the visit days exactly.
    """
    kw = {"patients": 120, "days": 84, "seed": 1, "chunk_size": 50}
    run(SCENARIO, tmp_path / "v", variables=["lesions", "bacteria"], **kw)
    ds = _open(tmp_path / "v")
    assert set(ds.data_vars) == {"lesions", "bacteria", "status", "n_steps"}
    np.testing.assert_array_equal(ds["time"].values, VISIT_DAYS)
    run(SCENARIO, tmp_path / "d", outputs="daily", **kw)
    daily = _open(tmp_path / "d").sel(time=list(VISIT_DAYS))
    for v in ("lesions", "bacteria"):
        np.testing.assert_array_equal(ds[v].values, daily[v].values, err_msg=v)
    # and close to simulate()'s day-by-day steps before the treatment drives the bacteria
    # below atol (after that, regrowth from ~1e-10 amplifies any difference)
    early = [0.0, 14.0, 28.0]
    ref = simulate(SCENARIO, patients=120, days=84, seed=1).sel(time=early)
    got = ds.sel(time=early)
    for v in ("lesions", "bacteria"):
        np.testing.assert_allclose(got[v].values, ref[v].values, rtol=1e-4, atol=1e-6)


def test_results_do_not_depend_on_chunk_size(tmp_path):
    kw = {"patients": 200, "days": 60, "seed": 5, "outputs": "0,7,30,60"}
    run(SCENARIO, tmp_path / "a", chunk_size=200, **kw)
    run(SCENARIO, tmp_path / "b", chunk_size=23, n_threads=1, **kw)
    _assert_same(_open(tmp_path / "a"), _open(tmp_path / "b"))


def test_output_times():
    assert output_times("visits", 84) == VISIT_DAYS
    assert output_times("visits", 30) == (0.0, 14.0, 28.0, 30.0)
    assert output_times("daily", 3.5) == (0.0, 1.0, 2.0, 3.0, 3.5)
    assert output_times("28, 0,84", 84) == (0.0, 28.0, 84.0)
    with pytest.raises(ScaleError, match="outputs must be"):
        output_times("weekly", 84)
    with pytest.raises(ScaleError, match=r"\[0, 84\]"):
        output_times("0,100", 84)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"patients": 0}, "patients must be a positive integer"),
        ({"patients": 10, "days": -1}, "days must be a positive number"),
        ({"patients": 10, "chunk_size": 0}, "chunk_size must be a positive integer"),
        ({"patients": 10, "variables": ["lesions", "nope"]}, r"unknown variable\(s\) \['nope'\]"),
        ({"patients": 10, "scheduler": "spark"}, "scheduler must be"),
        ({"patients": 10, "workers": 2}, "scheduler 'dask' only"),
        ({"patients": 10, "method": "euler"}, "method must be one of"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ScaleError, match=match):
        run(SCENARIO, tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()  # nothing written


def test_folder_rules(tmp_path):
    with pytest.raises(ScaleError, match="unknown scenario"):
        run("nope", tmp_path / "x", patients=10)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "other.txt").write_text("x")
    with pytest.raises(ScaleError, match="not empty and holds no gutskin run"):
        run(SCENARIO, tmp_path / "full", patients=10)
    run(SCENARIO, tmp_path / "r", patients=10, chunk_size=5)
    with pytest.raises(ScaleError, match="holds a run already"):
        run(SCENARIO, tmp_path / "r", patients=10, chunk_size=5)
    with pytest.raises(ScaleError, match=r"different settings \(patients, seed\)"):
        run(SCENARIO, tmp_path / "r", patients=11, chunk_size=5, seed=4, resume=True)
    again = run(SCENARIO, tmp_path / "r", patients=10, chunk_size=5, resume=True)
    assert (again.chunks_run, again.chunks_skipped) == (0, 2)


_CHILD = """
import sys, time
from gutskin.scale import run
run({scenario!r}, sys.argv[1], patients=400, days=84, seed=9, chunk_size=20,
    outputs="daily", progress=lambda done: time.sleep(0.4))
"""


def test_resume_after_sigkill(tmp_path):
    """Kill a run after its first chunks land; resuming completes it, identical to a clean run."""
    out = tmp_path / "killed"
    env = dict(os.environ)
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(_CHILD.format(scenario=SCENARIO)))
    proc = subprocess.Popen([sys.executable, str(script), str(out)], env=env)
    markers = out / "chunks"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if markers.is_dir() and len(list(markers.glob("*.json"))) >= 2:
                break
            assert proc.poll() is None, "child ended before it was killed"
            time.sleep(0.05)
        else:
            pytest.fail("no chunk finished within 120 s")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    n_done = len(list(markers.glob("*.json")))
    assert 2 <= n_done < 20
    assert json.loads((out / "run.json").read_text())["complete"] is False

    resumed = run(
        SCENARIO, out, patients=400, days=84, seed=9, chunk_size=20, outputs="daily",
        resume=True,
    )  # fmt: skip
    assert resumed.chunks_skipped == n_done and resumed.chunks_run == 20 - n_done
    clean = tmp_path / "clean"
    run(SCENARIO, clean, patients=400, days=84, seed=9, chunk_size=20, outputs="daily")
    _assert_same(_open(out), _open(clean))


def test_dask_local_cluster_matches_inprocess(tmp_path):
    pytest.importorskip("distributed")
    kw = {"patients": 150, "days": 84, "seed": 2, "chunk_size": 30, "outputs": "visits"}
    run(SCENARIO, tmp_path / "here", **kw)
    summary = run(SCENARIO, tmp_path / "dask", scheduler="dask", workers=2, **kw)
    assert summary.chunks_run == 5
    _assert_same(_open(tmp_path / "here"), _open(tmp_path / "dask"))


@pytest.mark.slow
def test_acne_run_equals_simulate_with_burn_in_and_noise(tmp_path):
    """The acne scenarios (burn-in, smooth noise, missed doses) match simulate() exactly."""
    run("acne-ls03", tmp_path / "a", patients=20, days=30, seed=8, chunk_size=7,
        outputs="daily", dense=False, variables=["papules", "inflammatory_lesions"])  # fmt: skip
    ds = _open(tmp_path / "a")
    ref = simulate("acne-ls03", patients=20, days=30, seed=8, solver=SolverOptions(dense=False))
    for v in ("papules", "inflammatory_lesions"):
        # the smooth noise is one function of time, whatever window asks for it
        np.testing.assert_array_equal(ds[v].values, ref[v].values, err_msg=v)
    # the fast path (dense output, SIMD lanes) agrees to the tolerances
    run("acne-ls03", tmp_path / "b", patients=20, days=30, seed=8, chunk_size=7,
        outputs="daily", variables=["papules", "inflammatory_lesions"])  # fmt: skip
    fast = _open(tmp_path / "b")
    for v in ("papules", "inflammatory_lesions"):
        np.testing.assert_allclose(fast[v].values, ref[v].values, rtol=1e-4, atol=1e-6)
