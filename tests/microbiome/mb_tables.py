"""Small microbiome tables the tests build themselves, in every supported format.

Imported by the microbiome tests as ``mb_tables`` (a unique module name).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

GG = "k__Bacteria; p__{p}; c__{c}; o__{o}; f__{f}; g__{g}; s__{s}"

#: feature -> Greengenes-style lineage (one GTDB-style and one SILVA-style entry on purpose)
LINEAGES = {
    "bact": GG.format(
        p="Bacteroidetes", c="Bacteroidia", o="Bacteroidales", f="Bacteroidaceae",
        g="Bacteroides", s="",
    ),
    "rose": GG.format(
        p="Firmicutes", c="Clostridia", o="Clostridiales", f="Lachnospiraceae",
        g="Roseburia", s="",
    ),
    "faec": GG.format(
        p="Firmicutes", c="Clostridia", o="Clostridiales", f="Ruminococcaceae",
        g="Faecalibacterium", s="prausnitzii",
    ),
    "strep": GG.format(
        p="Firmicutes", c="Bacilli", o="Lactobacillales", f="Streptococcaceae",
        g="Streptococcus", s="",
    ),
    "bifi": GG.format(
        p="Actinobacteria", c="Actinobacteria", o="Bifidobacteriales",
        f="Bifidobacteriaceae", g="Bifidobacterium", s="",
    ),
    "reut": "d__Bacteria;p__Bacillota;c__Bacilli;o__Lactobacillales;f__Lactobacillaceae;"
    "g__Limosilactobacillus;s__Limosilactobacillus reuteri",
    "ecol": "D_0__Bacteria;D_1__Proteobacteria;D_2__Gammaproteobacteria;"
    "D_3__Enterobacteriales;D_4__Enterobacteriaceae;D_5__Escherichia-Shigella",
    "akk": GG.format(
        p="Verrucomicrobia", c="Verrucomicrobiae", o="Verrucomicrobiales",
        f="Verrucomicrobiaceae", g="Akkermansia", s="muciniphila",
    ),
    "cacn": GG.format(
        p="Actinobacteria", c="Actinobacteria", o="Actinomycetales",
        f="Propionibacteriaceae", g="Propionibacterium", s="acnes",
    ),
    "staph": GG.format(
        p="Firmicutes", c="Bacilli", o="Bacillales", f="Staphylococcaceae",
        g="Staphylococcus", s="",
    ),
    "saur": GG.format(
        p="Firmicutes", c="Bacilli", o="Bacillales", f="Staphylococcaceae",
        g="Staphylococcus", s="aureus",
    ),
    "cory": GG.format(
        p="Actinobacteria", c="Actinobacteria", o="Actinomycetales",
        f="Corynebacteriaceae", g="Corynebacterium", s="",
    ),
}  # fmt: skip
FEATURES = list(LINEAGES)
SAMPLES = ["G1", "G2", "G3", "G4", "K1", "K2"]
#: counts (features × samples): four gut samples of rising dysbiosis, two facial skin samples
COUNTS = np.array(
    [
        # G1   G2   G3   G4   K1   K2
        [400, 440, 480, 560, 10, 0],  # bact
        [250, 230, 200, 150, 0, 0],  # rose
        [150, 140, 120, 90, 0, 0],  # faec
        [40, 40, 40, 40, 5, 3],  # strep (lumped Firmicutes)
        [40, 25, 12, 3, 0, 0],  # bifi
        [10, 8, 5, 1, 0, 0],  # reut (Lactobacillus split genus, GTDB names)
        [70, 80, 95, 110, 20, 6],  # ecol (SILVA 132 names)
        [40, 37, 48, 46, 0, 0],  # akk (unmapped)
        [0, 0, 0, 0, 850, 900],  # cacn
        [0, 0, 0, 0, 60, 30],  # staph
        [0, 0, 0, 0, 1, 0],  # saur
        [0, 0, 0, 0, 54, 61],  # cory (skin: unmapped)
    ],
    dtype=float,
)
METADATA = (
    "#SampleID\tBODY_SITE\tSUBJECT\tAGE\n"
    "G1\tUBERON:feces\ts1\t21\n"
    "G2\tUBERON:feces\ts2\t25\n"
    "G3\tUBERON:feces\ts3\t30\n"
    "G4\tUBERON:feces\ts4\t19\n"
    "K1\tUBERON:skin\ts1\t21\n"
    "K2\tUBERON:skin\ts2\t25\n"
    "X9\tUBERON:skin\ts9\t40\n"
)
FACE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "face_sites"


def _biom_table(counts=COUNTS, features=FEATURES, samples=SAMPLES, taxonomy=True):
    import biom

    md = (
        [{"taxonomy": [x.strip() for x in LINEAGES[f].split(";")]} for f in features]
        if taxonomy
        else None
    )
    return biom.Table(counts, list(features), list(samples), observation_metadata=md)


def write_json(path: Path, **kw) -> Path:
    path.write_text(_biom_table(**kw).to_json("gutskin tests"))
    return path


def write_hdf5(path: Path, **kw) -> Path:
    from biom.util import biom_open

    with biom_open(str(path), "w") as fh:
        _biom_table(**kw).to_hdf5(fh, "gutskin tests")
    return path


def write_classic(path: Path, counts=COUNTS, features=FEATURES, samples=SAMPLES) -> Path:
    lines = ["# Constructed from biom file", "#OTU ID\t" + "\t".join(samples) + "\ttaxonomy"]
    for f, row in zip(features, counts, strict=True):
        vals = "\t".join(f"{v:g}" for v in row)
        lines.append(f"{f}\t{vals}\t{LINEAGES.get(f, 'k__Bacteria')}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_plain(path: Path, sep: str = "\t", counts=COUNTS, samples=SAMPLES) -> Path:
    lines = [sep.join(["feature", *samples])]
    for f, row in zip(FEATURES, counts, strict=True):
        lines.append(sep.join([f, *(f"{v:g}" for v in row)]))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_taxonomy(path: Path) -> Path:
    rows = ["Feature ID\tTaxon\tConfidence"]
    rows += [f"{f}\t{lin}\t0.99" for f, lin in LINEAGES.items()]
    path.write_text("\n".join(rows) + "\n")
    return path


def _qza(path: Path, type_: str, fmt: str, member: str, payload: bytes) -> Path:
    uid = "1b2c3d4e-0000-4000-8000-000000000001"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{uid}/metadata.yaml", f"uuid: {uid}\ntype: {type_}\nformat: {fmt}\n")
        zf.writestr(f"{uid}/VERSION", "QIIME 2\narchive: 5\nframework: 2024.2.0\n")
        zf.writestr(f"{uid}/data/{member}", payload)
    return path


def write_qza_table(path: Path, tmp: Path) -> Path:
    h5 = write_hdf5(tmp / "inner.biom", taxonomy=False)
    return _qza(
        path, "FeatureTable[Frequency]", "BIOMV210DirFmt", "feature-table.biom", h5.read_bytes()
    )


def write_qza_taxonomy(path: Path) -> Path:
    buf = io.StringIO()
    buf.write("Feature ID\tTaxon\tConfidence\n")
    for f, lin in LINEAGES.items():
        buf.write(f"{f}\t{lin}\t0.9\n")
    return _qza(
        path, "FeatureData[Taxonomy]", "TSVTaxonomyDirectoryFormat", "taxonomy.tsv",
        buf.getvalue().encode(),
    )  # fmt: skip
