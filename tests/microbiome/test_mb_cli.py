"""`gutskin profile` end to end: outputs, real data, simulation, and every bad input (exit 2)."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from mb_tables import (
    COUNTS,
    FACE,
    FEATURES,
    SAMPLES,
    write_classic,
    write_hdf5,
    write_json,
    write_plain,
    write_taxonomy,
)

from gutskin.cli import main


def _run(args, capsys):
    rc = main(["profile", *map(str, args)])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    d = tmp_path_factory.mktemp("profile")
    table = write_classic(d / "otu_table.txt")
    meta = d / "map.txt"
    from mb_tables import METADATA

    meta.write_text(METADATA)
    out = d / "out"
    assert main(["profile", str(table), "--metadata", str(meta), "--out", str(out)]) == 0
    return out, table, meta


def test_profile_outputs(profiled):
    out, _, _ = profiled
    prof = pd.read_csv(out / "profile.csv", index_col="sample_id")
    assert list(prof.index) == SAMPLES
    assert list(prof["kind"]) == ["gut"] * 4 + ["skin"] * 2
    assert (prof["kind_source"] == "metadata").all()
    for col in (
        "reads",
        "observed_features",
        "shannon_nat",
        "simpson",
        "chao1",
        "gut_butyrate",
        "gut_bifido",
        "gut_lacto",
        "gut_bacteroidetes",
        "gut_proteo",
        "C_acnes",
        "S_epidermidis",
        "S_aureus",
        "unmapped_fraction",
        "lumped_fraction",
        "dysbiosis_index",
        "gut_dysbiosis",
        "dysbiosis_fit_rmse",
        "meta_SUBJECT",
        "meta_AGE",
    ):
        assert col in prof.columns, col
    np.testing.assert_allclose(prof["reads"], COUNTS.sum(axis=0))
    gut = prof[prof["kind"] == "gut"]
    assert np.all(np.diff(gut["dysbiosis_index"]) > 0)
    assert prof.loc[["K1", "K2"], "dysbiosis_index"].isna().all()
    assert prof.loc["K1", "C_acnes"] == pytest.approx(850 / COUNTS[:, 4].sum())
    for f in ("guilds.png", "diversity.png"):
        assert (out / "figures" / f).stat().st_size > 1000
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["inputs"]["table"]["sha256"] and prov["inputs"]["metadata"]["sha256"]
    assert prov["profile"]["guild_map"]["version"] == "1.0.0"
    assert prov["libraries"]["scikit-bio"] and prov["options"]["normalise"] == "relative"
    assert prov["summary"]["gut"]["n"] == 4


def test_kind_from_composition_and_rarefaction(tmp_path, capsys, classic_table):
    out = tmp_path / "out"
    rc, _, err = _run(
        [classic_table, "--normalise", "rarefy", "--depth", "500", "--seed", "2", "--out", out],
        capsys,
    )
    assert rc == 0, err
    prof = pd.read_csv(out / "profile.csv", index_col="sample_id")
    assert list(prof["kind"]) == ["gut"] * 4 + ["skin"] * 2
    assert (prof["kind_source"] == "composition").all()
    assert (prof["reads"] == 500).all()
    assert json.loads((out / "provenance.json").read_text())["options"]["depth"] == 500


def test_plain_table_with_taxonomy_and_shannon_base(tmp_path, capsys):
    t = write_plain(tmp_path / "t.csv", sep=",")
    tax = write_taxonomy(tmp_path / "taxonomy.tsv")
    out = tmp_path / "out"
    rc, _, err = _run(
        [t, "--taxonomy", tax, "--kind", "gut", "--shannon-base", "2", "--out", out], capsys
    )
    assert rc == 0, err
    prof = pd.read_csv(out / "profile.csv", index_col="sample_id")
    assert "shannon_bit" in prof.columns and (prof["kind"] == "gut").all()


@pytest.mark.skipif(not FACE.is_dir(), reason=f"shared face_sites data not found at {FACE}")
def test_real_face_table_read_unmodified(tmp_path, capsys):
    otu, mapping = FACE / "otu_table.txt", FACE / "map.txt"
    before = (otu.read_bytes(), mapping.read_bytes())
    out = tmp_path / "face"
    rc, _, err = _run([otu, "--metadata", mapping, "--out", out], capsys)
    assert rc == 0, err
    assert (otu.read_bytes(), mapping.read_bytes()) == before
    prof = pd.read_csv(out / "profile.csv", index_col="sample_id")
    assert len(prof) == 49 and (prof["kind"] == "skin").all()
    # the model's skin composition was set from this table (parameters.csv se_K, skin_other)
    assert prof["C_acnes"].mean() == pytest.approx(0.85, abs=0.02)
    assert prof["S_epidermidis"].mean() == pytest.approx(0.038, abs=0.005)
    assert prof["unmapped_fraction"].mean() == pytest.approx(0.11, abs=0.02)
    assert 0.5 < prof["shannon_nat"].mean() < 1.2
    assert prof["chao1"].notna().all()
    rc, _, err = _run(
        [otu, "--metadata", mapping, "--where", "ANATOMICAL_SAMPLE_SITE=FMA:Skin of cheek",
         "--out", tmp_path / "cheek"],
        capsys,
    )  # fmt: skip
    assert rc == 0, err
    assert len(pd.read_csv(tmp_path / "cheek" / "profile.csv")) == 15


def test_simulate_each_gut_sample(tmp_path, capsys, classic_table, metadata_file):
    out = tmp_path / "sim"
    rc, _, err = _run(
        [classic_table, "--metadata", metadata_file, "--where", "BODY_SITE=UBERON:feces",
         "--simulate", "rinaldi2022:probiotics", "--out", out],
        capsys,
    )  # fmt: skip
    assert rc == 0, err
    sim = pd.read_csv(out / "simulation.csv")
    assert set(sim["condition"]) == {"probiotics", "untreated"}
    assert len(sim) == 4 * 2 * 3 and set(sim["visit_week"]) == {0.0, 4.0, 8.0}
    assert (sim["n_ok"] == 1).all()
    end = sim[sim["visit_week"] == 8].pivot(
        index="sample_id", columns="condition", values="inflammatory"
    )
    assert (end["probiotics"] < end["untreated"]).all()
    base = sim[(sim["visit_week"] == 0) & (sim["condition"] == "untreated")]
    base = base.set_index("sample_id").loc[["G1", "G2", "G3", "G4"], "inflammatory"]
    assert np.all(np.diff(base.to_numpy()) > 0)  # more dysbiotic gut, more lesions
    vp = pd.read_csv(out / "virtual_patients.csv")
    prof = pd.read_csv(out / "profile.csv", index_col="sample_id")
    np.testing.assert_allclose(
        vp.set_index("sample_id")["gut_dysbiosis"], prof.loc[vp["sample_id"], "gut_dysbiosis"]
    )
    assert (out / "figures" / "simulation.png").stat().st_size > 1000
    assert json.loads((out / "provenance.json").read_text())["simulate"]["arm"] == "probiotics"


# ----------------------------------------------------------------------------- bad input
def _classic(tmp_path, counts, samples=SAMPLES, features=FEATURES):
    return write_classic(tmp_path / "bad.txt", counts=counts, samples=samples, features=features)


def _case(tmp_path, name):
    c = COUNTS.copy()
    if name == "empty sample":
        c[:, 1] = 0
        return [_classic(tmp_path, c)], "sample(s) G2 have no reads"
    if name == "all-zero feature":
        c[2, :] = 0
        return [_classic(tmp_path, c)], "feature 'faec' (line 5) is zero in every sample"
    if name == "duplicate sample IDs":
        return [_classic(tmp_path, c, samples=["G1", "G2", "G3", "G1", "K1", "K2"])], (
            "duplicate sample IDs G1"
        )
    if name == "duplicate feature IDs":
        feats = list(FEATURES)
        feats[3] = feats[0]
        return [_classic(tmp_path, c, features=feats)], "duplicate feature ID 'bact' (lines 3, 6)"
    if name == "negative count":
        c[4, 2] = -1
        return [_classic(tmp_path, c)], "sample 'G3', feature 'bifi' (line 7)"
    if name == "non-integer count for rarefaction":
        c[4, 2] = 2.5
        return [_classic(tmp_path, c), "--normalise", "rarefy"], (
            "sample 'G3', feature 'bifi' (line 7): abundance 2.5 is not a whole number"
        )
    if name == "mismatched metadata":
        meta = tmp_path / "map.txt"
        meta.write_text("#SampleID\tBODY_SITE\nG1\tfeces\nG2\tfeces\n")
        return [_classic(tmp_path, c), "--metadata", meta], (
            "4 table sample(s) have no metadata row: G3, G4, K1, K2"
        )
    if name == "truncated text table":
        p = _classic(tmp_path, c)
        text = p.read_text()
        p.write_text(text[: text.index("\nbifi") + 8])  # cut inside the counts of line 7
        return [p], "line 7 has 2 fields but the header (line 2) has 8"
    if name == "corrupt BIOM HDF5":
        p = write_hdf5(tmp_path / "t.biom")
        p.write_bytes(p.read_bytes()[:3000])
        return [p], "corrupt or truncated BIOM HDF5"
    if name == "truncated BIOM JSON":
        p = write_json(tmp_path / "t.json")
        p.write_text(p.read_text()[:-40])
        return [p], "corrupt or truncated BIOM JSON"
    if name == "no taxonomy":
        return [write_plain(tmp_path / "t.tsv")], "carries no taxonomy; give one with --taxonomy"
    if name == "where without metadata":
        return [_classic(tmp_path, c), "--where", "A=b"], "--where needs --metadata"
    if name == "unknown where column":
        meta = tmp_path / "map.txt"
        from mb_tables import METADATA

        meta.write_text(METADATA)
        return [_classic(tmp_path, c), "--metadata", meta, "--where", "SITE=gut"], (
            "no metadata column 'SITE'"
        )
    if name == "unknown design arm":
        return [_classic(tmp_path, c), "--simulate", "rinaldi2022:nope"], (
            "has no arm 'nope'; arms: placebo"
        )
    raise AssertionError(name)


@pytest.mark.parametrize(
    "name",
    [
        "empty sample",
        "all-zero feature",
        "duplicate sample IDs",
        "duplicate feature IDs",
        "negative count",
        "non-integer count for rarefaction",
        "mismatched metadata",
        "truncated text table",
        "corrupt BIOM HDF5",
        "truncated BIOM JSON",
        "no taxonomy",
        "where without metadata",
        "unknown where column",
        "unknown design arm",
    ],
)
def test_bad_input_exit_2_one_line_no_output(tmp_path, capsys, name):
    args, needle = _case(tmp_path, name)
    out = tmp_path / "out"
    rc, _, err = _run([*args, "--out", out], capsys)
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gutskin: error: "), err
    assert needle in lines[0], lines[0]
    assert not out.exists()
    assert not list(tmp_path.glob(".out.partial-*"))


def test_existing_output_is_kept_when_a_run_fails(tmp_path, capsys, classic_table):
    out = tmp_path / "out"
    assert _run([classic_table, "--out", out], capsys)[0] == 0
    before = (out / "profile.csv").read_bytes()
    c = COUNTS.copy()
    c[:, 0] = 0
    bad = write_classic(tmp_path / "bad.txt", counts=c)
    assert _run([bad, "--out", out], capsys)[0] == 2
    assert (out / "profile.csv").read_bytes() == before


def test_drop_empty_drops_and_reports(tmp_path, capsys):
    c = COUNTS.copy()
    c[:, 1] = 0
    c[2, :] = 0
    bad = write_classic(tmp_path / "t.txt", counts=c)
    out = tmp_path / "out"
    rc, _, err = _run([bad, "--drop-empty", "--out", out], capsys)
    assert rc == 0, err
    prof = pd.read_csv(out / "profile.csv", index_col="sample_id")
    assert "G2" not in prof.index and len(prof) == 5
    settings = json.loads((out / "provenance.json").read_text())["profile"]
    assert settings["dropped_empty_samples"] == 1 and settings["dropped_zero_features"] == 1
    assert "dropped" in err


def test_large_sparse_table_completes(tmp_path):
    """10,000 features × 1,000 samples (timings: benchmarks/bench_profile.py)."""
    import biom
    from biom.util import biom_open
    from scipy import sparse

    from gutskin.microbiome import profile_table

    rng = np.random.default_rng(0)
    nf, ns = 10_000, 1_000
    mat = sparse.random(
        nf, ns, density=0.01, format="csc", random_state=rng,
        data_rvs=lambda k: rng.integers(1, 100, k).astype(float),
    )  # fmt: skip
    mat = mat + sparse.csc_matrix(
        (np.ones(nf), (np.arange(nf), np.arange(nf) % ns)), shape=(nf, ns)
    )
    lins = [
        "k__Bacteria; p__Bacteroidetes; c__Bacteroidia",
        "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Lachnospiraceae",
        "k__Bacteria; p__Actinobacteria; c__Actinobacteria; g__Bifidobacterium",
        "k__Bacteria; p__Proteobacteria; c__Gammaproteobacteria",
        "k__Bacteria; p__Verrucomicrobia",
    ]
    md = [{"taxonomy": lins[i % len(lins)].split("; ")} for i in range(nf)]
    table = biom.Table(mat, [f"F{i}" for i in range(nf)], [f"S{j}" for j in range(ns)], md)
    path = tmp_path / "big.biom"
    with biom_open(str(path), "w") as fh:
        table.to_hdf5(fh, "gutskin test")
    t0 = time.perf_counter()
    prof = profile_table(path, kind="gut")
    elapsed = time.perf_counter() - t0
    print(f"profiled {nf} × {ns} in {elapsed:.1f} s")  # informative only, no assertion
    assert len(prof.samples) == ns
    assert prof.samples["dysbiosis_index"].notna().all()
    parts = ["gut_butyrate", "gut_bifido", "gut_lacto", "gut_bacteroidetes", "gut_proteo"]
    total = prof.samples[[*parts, "other_fraction", "unmapped_fraction"]].sum(axis=1)
    np.testing.assert_allclose(total, 1.0)


def test_help_lists_profile(capsys):
    assert main(["profile", "--help"]) == 0
    assert "--simulate" in capsys.readouterr().out


def test_formula_like_sample_ids_are_written_as_text(tmp_path, capsys):
    """Issue 31: sample IDs starting with = + - @ never reach a spreadsheet as formulas."""
    hostile = ["=HYPERLINK(1)", "+1+1", "-2", "@SUM(A1)", *SAMPLES[4:]]
    table = write_classic(tmp_path / "otu.txt", samples=hostile)
    out = tmp_path / "out"
    rc, _, err = _run([table, "--out", out], capsys)
    assert rc == 0, err
    cells = pd.read_csv(out / "profile.csv", dtype=str, keep_default_na=False)
    first = cells.iloc[:, 0].tolist()
    assert "'=HYPERLINK(1)" in first and "'@SUM(A1)" in first and "'-2" in first
    text = (out / "profile.csv").read_text()
    for line in text.splitlines():
        for cell in line.split(","):
            assert not cell.startswith(("=", "+", "@")), cell
