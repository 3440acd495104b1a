"""Every supported table format reads to the same numbers; bad files fail with a named place."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mb_tables import (
    COUNTS,
    FEATURES,
    LINEAGES,
    METADATA,
    SAMPLES,
    write_classic,
    write_hdf5,
    write_json,
    write_plain,
    write_qza_table,
    write_qza_taxonomy,
    write_taxonomy,
)

from gutskin.microbiome.readers import (
    TableError,
    read_metadata,
    read_table,
    read_taxonomy,
    read_tree,
    select_samples,
)


def _dense(t):
    order = [list(t.feature_ids).index(f) for f in FEATURES]
    cols = [list(t.sample_ids).index(s) for s in SAMPLES]
    return t.counts.toarray()[np.ix_(order, cols)]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("biom-json", "biom-json"),
        ("biom-hdf5", "biom-hdf5"),
        ("classic", "qiime1-tsv"),
        ("plain-tsv", "tsv"),
        ("csv", "csv"),
        ("qza", "qza"),
    ],
)
def test_every_format_reads_the_same_table(tmp_path, name, fmt):
    tax = None
    if name == "biom-json":
        path = write_json(tmp_path / "t.biom")
    elif name == "biom-hdf5":
        path = write_hdf5(tmp_path / "t.biom")
    elif name == "classic":
        path = write_classic(tmp_path / "t.txt")
    elif name == "plain-tsv":
        path, tax = write_plain(tmp_path / "t.tsv"), write_taxonomy(tmp_path / "tax.tsv")
    elif name == "csv":
        path, tax = write_plain(tmp_path / "t.csv", sep=","), write_taxonomy(tmp_path / "tax.tsv")
    else:
        path = write_qza_table(tmp_path / "t.qza", tmp_path)
        tax = write_qza_taxonomy(tmp_path / "tax.qza")
    t = read_table(path, taxonomy=tax)
    assert t.format == fmt
    assert sorted(t.sample_ids) == sorted(SAMPLES)
    np.testing.assert_array_equal(_dense(t), COUNTS)
    lineage = dict(zip(t.feature_ids, t.taxonomy, strict=True))
    for f in FEATURES:  # BIOM stores lineages as lists: compare the ranks, not the spacing
        assert [x.strip() for x in lineage[f].split(";")] == [
            x.strip() for x in LINEAGES[f].split(";")
        ]


def test_taxonomy_file_variants(tmp_path):
    q2 = read_taxonomy(write_taxonomy(tmp_path / "taxonomy.tsv"))
    assert q2 == LINEAGES
    q1 = tmp_path / "rep_set_tax_assignments.txt"  # QIIME 1: no header
    q1.write_text("".join(f"{f}\t{lin}\t1.00\t3\n" for f, lin in LINEAGES.items()))
    assert read_taxonomy(q1) == LINEAGES
    assert read_taxonomy(write_qza_taxonomy(tmp_path / "tax.qza")) == LINEAGES


def test_metadata_and_selection(tmp_path, classic_table, metadata_file):
    meta = read_metadata(metadata_file)
    assert list(meta.columns) == ["BODY_SITE", "SUBJECT", "AGE"] and "X9" in meta.index
    t = read_table(classic_table)
    gut, m = select_samples(t, meta, ["BODY_SITE=UBERON:feces"])
    assert list(gut.sample_ids) == ["G1", "G2", "G3", "G4"] and list(m.index) == list(
        gut.sample_ids
    )
    two, _ = select_samples(t, meta, ["BODY_SITE=UBERON:feces", "SUBJECT!=s1,s2"])
    assert list(two.sample_ids) == ["G3", "G4"]
    q2 = tmp_path / "q2.tsv"  # QIIME 2 metadata with a #q2:types row
    q2.write_text("sample-id\tsite\n#q2:types\tcategorical\nG1\tgut\n")
    assert read_metadata(q2).loc["G1", "site"] == "gut"


def test_tree_reader(tmp_path):
    nwk = tmp_path / "tree.nwk"
    nwk.write_text("((a:1,b:2):0.5,c:3);\n")
    assert sorted(t.name for t in read_tree(nwk).tips()) == ["a", "b", "c"]
    bad = tmp_path / "bad.nwk"
    bad.write_text("((a:1,b:2;\n")
    with pytest.raises(TableError, match=r"bad\.nwk"):
        read_tree(bad)


# ----------------------------------------------------------------------------- errors
def _classic_text(rows: list[str], samples=("S1", "S2")) -> str:
    return "#OTU ID\t" + "\t".join(samples) + "\ttaxonomy\n" + "\n".join(rows) + "\n"


LIN = "k__Bacteria; p__Firmicutes"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (_classic_text([f"f1\t1\t2\t{LIN}", f"f1\t3\t4\t{LIN}"]), "duplicate feature ID 'f1'"),
        (_classic_text([f"f1\t1\t2\t{LIN}"], samples=("S1", "S1")), "duplicate sample IDs S1"),
        (_classic_text([f"f1\t1\t2\t{LIN}", f"f2\t-3\t4\t{LIN}"]), "sample 'S1'"),
        (_classic_text([f"f1\t1\t2\t{LIN}", f"f2\tx\t4\t{LIN}"]), "line 3, sample 'S1'"),
        (_classic_text([f"f1\t1\t2\t{LIN}", f"f2\t3\t{LIN}"]), "line 3 has 3 fields"),
        (_classic_text([f"f1\t1\t2\t{LIN}", "f2\t3"]), "line 3 has 2 fields"),  # truncated
        ("", "is empty"),
    ],
)
def test_bad_text_tables_name_the_place(tmp_path, text, needle):
    p = tmp_path / "bad.txt"
    p.write_text(text)
    with pytest.raises(TableError, match=needle) as err:
        read_table(p)
    assert str(p) in str(err.value)


def test_negative_names_sample_feature_and_line(tmp_path):
    p = tmp_path / "neg.txt"
    p.write_text(_classic_text([f"f1\t1\t2\t{LIN}", f"f2\t-3\t4\t{LIN}"]))
    with pytest.raises(TableError, match=r"sample 'S1', feature 'f2' \(line 3\).*negative"):
        read_table(p)


def test_corrupt_and_truncated_binary_files(tmp_path):
    j = write_json(tmp_path / "t.json")
    cut = tmp_path / "cut.json"
    cut.write_text(j.read_text()[:300])
    with pytest.raises(TableError, match="corrupt or truncated BIOM JSON"):
        read_table(cut)
    h = write_hdf5(tmp_path / "t.h5")
    cut = tmp_path / "cut.h5"
    cut.write_bytes(h.read_bytes()[:2000])
    with pytest.raises(TableError, match="corrupt or truncated BIOM HDF5"):
        read_table(cut)
    q = write_qza_table(tmp_path / "t.qza", tmp_path)
    cut = tmp_path / "cut.qza"
    cut.write_bytes(q.read_bytes()[:-200])
    with pytest.raises(TableError, match="corrupt or truncated zip"):
        read_table(cut)
    with pytest.raises(TableError, match="not a FeatureTable"):
        read_table(write_qza_taxonomy(tmp_path / "tax.qza"))


def test_duplicate_ids_in_biom_json_are_named(tmp_path):
    p = write_json(tmp_path / "t.json")
    doc = json.loads(p.read_text())
    doc["columns"][1]["id"] = doc["columns"][0]["id"]
    p.write_text(json.dumps(doc))
    with pytest.raises(TableError, match="duplicate IDs: sample 'G1'"):
        read_table(p)


def test_bad_metadata_and_taxonomy(tmp_path, classic_table):
    dup = tmp_path / "dup.txt"
    dup.write_text("#SampleID\tA\nG1\tx\nG2\ty\nG1\tz\n")
    with pytest.raises(TableError, match=r"sample 'G1' appears twice \(lines 2, 4\)"):
        read_metadata(dup)
    short = tmp_path / "short.txt"
    short.write_text("#SampleID\tA\tB\nG1\tx\ty\nG2\tx\n")
    with pytest.raises(TableError, match="line 3 has fewer fields"):
        read_metadata(short)
    tax = tmp_path / "tax.tsv"
    tax.write_text("Feature ID\tTaxon\nf1\tk__Bacteria\nf1\tk__Archaea\n")
    with pytest.raises(TableError, match=r"feature 'f1' is listed twice \(lines 2, 3\)"):
        read_taxonomy(tax)
    meta = tmp_path / "other.txt"  # mismatched: the table's samples are not in it
    meta.write_text(METADATA.replace("G", "H"))
    with pytest.raises(TableError, match="mismatched metadata"):
        select_samples(read_table(classic_table), read_metadata(meta))
    part = tmp_path / "part.txt"
    part.write_text("\n".join(METADATA.splitlines()[:4]) + "\n")
    with pytest.raises(TableError, match=r"3 table sample\(s\) have no metadata row: G4, K1, K2"):
        select_samples(read_table(classic_table), read_metadata(part))
