"""Read microbiome feature tables, taxonomies, sample metadata and trees as they come.

Supported inputs (the format is recognised from the file's content, not its name):

=====================  ==================================================================
BIOM 1.0 (JSON)        ``biom.load_table`` (biom-format)
BIOM 2.x (HDF5)        ``biom.load_table`` (biom-format, h5py)
QIIME 1 classic table  tab-separated, ``#OTU ID`` header, optional last taxonomy column
                       (``taxonomy``, ``Consensus Lineage``, ``Taxon``); parsed by
                       ``biom.Table.from_tsv`` after a line-structure check
plain TSV              features as rows, samples as columns; taxonomy in a separate file
CSV                    as plain TSV, comma-separated (read with pandas, which handles quoting)
QIIME 2 ``.qza``       zip archive; ``<uuid>/data/feature-table.biom`` (FeatureTable) or
                       ``<uuid>/data/taxonomy.tsv`` (FeatureData[Taxonomy]) or
                       ``<uuid>/data/tree.nwk`` (Phylogeny); QIIME 2 itself is not needed
=====================  ==================================================================

Every problem raises :class:`TableError` whose message names the file and, where it can,
the line, sample or feature — never a traceback from deep inside a parser.

The formats live in :mod:`gutskin.microbiome.formats` (``common``, ``biom``, ``tsv``,
``qza``, ``metadata``); this module recognises the format and dispatches.
"""

from __future__ import annotations

import io
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from gutskin.microbiome.formats.biom import _from_biom, _load_biom
from gutskin.microbiome.formats.common import (
    _FEATURE_ID_HEADERS,
    TAXONOMY_KEYS,
    FeatureTable,
    TableError,
    _check_path,
    _read_text_frame,
    _sniff,
    _validate,
)
from gutskin.microbiome.formats.metadata import read_metadata, select_samples
from gutskin.microbiome.formats.qza import _read_qza
from gutskin.microbiome.formats.tsv import _read_csv, _read_tsv

__all__ = [
    "FeatureTable",
    "TableError",
    "read_metadata",
    "read_table",
    "read_taxonomy",
    "read_tree",
    "select_samples",
]


def read_table(path: str | Path, *, taxonomy: str | Path | None = None) -> FeatureTable:
    """Read a feature table in any supported format.

    Parameters
    ----------
    path : str or Path
        BIOM 1.0 JSON, BIOM 2.x HDF5, QIIME 1 classic TSV, plain TSV/CSV (features as rows,
        samples as columns) or a QIIME 2 ``FeatureTable`` artifact (``.qza``).
    taxonomy : str or Path, optional
        Taxonomy file (see :func:`read_taxonomy`); replaces a taxonomy carried by the table.

    Returns
    -------
    FeatureTable

    Raises
    ------
    TableError
        Missing, empty, corrupt or truncated file; duplicate sample or feature IDs; a value
        that is not a number, negative or not finite.  The message names the line, sample
        or feature where it can.
    """
    p = _check_path(path, "table")
    kind = _sniff(p)
    if kind in ("json", "hdf5"):
        t = _from_biom(_load_biom(p, kind), p, f"biom-{kind}")
    elif kind == "zip":
        art = _read_qza(p)
        if not art.type.startswith("FeatureTable"):
            hint = " (give a taxonomy with --taxonomy)" if "Taxonomy" in art.type else ""
            raise TableError(
                f"{p}: QIIME 2 artifact of type {art.type!r}, not a FeatureTable{hint}"
            )
        if "feature-table.biom" not in art.data:
            raise TableError(f"{p}: FeatureTable artifact without data/feature-table.biom")
        raw = art.data["feature-table.biom"]
        inner = "hdf5" if raw.startswith(b"\x89HDF") else "json"
        with tempfile.TemporaryDirectory() as tmp:
            f = Path(tmp) / "feature-table.biom"
            f.write_bytes(raw)
            tab = _load_biom(f, inner, shown=Path(f"{p}!data/feature-table.biom"))
            t = _from_biom(tab, p, "qza", relative="RelativeFrequency" in art.type)
    else:
        sep_csv = p.suffix.lower() == ".csv"
        if not sep_csv:
            with open(p, encoding="utf-8", errors="replace") as fh:
                first = next((ln for ln in fh if ln.strip() and not ln.startswith("# ")), "")
            sep_csv = "\t" not in first and "," in first
        t = _read_csv(p) if sep_csv else _read_tsv(p)
    t = _validate(t)
    if taxonomy is not None:
        t = t.with_taxonomy(read_taxonomy(taxonomy))
    return t


# ---------------------------------------------------------------------------------- taxonomy
def read_taxonomy(path: str | Path) -> dict[str, str]:
    """Read a feature → lineage taxonomy.

    Accepts QIIME 2 ``taxonomy.tsv`` (``Feature ID``, ``Taxon``, ``Confidence``) or its
    ``.qza`` artifact, QIIME 1 ``*_tax_assignments.txt`` (no header) and CSV with the same
    columns.

    Parameters
    ----------
    path : str or Path
        The taxonomy file.

    Returns
    -------
    dict
        Feature ID → lineage string.

    Raises
    ------
    TableError
        Unreadable file, a line without a lineage, or a feature listed twice (with lines).
    """
    p = _check_path(path, "taxonomy")
    kind = _sniff(p)
    if kind == "zip":
        art = _read_qza(p)
        if "Taxonomy" not in art.type or "taxonomy.tsv" not in art.data:
            raise TableError(
                f"{p}: QIIME 2 artifact of type {art.type!r}, not FeatureData[Taxonomy]"
            )
        src: Any = io.BytesIO(art.data["taxonomy.tsv"])
        sep = "\t"
        shown = f"{p}!data/taxonomy.tsv"
    elif kind != "text":
        raise TableError(f"{p}: not a taxonomy text file (found {kind} content)")
    else:
        src, shown = p, str(p)
        sep = "," if p.suffix.lower() == ".csv" else "\t"
    frame = _read_text_frame(src, sep, shown, header=None)
    if frame.shape[1] < 2:
        raise TableError(f"{shown}: expected at least two columns (feature ID, lineage)")
    lines = np.arange(frame.shape[0]) + 1
    ids = frame.iloc[:, 0].str.strip()
    keep = (ids != "").to_numpy() & ~ids.str.startswith("#q2:").to_numpy()
    if keep.any():
        first = int(np.flatnonzero(keep)[0])
        head_id = str(ids.iat[first]).lower().lstrip("#")
        head_tax = str(frame.iat[first, 1]).strip().lower()
        if head_id in {h.lstrip("#") for h in _FEATURE_ID_HEADERS} or head_tax in TAXONOMY_KEYS:
            keep[first] = False
    ids, tax, lines = ids[keep], frame.iloc[:, 1][keep].str.strip(), lines[keep]
    empty = (tax == "").to_numpy()
    if empty.any():
        raise TableError(
            f"{shown}: line {lines[empty][0]}: feature "
            f"{ids.iloc[int(np.flatnonzero(empty)[0])]!r} has no lineage"
        )
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        name = ids[dup].iloc[0]
        where = ", ".join(str(n) for n in lines[(ids == name).to_numpy()])
        raise TableError(f"{shown}: feature {name!r} is listed twice (lines {where})")
    return dict(zip(ids.tolist(), tax.tolist(), strict=True))


# ---------------------------------------------------------------------------------- tree
def read_tree(path: str | Path) -> Any:
    """Read a phylogenetic tree (Newick, or a QIIME 2 ``Phylogeny[Rooted]`` artifact).

    Parameters
    ----------
    path : str or Path
        Tree file.

    Returns
    -------
    skbio.TreeNode
    """
    from skbio import TreeNode

    p = _check_path(path, "tree")
    if _sniff(p) == "zip":
        art = _read_qza(p)
        if "tree.nwk" not in art.data:
            raise TableError(f"{p}: QIIME 2 artifact of type {art.type!r} holds no tree")
        src: Any = io.StringIO(art.data["tree.nwk"].decode("utf-8", errors="replace"))
    else:
        src = str(p)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # skbio's format sniffer warns before it fails
            return TreeNode.read(src, format="newick")
    except TableError:
        raise
    except Exception as exc:
        raise TableError(
            f"{p}: not a readable Newick tree ({' '.join(str(exc).split())})"
        ) from None
