"""Store integrity: every finished chunk is hashed; damage is found and repaired on resume.

Each damage (flipped bytes, a deleted chunk file, a file truncated to 0 bytes, a bad
marker, damaged metadata) must be found by ``verify`` / ``gutskin run --verify`` and
recomputed by ``--resume`` so that the store equals a clean run bit for bit.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from gutskin import cli
from gutskin.scale import MAX_CHUNKS, MAX_PATIENTS, ScaleError, run, verify

SCENARIO = "placeholder-treated"
SETTINGS = dict(patients=60, days=28, seed=5, chunk_size=20, parameters=True)
ARGS = ["--scenario", SCENARIO, "--patients", "60", "--days", "28", "--seed", "5",
        "--chunk-size", "20", "--parameters"]  # fmt: skip


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("integrity") / "clean"
    run(SCENARIO, out, **SETTINGS)
    return out


@pytest.fixture
def copy(clean, tmp_path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(clean, out)
    return out


def _files(out: Path) -> dict[str, bytes]:
    store = out / "trajectories.zarr"
    return {str(f.relative_to(store)): f.read_bytes() for f in store.rglob("*") if f.is_file()}


def _assert_bit_identical(a: Path, b: Path) -> None:
    assert _files(a) == _files(b)
    da = xr.open_zarr(a / "trajectories.zarr", consolidated=False).load()
    db = xr.open_zarr(b / "trajectories.zarr", consolidated=False).load()
    for v in da.data_vars:
        np.testing.assert_array_equal(da[v].values, db[v].values, err_msg=v)


def _complete(out: Path) -> bool:
    return json.loads((out / "run.json").read_text())["complete"]


def _cli(args, capsys):
    code = cli.main(["run", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _flip(path: Path, n: int = 40) -> None:
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    for i in rng.choice(len(data), size=min(n, len(data)), replace=False):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "flipped bytes": lambda s: _flip(s / "lesions" / "c" / "1" / "0"),
    "deleted chunk": lambda s: (s / "sebum" / "c" / "1" / "0").unlink(),
    "truncated to 0 bytes": lambda s: (s / "status" / "c" / "1").write_bytes(b""),
    "truncated parameters": lambda s: (s / "parameters" / "c" / "1" / "0").write_bytes(b"\0"),
    "deleted patient chunk": lambda s: (s / "patient" / "c" / "1").unlink(),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damage_is_detected_and_repaired_bit_for_bit(clean, copy, kind, capsys):
    DAMAGE[kind](copy / "trajectories.zarr")
    check = verify(copy)
    assert not check.complete and list(check.damaged) == [1], check.describe()
    assert not _complete(copy)  # verify never leaves "complete" on a damaged store

    code, _, err = _cli(["--verify", str(copy)], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("gutskin: error: ")
    assert "chunk 1" in lines[0] and "--resume" in lines[0]

    summary = run(SCENARIO, copy, resume=True, **SETTINGS)
    assert (summary.chunks_run, summary.chunks_skipped, summary.chunks_repaired) == (1, 2, 1)
    assert _complete(copy) and verify(copy).complete
    _assert_bit_identical(copy, clean)


def test_cli_resume_repairs_and_says_so(clean, copy, capsys):
    DAMAGE["flipped bytes"](copy / "trajectories.zarr")
    DAMAGE["deleted chunk"](copy / "trajectories.zarr")
    (copy / "trajectories.zarr" / "status" / "c" / "2").write_bytes(b"")
    code, _, err = _cli([*ARGS, "--resume", "--out", str(copy)], capsys)
    assert code == 0, err
    assert "2 damaged chunks recomputed" in " ".join(err.split())
    _assert_bit_identical(copy, clean)
    code, out, err = _cli(["--verify", str(copy)], capsys)
    assert code == 0 and "intact" in " ".join((out + err).split())


def test_verify_on_an_intact_store_passes(clean, capsys):
    before = {p: p.stat().st_mtime_ns for p in clean.rglob("*") if p.is_file()}
    check = verify(clean)
    assert check.complete and check.chunks == 3 and check.describe() == "all 3 chunk(s) intact"
    code, out, err = _cli(["--verify", str(clean)], capsys)
    assert code == 0, err
    assert "all 3 chunk(s) intact" in " ".join((out + err).split())
    assert {p: p.stat().st_mtime_ns for p in clean.rglob("*") if p.is_file()} == before


def test_bad_marker_and_old_marker_are_recomputed(clean, copy):
    (copy / "chunks" / "0000000.json").write_text("{not json")
    old = json.loads((copy / "chunks" / "0000002.json").read_text())
    del old["sha256"]  # a marker written before hashes existed
    (copy / "chunks" / "0000002.json").write_text(json.dumps(old))
    check = verify(copy)
    assert sorted(check.damaged) == [0, 2]
    assert "unreadable" in check.damaged[0] and "no content hashes" in check.damaged[2]
    summary = run(SCENARIO, copy, resume=True, **SETTINGS)
    assert summary.chunks_repaired == 2
    _assert_bit_identical(copy, clean)


def test_damaged_metadata_is_rewritten(clean, copy):
    meta = copy / "trajectories.zarr" / "lesions" / "zarr.json"
    meta.write_text("{}")
    (copy / "trajectories.zarr" / "time" / "c" / "0").unlink()
    check = verify(copy)
    assert not check.complete and not check.damaged
    assert sorted(check.metadata) == [
        "trajectories.zarr/lesions/zarr.json",
        "trajectories.zarr/time/c/0",
    ]
    run(SCENARIO, copy, resume=True, **SETTINGS)
    assert verify(copy).complete
    _assert_bit_identical(copy, clean)
    assert not list(copy.glob(".rebuild-*"))


def test_unfinished_run_is_not_reported_complete(clean, copy, capsys):
    (copy / "chunks" / "0000001.json").unlink()
    check = verify(copy)
    assert check.intact and not check.complete and check.missing == (1,)
    code, _, err = _cli(["--verify", str(copy)], capsys)
    assert code == 2 and "not computed yet" in err and len(err.strip().splitlines()) == 1


def test_verify_errors_are_one_line(tmp_path, capsys):
    for args, says in [
        (["--verify", str(tmp_path / "none")], "holds no gutskin run"),
        (["--verify", str(tmp_path), "--out", str(tmp_path / "x")], "--verify DIR"),
        (["--scenario", SCENARIO], "--out DIR is required"),
    ]:
        code, _, err = _cli(args, capsys)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and says in lines[0], err
    with pytest.raises(ScaleError, match="holds no gutskin run"):
        verify(tmp_path)


def test_patients_upper_bound(tmp_path, capsys):
    out = tmp_path / "huge"
    t0 = time.monotonic()
    code, _, err = _cli(["--patients", str(10**12), "--out", str(out)], capsys)
    assert code == 2 and time.monotonic() - t0 < 30
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "--patients must be <= 1000000000 (10**9)" in lines[0]
    assert not out.exists()
    code, _, err = _cli(["--patients", str(10**9), "--chunk-size", "10", "--out", str(out)], capsys)
    assert code == 2 and "--chunk-size" in err and str(MAX_CHUNKS) in err
    assert not out.exists()
    with pytest.raises(ScaleError, match="patients must be at most"):
        run(SCENARIO, out, patients=MAX_PATIENTS + 1)
    with pytest.raises(ScaleError, match="chunks, more than"):
        run(SCENARIO, out, patients=MAX_PATIENTS, chunk_size=10)
    assert not out.exists()
