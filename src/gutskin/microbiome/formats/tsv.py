"""Text tables: QIIME 1 classic and plain TSV (features as rows), and CSV.

Tab-separated tables get a line-structure check first (every row as many fields as the
header, with line numbers) and are then parsed by ``biom.Table.from_tsv``; a QIIME 1
``#OTU ID`` header and a last taxonomy column (``taxonomy``, ``Consensus Lineage``,
``Taxon``) are recognised.  CSV is read with pandas, which handles quoting.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from gutskin.microbiome.formats.biom import _from_biom
from gutskin.microbiome.formats.common import (
    TAXONOMY_KEYS,
    FeatureTable,
    TableError,
    _duplicates,
    _ids,
    _listing,
)

__all__: list[str] = []


def _text_lines(path: Path) -> list[str]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TableError(f"{path}: line {line}: not UTF-8 text (binary or corrupt file?)") from None
    return text.splitlines()


def _tsv_structure(path: Path, lines: list[str]) -> tuple[int, list[str], list[int]]:
    """Header line number, header fields and the line number of every data row.

    The header is the last of the ``#`` lines at the top if it holds a tab (the QIIME 1
    ``#OTU ID`` convention of biom-format), else the first line not starting with ``#``.
    Later ``#`` lines and blank lines are skipped.  Every data row must have as many
    fields as the header.
    """
    top: list[int] = []
    no = 0
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if not line.startswith("#"):
            break
        top.append(no)
    else:
        no = len(lines) + 1
    if top and "\t" in lines[top[-1] - 1]:
        header_no = top[-1]
    elif no <= len(lines):
        header_no = no
    else:
        raise TableError(f"{path}: no header line found")
    header = lines[header_no - 1].rstrip("\r\n").split("\t")
    if len(header) < 2:
        raise TableError(
            f"{path}: line {header_no}: the header has one column; expected a feature-ID "
            "column and one column per sample (tab-separated)"
        )
    data_lines = [
        k
        for k in range(header_no + 1, len(lines) + 1)
        if lines[k - 1].strip() and not lines[k - 1].startswith("#")
    ]
    if not data_lines:
        raise TableError(f"{path}: no feature rows after the header (line {header_no})")
    n = len(header)
    for k in data_lines:
        m = lines[k - 1].rstrip("\r\n").count("\t") + 1
        if m != n:
            raise TableError(
                f"{path}: line {k} has {m} fields but the header (line {header_no}) has {n} "
                "(truncated or corrupt file?)"
            )
    return header_no, header, data_lines


def _first_bad_number(
    path: Path, lines: list[str], data_lines: list[int], header: list[str], ncol: int
) -> str:
    for no in data_lines:
        fields = lines[no - 1].rstrip("\r\n").split("\t")
        for j in range(1, ncol + 1):
            try:
                float(fields[j])
            except ValueError:
                return (
                    f"{path}: line {no}, sample {header[j]!r}: {fields[j]!r} is not a number "
                    f"(feature {fields[0]!r})"
                )
    return f"{path}: a value is not a number"


def _read_tsv(path: Path) -> FeatureTable:
    from biom import Table

    lines = _text_lines(path)
    header_no, header, data_lines = _tsv_structure(path, lines)
    names = [h.strip() for h in header]
    last = names[-1].lower()
    has_tax = last in TAXONOMY_KEYS
    samples = names[1:-1] if has_tax else names[1:]
    if not samples:
        raise TableError(f"{path}: line {header_no}: the header names no sample columns")
    dups = _duplicates(samples)
    if dups:
        raise TableError(f"{path}: line {header_no}: duplicate sample IDs {_listing(dups)}")
    feats = [lines[no - 1].split("\t", 1)[0].strip() for no in data_lines]
    dups = _duplicates(feats)
    if dups:
        at = [n for f, n in zip(feats, data_lines, strict=True) if f == dups[0]]
        raise TableError(
            f"{path}: duplicate feature ID {dups[0]!r} (lines {', '.join(map(str, at))})"
        )
    body = "\n".join(lines[header_no - 1 :]) + "\n"
    if not lines[header_no - 1].startswith("#"):
        body = "#" + body  # biom-format: a '#' header keeps the first data row as data
    try:
        tab = Table.from_tsv(io.StringIO(body), None, None, lambda x: x)
    except TypeError:
        raise TableError(_first_bad_number(path, lines, data_lines, header, len(samples))) from None
    except ValueError as exc:
        raise TableError(f"{path}: cannot parse the table ({exc})") from None
    if len(np.asarray(tab.ids(axis="sample"))) != len(samples):
        # biom-format took a non-numeric last column as metadata: name it
        raise TableError(
            f"{path}: the last column {names[-1]!r} is not numeric; a taxonomy column must be "
            f"named one of {', '.join(repr(k) for k in TAXONOMY_KEYS)}"
        )
    fmt = "qiime1-tsv" if lines[header_no - 1].startswith("#") else "tsv"
    out = _from_biom(tab, path, fmt)
    return replace(out, feature_lines=np.asarray(data_lines, dtype=np.int64))


def _read_csv(path: Path) -> FeatureTable:
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, skip_blank_lines=False, comment=None
        )
    except pd.errors.ParserError as exc:
        raise TableError(
            f"{path}: {' '.join(str(exc).split())} (truncated or corrupt file?)"
        ) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise TableError(f"{path}: cannot read as CSV ({exc})") from None
    if frame.shape[1] < 2:
        raise TableError(f"{path}: line 1: expected a feature-ID column and sample columns")
    lines = np.arange(frame.shape[0], dtype=np.int64) + 2
    blank = (frame == "").all(axis=1).to_numpy()
    frame, lines = frame.loc[~blank], lines[~blank]
    import csv

    with open(path, encoding="utf-8-sig", newline="") as fh:
        cols = [c.strip() for c in next(csv.reader(fh))]  # pandas would rename duplicates
    dups = _duplicates(cols[1:])
    if dups:
        raise TableError(f"{path}: line 1: duplicate sample IDs {_listing(dups)}")
    has_tax = cols[-1].lower() in TAXONOMY_KEYS
    samples = cols[1:-1] if has_tax else cols[1:]
    feats = frame.iloc[:, 0].str.strip().to_numpy()
    dups = _duplicates(feats)
    if dups:
        raise TableError(f"{path}: duplicate feature IDs {_listing(dups)}")
    values = frame.iloc[:, 1 : 1 + len(samples)]
    num = values.apply(lambda s: pd.to_numeric(s.str.strip(), errors="coerce"))
    bad = num.isna().to_numpy()
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raw = values.iat[r, c]
        what = "is empty (short line: truncated file?)" if raw == "" else f"{raw!r} is not a number"
        raise TableError(f"{path}: line {lines[r]}, sample {samples[c]!r}: {what}")
    mat = sparse.csc_matrix(num.to_numpy(dtype=np.float64))
    tax = _ids(frame.iloc[:, -1]) if has_tax else None
    return FeatureTable(mat, _ids(feats), _ids(samples), tax, path, "csv", False, lines)
