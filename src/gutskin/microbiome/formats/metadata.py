"""Sample metadata (mapping files) and the selection of samples by metadata values."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gutskin.microbiome.formats.common import (
    SAMPLE_ID_HEADERS,
    FeatureTable,
    TableError,
    _check_path,
    _listing,
    _read_text_frame,
    _sniff,
)

__all__ = ["read_metadata", "select_samples"]


def read_metadata(path: str | Path) -> pd.DataFrame:
    """Read a sample metadata (mapping) file.

    QIIME 1 mapping files (``#SampleID`` first column) and QIIME 2 metadata (``sample-id``
    or ``id``; ``#q2:types`` rows are skipped) are accepted, tab-separated, or CSV by
    extension.  Values are kept as text.

    Parameters
    ----------
    path : str or Path
        The metadata file.

    Returns
    -------
    pandas.DataFrame
        Indexed by sample ID (column names as in the file, the ID column removed).

    Raises
    ------
    TableError
        Ragged or unreadable lines, an empty or duplicated sample ID (with line numbers).
    """
    p = _check_path(path, "metadata")
    if _sniff(p) != "text":
        raise TableError(f"{p}: not a metadata text file")
    sep = "," if p.suffix.lower() == ".csv" else "\t"
    frame = _read_text_frame(p, sep, p)
    if frame.shape[1] < 1:
        raise TableError(f"{p}: no columns")
    first = str(frame.columns[0]).strip()
    if first.lower() not in SAMPLE_ID_HEADERS and not first.startswith("#"):
        raise TableError(
            f"{p}: line 1: the first column {first!r} is not a sample-ID column "
            "(expected #SampleID, sample-id or id)"
        )
    lines = np.arange(frame.shape[0]) + 2
    ids = frame.iloc[:, 0].astype(str).str.strip()
    blank = (frame.astype(str).apply(lambda s: s.str.strip()) == "").all(axis=1).to_numpy()
    comment = ids.str.startswith("#").to_numpy()
    short = _short_line(p, sep, frame.shape[1])
    if short:
        raise TableError(
            f"{p}: line {short} has fewer fields than the header (truncated or corrupt file?)"
        )
    keep = ~blank & ~comment
    frame, ids, lines = frame.loc[keep], ids[keep], lines[keep]
    empty = (ids == "").to_numpy()
    if empty.any():
        raise TableError(f"{p}: line {lines[empty][0]}: empty sample ID")
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        name = ids[dup].iloc[0]
        where = ", ".join(str(n) for n in lines[(ids == name).to_numpy()])
        raise TableError(f"{p}: sample {name!r} appears twice (lines {where})")
    out = frame.iloc[:, 1:].copy()
    out.index = pd.Index(ids.tolist(), name="sample_id")
    out.columns = [str(c).strip() for c in out.columns]
    return out


def _short_line(path: Path, sep: str, n_fields: int) -> int:
    """First non-blank, non-comment line with fewer than ``n_fields`` fields (0 if none)."""
    import csv

    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = csv.reader(fh, delimiter=sep, quoting=csv.QUOTE_NONE if sep == "\t" else 0)
        for no, row in enumerate(rows, 1):
            if no == 1 or not any(x.strip() for x in row) or row[0].startswith("#"):
                continue
            if len(row) < n_fields:
                return no
    return 0


# ---------------------------------------------------------------------------------- selection
_COND = re.compile(r"^\s*([^=!]+?)\s*(!=|=)\s*(.*?)\s*$")


def select_samples(
    table: FeatureTable, metadata: pd.DataFrame | None, where: Sequence[str] = ()
) -> tuple[FeatureTable, pd.DataFrame | None]:
    """Align a table with its metadata and keep the samples that meet ``where``.

    Parameters
    ----------
    table : FeatureTable
        The table.
    metadata : DataFrame or None
        From :func:`read_metadata`; every table sample must have a row (extra rows are fine).
    where : sequence of str
        Conditions ``COLUMN=VALUE[,VALUE...]`` or ``COLUMN!=VALUE[,VALUE...]``, all of which
        must hold (exact, case-sensitive text match).

    Returns
    -------
    (FeatureTable, DataFrame or None)
        The selected samples in table order and their metadata rows.

    Raises
    ------
    TableError
        Table samples missing from the metadata, an unknown column, a malformed condition or
        no sample left.
    """
    if metadata is None:
        if where:
            raise TableError("--where needs --metadata (the columns come from the metadata file)")
        return table, None
    ids = table.sample_ids.tolist()
    missing = [s for s in ids if s not in metadata.index]
    if len(missing) == len(ids):
        raise TableError(
            "none of the table's sample IDs is in the metadata (mismatched metadata?): table has "
            f"{_listing(ids)}; metadata has {_listing(metadata.index.tolist())}"
        )
    if missing:
        raise TableError(
            f"{len(missing)} table sample(s) have no metadata row: {_listing(missing)} "
            "(mismatched metadata?)"
        )
    meta = metadata.loc[ids]
    keep = np.ones(len(ids), dtype=bool)
    for cond in where:
        m = _COND.match(cond)
        if not m:
            raise TableError(f"--where {cond!r}: expected COLUMN=VALUE or COLUMN!=VALUE")
        col, op, value = m.group(1), m.group(2), m.group(3)
        if col not in meta.columns:
            raise TableError(
                f"--where {cond!r}: no metadata column {col!r}; columns are "
                f"{_listing(meta.columns.tolist(), 12)}"
            )
        values = [v.strip() for v in value.split(",")]
        hit = meta[col].astype(str).str.strip().isin(values).to_numpy()
        keep &= hit if op == "=" else ~hit
        if not keep.any():
            seen = sorted(set(meta[col].astype(str)))
            raise TableError(
                f"--where {cond!r}: no sample left; values of {col!r} are {_listing(seen, 8)}"
            )
    cols = np.flatnonzero(keep)
    return table.take_samples(cols), meta.iloc[cols]
