"""A flaky machine: a damaged kernel cache, an unusable cache folder, a full disk, an
output folder changed during the run (issue 31). Each ends in one error line and exit 2,
or in a repaired cache, never in a traceback."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pandas as pd
import pytest

from gutskin.cli import main

SIM = ["simulate", "--scenario", "placeholder-untreated", "--patients", "2", "--days", "3"]


def _one_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("gutskin: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.slow
def test_a_truncated_kernel_file_is_rebuilt(tmp_path, monkeypatch, capsys):
    from gutskin.engine import codegen

    monkeypatch.setenv("GUTSKIN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(codegen, "_LOADED", {})
    assert main([*SIM, "--out", str(tmp_path / "a")]) == 0
    (kernel,) = (tmp_path / "cache" / "kernels").glob("gutskin_kernel_placeholder_*.py")
    kernel.write_bytes(kernel.read_bytes()[:2000])  # a write cut short
    codegen._LOADED.clear()
    for name in [m for m in list(__import__("sys").modules) if m.startswith("gutskin_kernel_")]:
        __import__("sys").modules.pop(name)
    assert main([*SIM, "--out", str(tmp_path / "b")]) == 0, capsys.readouterr().err
    assert kernel.read_text().rstrip().endswith(kernel.stem.rsplit("_", 1)[1])
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "a" / "summary.csv"), pd.read_csv(tmp_path / "b" / "summary.csv")
    )


@pytest.mark.parametrize("kind", ["file", "read-only"])
def test_an_unusable_cache_folder_is_one_error_line(tmp_path, monkeypatch, capsys, kind):
    from gutskin.engine import codegen

    cache = tmp_path / "cache"
    if kind == "file":
        cache.write_text("not a folder")
    else:
        cache.mkdir()
        cache.chmod(0o500)
        if os.access(cache, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
    monkeypatch.setenv("GUTSKIN_CACHE_DIR", str(cache))
    monkeypatch.setattr(codegen, "_LOADED", {})
    assert main([*SIM, "--out", str(tmp_path / "out")]) == 2
    assert "GUTSKIN_CACHE_DIR" in _one_error(capsys)
    assert not (tmp_path / "out").exists()


def test_a_full_disk_is_one_error_line_and_nothing_is_kept(tmp_path, monkeypatch, capsys):
    def full(self, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    assert main([*SIM, "--out", str(tmp_path / "out")]) == 2
    assert "no space left" in _one_error(capsys)
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.partial-*"))


def test_an_output_folder_changed_during_the_run_is_one_error_line(tmp_path, monkeypatch, capsys):
    from gutskin.io import outdir

    out = tmp_path / "out"
    real = outdir._write_marker

    def meddle(folder: Path) -> None:
        real(folder)
        out.mkdir()
        (out / "mine.txt").write_text("someone else's file")

    monkeypatch.setattr(outdir, "_write_marker", meddle)
    assert main([*SIM, "--out", str(out)]) == 2
    assert "changed during the run" in _one_error(capsys)
    assert (out / "mine.txt").read_text() == "someone else's file"
