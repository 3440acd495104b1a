"""A store or output folder never writes through a link, never writes outside ``--out``
and never deletes what it did not list (issue 31, data loss).

Every test here fails on the code before the fix: the resume "repair" copied through a
linked ``zarr.json`` and a linked chunk file into the user's file, ``provenance.json``
was written through a link, ``--overwrite`` deleted folders gutskin never listed, a
``store_sha256`` key with ``..`` made resume write outside ``--out``, a missing
``store_sha256`` let ``--verify`` call a broken store intact, and ``export sbml``
replaced a dangling link without ``--overwrite``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gutskin import cli
from gutskin.scale import run, verify

SIM = ["simulate", "--scenario", "placeholder-untreated", "--patients", "2", "--days", "3"]
SCENARIO = "placeholder-treated"
SETTINGS = dict(patients=40, days=14, seed=5, chunk_size=20)
ARGS = ["--scenario", SCENARIO, "--patients", "40", "--days", "14", "--seed", "5",
        "--chunk-size", "20"]  # fmt: skip
SECRET = b"the user's own file\n"


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("links") / "clean"
    run(SCENARIO, out, **SETTINGS)
    return out


@pytest.fixture
def copy(clean, tmp_path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(clean, out)
    return out


@pytest.fixture
def user_file(tmp_path) -> Path:
    p = tmp_path / "user" / "precious.txt"
    p.parent.mkdir()
    p.write_bytes(SECRET)
    return p


def _link(path: Path, target: Path) -> None:
    path.unlink()
    path.symlink_to(target)


def _resume(out: Path, capsys) -> tuple[int, str]:
    code = cli.main(["run", *ARGS, "--out", str(out), "--resume"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "rel",
    [
        "trajectories.zarr/lesions/zarr.json",
        "trajectories.zarr/zarr.json",
        "trajectories.zarr/lesions/c/1/0",
        "trajectories.zarr/status/c/0",
        "chunks/0000001.json",
    ],
)
def test_resume_never_writes_through_a_linked_store_file(copy, clean, user_file, rel, capsys):
    _link(copy / rel, user_file)
    code, err = _resume(copy, capsys)
    assert code == 0, err
    assert user_file.read_bytes() == SECRET
    assert not (copy / rel).is_symlink()
    store = "trajectories.zarr"
    assert _files(copy / store) == _files(clean / store)
    assert verify(copy).complete


def test_linked_provenance_is_replaced_not_written_through(copy, user_file, capsys):
    _link(copy / "provenance.json", user_file)
    code, err = _resume(copy, capsys)
    assert code == 0, err
    assert user_file.read_bytes() == SECRET
    assert not (copy / "provenance.json").is_symlink()
    assert json.loads((copy / "provenance.json").read_text())["seed"] == 5


def test_linked_store_folder_is_refused(copy, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    shutil.move(str(copy / "trajectories.zarr"), elsewhere)
    (copy / "trajectories.zarr").symlink_to(elsewhere)
    before = _files(elsewhere)
    code, err = _resume(copy, capsys)
    assert code == 2
    assert err.count("gutskin: error:") == 1 and "symbolic link" in err
    assert _files(elsewhere) == before


def test_store_sha256_keys_cannot_point_outside_the_store(copy, tmp_path, capsys):
    run_json = copy / "run.json"
    data = json.loads(run_json.read_text())
    name = next(iter(data["store_sha256"]))
    data["store_sha256"]["../../fresh/zarr.json"] = data["store_sha256"].pop(name)
    run_json.write_text(json.dumps(data))
    code, err = _resume(copy, capsys)
    assert code == 0, err
    assert not (tmp_path / "fresh").exists()
    assert verify(copy).complete


def test_missing_store_sha256_is_not_intact(copy, capsys):
    run_json = copy / "run.json"
    data = json.loads(run_json.read_text())
    del data["store_sha256"]
    run_json.write_text(json.dumps(data))
    (copy / "trajectories.zarr" / "zarr.json").write_text("{broken")
    assert cli.main(["run", "--verify", str(copy)]) == 2
    assert "store_sha256" in capsys.readouterr().err
    code, err = _resume(copy, capsys)
    assert code == 0, err
    assert verify(copy).complete


@pytest.mark.parametrize("folders", [["my_project"], ["figures/keep"], ["a", "a/b"]])
def test_overwrite_never_deletes_a_folder_gutskin_did_not_list(tmp_path, folders, capsys):
    out = tmp_path / "O"
    assert cli.main([*SIM, "--out", str(out)]) == 0
    (out / "figures").mkdir(exist_ok=True)
    for f in folders:
        (out / f).mkdir()
    before = _files(out)
    capsys.readouterr()
    assert cli.main([*SIM, "--out", str(out), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.count("gutskin: error:") == 1 and folders[0] in err
    for f in folders:
        assert (out / f).is_dir()
    assert _files(out) == before


def test_overwrite_still_replaces_an_untouched_output(tmp_path, capsys):
    out = tmp_path / "O"
    assert cli.main([*SIM, "--out", str(out)]) == 0
    assert cli.main([*SIM, "--out", str(out), "--overwrite"]) == 0


def test_export_sbml_refuses_a_dangling_link_without_overwrite(tmp_path, capsys):
    link = tmp_path / "model.xml"
    link.symlink_to(tmp_path / "nowhere" / "target.xml")
    assert cli.main(["export", "sbml", "--out", str(link)]) == 2
    assert link.is_symlink() and not (tmp_path / "nowhere").exists()
    assert capsys.readouterr().err.count("gutskin: error:") == 1


def test_export_sbml_replaces_a_link_not_its_target(tmp_path, user_file, capsys):
    link = tmp_path / "model.xml"
    link.symlink_to(user_file)
    assert cli.main(["export", "sbml", "--out", str(link), "--overwrite"]) == 0
    assert user_file.read_bytes() == SECRET
    assert not link.is_symlink() and b"<sbml" in link.read_bytes()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("patients", 10**12),
        ("patients", "60"),
        ("chunk_size", 0),
        ("days", float("inf")),
        ("times", "all"),
        ("times", [0.0, "x"]),
        ("variables", [1, 2]),
        ("seed", -1),
        ("dense", "yes"),
    ],
)
def test_forged_run_json_is_refused_not_trusted(copy, capsys, field, value):
    """Issue 31: run.json fields of the wrong type or absurd size are one error line.

    A run.json claiming 10**12 patients made --verify loop for ever.
    """
    run_json = copy / "run.json"
    data = json.loads(run_json.read_text())
    data["config"][field] = value
    run_json.write_text(json.dumps(data))
    before = _files(copy)
    assert cli.main(["run", "--verify", str(copy)]) == 2
    err = capsys.readouterr().err
    assert err.count("gutskin: error:") == 1 and "Traceback" not in err and "config" in err
    assert _files(copy) == before
