"""Output folders never destroy a user's files (issue: data loss through --out).

Each CLI test would fail on the old ``atomic_output_dir``, which replaced any
existing folder as a whole.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest

from gutskin.cli import main
from gutskin.io.outdir import (
    LOCK,
    MARKER,
    OutputDirError,
    atomic_output_dir,
    atomic_output_file,
    check_writable,
    clean_stale_partials,
)

SIM = ["simulate", "--scenario", "placeholder-untreated", "--patients", "2", "--days", "3"]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_existing_user_folder_is_refused_and_untouched(tmp_path, capsys):
    p = tmp_path / "p"
    p.mkdir()
    (p / "n.txt").write_text("notes")
    assert main([*SIM, "--out", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("gutskin: error:") == 1 and "not empty" in err and "n.txt" in err
    assert _snapshot(p) == {"n.txt": b"notes"}
    assert sorted(x.name for x in tmp_path.iterdir()) == ["p"]


def test_overwrite_does_not_unlock_a_user_folder(tmp_path, capsys):
    p = tmp_path / "p"
    p.mkdir()
    (p / "n.txt").write_text("notes")
    assert main([*SIM, "--out", str(p), "--overwrite"]) == 2
    assert _snapshot(p) == {"n.txt": b"notes"}


def test_working_directory_is_never_emptied(tmp_path, monkeypatch, capsys):
    (tmp_path / "design.yaml").write_text("mine")
    monkeypatch.chdir(tmp_path)
    assert main([*SIM, "--out", ".", "--overwrite"]) == 2
    assert _snapshot(tmp_path) == {"design.yaml": b"mine"}


def test_run_reading_its_own_input_from_out_is_refused(tmp_path, capsys):
    proj = tmp_path / "proj"
    proj.mkdir()
    design = proj / "scenario.yaml"
    design.write_text("model: placeholder\nname: mine\n")
    before = _snapshot(proj)
    args = ["simulate", "--design", str(design), "--patients", "2", "--days", "3"]
    assert main([*args, "--out", str(proj)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert _snapshot(proj) == before


def test_new_and_empty_folders_are_written_with_normal_permissions(tmp_path):
    new = tmp_path / "a" / "b"
    assert main([*SIM, "--out", str(new)]) == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    inode = empty.stat().st_ino
    assert main([*SIM, "--out", str(empty)]) == 0
    assert empty.stat().st_ino == inode  # the user's own folder was kept, not swapped
    umask = os.umask(0)
    os.umask(umask)
    for d in (new, empty):
        assert (d / "summary.csv").is_file() and (d / MARKER).is_file()
        assert stat.S_IMODE(d.stat().st_mode) == 0o777 & ~umask
        rec = json.loads((d / MARKER).read_text())
        assert "summary.csv" in rec["files"] and "provenance.json" in rec["files"]
    assert not list(tmp_path.glob(".*partial*"))


def test_gutskin_folder_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*SIM, "--out", str(out), "--seed", "1"]) == 0
    first = _snapshot(out)
    capsys.readouterr()
    assert main([*SIM, "--out", str(out), "--seed", "2"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert _snapshot(out) == first
    assert main([*SIM, "--out", str(out), "--seed", "2", "--overwrite"]) == 0
    assert json.loads((out / "provenance.json").read_text())["seed"] == 2


def test_overwrite_refuses_when_user_added_a_file(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*SIM, "--out", str(out)]) == 0
    (out / "my-notes.md").write_text("keep me")
    before = _snapshot(out)
    capsys.readouterr()
    assert main([*SIM, "--out", str(out), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "my-notes.md" in err and "did not write" in err
    assert _snapshot(out) == before


def test_forged_or_broken_marker_is_not_trusted(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "data.csv").write_text("x")
    (out / MARKER).write_text("not json")
    with pytest.raises(OutputDirError, match="not empty"):
        check_writable(out, overwrite=True)
    (out / MARKER).write_text(json.dumps({"files": ["other.csv"]}))
    with pytest.raises(OutputDirError, match=r"data\.csv"):
        check_writable(out, overwrite=True)


def test_out_below_a_file_names_the_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputDirError, match="is a file, not a folder"):
        check_writable(f / "sub")
    with pytest.raises(OutputDirError, match="is a file, not a folder"):
        check_writable(f)


def test_folder_that_fills_during_the_run_is_not_replaced(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    with pytest.raises(OutputDirError, match="changed during the run"):
        with atomic_output_dir(out) as tmp:
            (tmp / "result.txt").write_text("r")
            (out / "user.txt").write_text("u")
    assert _snapshot(out) == {"user.txt": b"u"}
    kept = list(tmp_path.glob(".o.partial-*"))
    assert len(kept) == 1 and (kept[0] / "result.txt").is_file()


def test_failed_block_leaves_nothing(tmp_path):
    out = tmp_path / "o"
    with pytest.raises(RuntimeError):
        with atomic_output_dir(out) as tmp:
            (tmp / "half.txt").write_text("h")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_stale_partial_of_a_dead_run_is_cleaned_and_unknown_one_reported(tmp_path, capsys):
    out = tmp_path / "o"
    dead = tmp_path / ".o.partial-dead"
    dead.mkdir()
    # a pid far above pid_max cannot exist
    (dead / LOCK).write_text(json.dumps({"pid": 2**30, "host": socket.gethostname()}))
    alive = tmp_path / ".o.partial-alive"
    alive.mkdir()
    (alive / LOCK).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    unknown = tmp_path / ".o.partial-unknown"
    unknown.mkdir()
    (unknown / "x").write_text("?")
    assert clean_stale_partials(out) == [dead]
    assert alive.is_dir() and unknown.is_dir() and not dead.exists()
    assert "left alone" in capsys.readouterr().err


def test_export_sbml_never_replaces_a_file_without_overwrite(tmp_path, capsys):
    f = tmp_path / "model.xml"
    f.write_text("mine")
    assert main(["export", "sbml", "--out", str(f)]) == 2
    assert f.read_text() == "mine"
    assert "--overwrite" in capsys.readouterr().err
    assert main(["export", "sbml", "--out", str(f), "--overwrite"]) == 0
    assert f.read_text().startswith("<?xml")
    assert not list(tmp_path.glob(".model.xml.partial*"))


def test_atomic_output_file_mode(tmp_path):
    p = atomic_output_file(tmp_path / "x.txt", "hello")
    umask = os.umask(0)
    os.umask(umask)
    assert p.read_text() == "hello" and stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask
