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
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tempfile
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse

__all__ = [
    "FeatureTable",
    "TableError",
    "read_metadata",
    "read_table",
    "read_taxonomy",
    "read_tree",
    "select_samples",
]

#: Header names of a taxonomy (lineage) column or observation-metadata key.
TAXONOMY_KEYS = ("taxonomy", "consensus lineage", "taxon", "lineage")
#: Header names of the sample-ID column of a metadata (mapping) file.
SAMPLE_ID_HEADERS = (
    "#sampleid",
    "sampleid",
    "sample-id",
    "sample_id",
    "sample id",
    "id",
    "#sample id",
    "#sample-id",
    "#id",
    "#q2:id",
)
_FEATURE_ID_HEADERS = ("feature id", "featureid", "feature-id", "#otu id", "#otuid", "otu id", "id")
_MAX_LISTED = 5


class TableError(ValueError):
    """An input file cannot be used; the message names the file and the line, sample or feature."""


def _listing(items: Sequence[Any], n: int = _MAX_LISTED) -> str:
    shown = ", ".join(str(x) for x in items[:n])
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return shown + more


@dataclass(frozen=True)
class FeatureTable:
    """A feature (OTU/ASV/taxon) × sample abundance table.

    Attributes
    ----------
    counts : scipy.sparse.csc_matrix, shape (F, S)
        Abundances (reads, or relative frequencies for relative tables), float64.
    feature_ids, sample_ids : ndarray of str
        Identifiers, unique.
    taxonomy : ndarray of str or None
        Lineage string per feature (``""`` where unknown); ``None`` if the input carried none.
    path : Path
        Where the table was read from.
    format : str
        ``biom-json``, ``biom-hdf5``, ``qiime1-tsv``, ``tsv``, ``csv`` or ``qza``.
    relative : bool
        True when the file declares relative frequencies (QIIME 2
        ``FeatureTable[RelativeFrequency]``).
    feature_lines : ndarray of int or None
        1-based line of each feature row in text files (for messages).
    """

    counts: sparse.csc_matrix
    feature_ids: NDArray[np.object_]
    sample_ids: NDArray[np.object_]
    taxonomy: NDArray[np.object_] | None
    path: Path
    format: str
    relative: bool = False
    feature_lines: NDArray[np.int64] | None = field(default=None, repr=False)

    @property
    def n_features(self) -> int:
        return int(self.counts.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.counts.shape[1])

    def where_feature(self, j: int) -> str:
        """Human description of feature ``j`` (its ID and, for text files, its line)."""
        line = (
            f" (line {int(self.feature_lines[j])})"
            if self.feature_lines is not None and self.feature_lines[j] > 0
            else ""
        )
        return f"feature {self.feature_ids[j]!r}{line}"

    def sample_totals(self) -> NDArray[np.float64]:
        """Total abundance of each sample."""
        return np.asarray(self.counts.sum(axis=0)).ravel()

    def take_samples(self, columns: Sequence[int] | NDArray[np.int64]) -> FeatureTable:
        """The table restricted to the given sample columns (in that order)."""
        cols = np.asarray(columns, dtype=np.int64)
        return replace(self, counts=self.counts[:, cols].tocsc(), sample_ids=self.sample_ids[cols])

    def take_features(self, rows: Sequence[int] | NDArray[np.int64]) -> FeatureTable:
        """The table restricted to the given feature rows."""
        r = np.asarray(rows, dtype=np.int64)
        return replace(
            self,
            counts=self.counts[r, :].tocsc(),
            feature_ids=self.feature_ids[r],
            taxonomy=None if self.taxonomy is None else self.taxonomy[r],
            feature_lines=None if self.feature_lines is None else self.feature_lines[r],
        )

    def with_taxonomy(self, lineages: dict[str, str]) -> FeatureTable:
        """The table with taxonomy taken from ``lineages`` (feature ID → lineage)."""
        return replace(self, taxonomy=_ids(lineages.get(str(f), "") for f in self.feature_ids))

    def is_integer(self) -> bool:
        """Whether every abundance is a whole number (read counts)."""
        d = self.counts.data
        return bool(np.all(d == np.round(d)))

    def first_non_integer(self) -> tuple[int, int, float] | None:
        """(feature row, sample column, value) of the first non-whole abundance, if any."""
        coo = self.counts.tocoo()
        bad = np.flatnonzero(coo.data != np.round(coo.data))
        if not bad.size:
            return None
        k = bad[np.lexsort((coo.row[bad], coo.col[bad]))][0]
        return int(coo.row[k]), int(coo.col[k]), float(coo.data[k])


# ---------------------------------------------------------------------------------- sniffing
def _sniff(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if not head:
        raise TableError(f"{path}: the file is empty")
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if path.suffix.lower() in (".qza", ".qzv"):
        raise TableError(
            f"{path}: a QIIME 2 artifact must be a zip archive, and this file is not one"
        )
    if head.lstrip()[:1] == b"{":
        return "json"
    return "text"


#: Largest table, taxonomy, metadata or tree file read (bytes). A regular file's size is
#: checked before reading; anything else (a pipe, /dev/zero) is refused, as its size is
#: unknown until it has been read.
MAX_INPUT_BYTES = 2 << 30


def _check_path(path: str | Path, what: str) -> Path:
    import stat as _stat

    p = Path(path)
    if not p.exists():
        raise TableError(f"{p}: no such {what} file")
    if p.is_dir():
        raise TableError(f"{p}: is a folder, expected a {what} file")
    st = p.stat()
    if not _stat.S_ISREG(st.st_mode):
        raise TableError(f"{p}: not a regular file (a device, pipe or socket); give a file")
    if st.st_size > MAX_INPUT_BYTES:
        raise TableError(
            f"{p}: {st.st_size / 2**30:.1f} GiB; {what} files larger than "
            f"{MAX_INPUT_BYTES / 2**30:g} GiB are refused (split the table by samples)"
        )
    return p


# ---------------------------------------------------------------------------------- QIIME 2
@dataclass(frozen=True)
class _Artifact:
    type: str
    data: dict[str, bytes]


#: Largest decompressed size of one member, and of all members, of a ``.qza`` (bytes).
MAX_MEMBER_BYTES = 1 << 30
MAX_ARCHIVE_BYTES = 2 << 30
#: Largest decompressed/compressed ratio of a member (real BIOM tables compress < 50x;
#: deflate tops out near 1000x).
MAX_COMPRESSION_RATIO = 500


def _read_member(zf: zipfile.ZipFile, name: str, path: Path, budget: int) -> bytes:
    """Read one archive member, refusing zip bombs before and while decompressing."""
    info = zf.getinfo(name)
    limit = min(MAX_MEMBER_BYTES, budget)
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > limit or ratio > MAX_COMPRESSION_RATIO:
        raise TableError(
            f"{path}: member {name} would decompress to {info.file_size} bytes "
            f"({ratio:.0f}x its stored size); refused (limits: {limit} bytes, "
            f"{MAX_COMPRESSION_RATIO}x)"
        )
    with zf.open(info) as fh:  # the header may lie: stop reading at the limit
        blob = fh.read(limit + 1)
    if len(blob) > limit:
        raise TableError(f"{path}: member {name} decompresses past {limit} bytes; refused")
    return blob


#: The artifact members gutskin reads (feature table, taxonomy, tree).
_QZA_MEMBERS = frozenset({"feature-table.biom", "taxonomy.tsv", "tree.nwk"})


def _read_qza(path: Path) -> _Artifact:
    """Type and ``data/`` members of a QIIME 2 archive (``.qza``)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            meta = [n for n in names if re.fullmatch(r"[^/]+/metadata\.yaml", n)]
            if not meta:
                raise TableError(
                    f"{path}: zip archive without <uuid>/metadata.yaml: not a QIIME 2 artifact"
                )
            from gutskin.engine.yamlio import YamlInputError, load_yaml

            try:
                raw = _read_member(zf, meta[0], path, 1 << 20)
                info = load_yaml(raw.decode("utf-8"), meta[0]) or {}
            except (YamlInputError, UnicodeDecodeError):
                raise TableError(f"{path}: {meta[0]} is not readable YAML") from None
            if not isinstance(info, dict):
                raise TableError(
                    f"{path}: {meta[0]} must be a mapping (uuid, type, format), "
                    f"not a {type(info).__name__}"
                )
            root = meta[0].split("/", 1)[0]
            # only the members gutskin reads are inflated: others may be large and unused
            members = [
                n
                for n in names
                if n.startswith(f"{root}/data/") and n.rsplit("/", 1)[-1] in _QZA_MEMBERS
            ]
            total = 0
            data: dict[str, bytes] = {}
            for n in members:
                blob = _read_member(zf, n, path, MAX_ARCHIVE_BYTES - total)
                total += len(blob)
                data[n.split("/data/", 1)[1]] = blob
    except zipfile.BadZipFile as exc:
        raise TableError(f"{path}: corrupt or truncated zip archive ({exc})") from None
    except (zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise TableError(f"{path}: cannot read the archive ({exc})") from None
    return _Artifact(type=str(info.get("type", "")), data=data)


# ---------------------------------------------------------------------------------- tables
def _ids(values: Iterable[Any]) -> NDArray[np.object_]:
    """IDs as an object array of Python strings (clean reprs in messages)."""
    return np.array([str(v) for v in values], dtype=object)


def _duplicates(ids: Iterable[str]) -> list[str]:
    return [k for k, v in Counter(ids).items() if v > 1]


def _lineage_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, np.ndarray)):
        return "; ".join(str(v) for v in value)
    return str(value)


def _from_biom(table: Any, path: Path, fmt: str, relative: bool = False) -> FeatureTable:
    """Convert a ``biom.Table`` (features × samples)."""
    obs_ids = _ids(table.ids(axis="observation"))
    smp_ids = _ids(table.ids(axis="sample"))
    mat = sparse.csc_matrix(table.matrix_data, dtype=np.float64)
    tax: NDArray[np.object_] | None = None
    md = table.metadata(axis="observation")
    if md is not None:
        keys = {k.lower(): k for m in md[:1] if m for k in m}
        key = next((keys[k] for k in TAXONOMY_KEYS if k in keys), None)
        if key is not None:
            tax = _ids(_lineage_text(m.get(key) if m else None) for m in md)
    return FeatureTable(mat, obs_ids, smp_ids, tax, path, fmt, relative)


def _biom_duplicates(path: Path, kind: str, raw: bytes | None = None) -> str:
    """Name the duplicated IDs of a BIOM file that biom-format refused."""
    dups: list[str] = []
    try:
        if kind == "json":
            doc = json.loads(raw if raw is not None else path.read_bytes())
            for axis, key in (("sample", "columns"), ("feature", "rows")):
                d = _duplicates(str(r.get("id")) for r in doc.get(key, []))
                dups += [f"{axis} {x!r}" for x in d]
        else:
            import h5py

            src = io.BytesIO(raw) if raw is not None else path
            with h5py.File(src, "r") as f:
                for axis, grp in (("sample", "sample"), ("feature", "observation")):
                    ids = [x.decode() if isinstance(x, bytes) else str(x) for x in f[grp]["ids"]]
                    dups += [f"{axis} {x!r}" for x in _duplicates(ids)]
    except Exception:
        return ""
    return _listing(dups)


def _load_biom(path: Path, kind: str, shown: Path | None = None) -> Any:
    import biom
    from biom.exception import TableException

    where = shown or path
    try:
        return biom.load_table(str(path))
    except TableException as exc:
        text = str(exc)
        if "uplicate" in text:
            names = _biom_duplicates(path, kind)
            raise TableError(
                f"{where}: duplicate IDs{': ' + names if names else ''} "
                "(each sample and feature ID must be unique)"
            ) from None
        raise TableError(f"{where}: invalid BIOM table ({text})") from None
    except json.JSONDecodeError as exc:
        raise TableError(
            f"{where}: corrupt or truncated BIOM JSON at line {exc.lineno}, column {exc.colno} "
            f"({exc.msg})"
        ) from None
    except RecursionError:
        raise TableError(
            f"{where}: BIOM JSON nested too deeply to be a table (a BIOM table is a few "
            "levels deep)"
        ) from None
    except (OSError, KeyError, ValueError, TypeError, IndexError) as exc:
        label = "HDF5" if kind == "hdf5" else "JSON"
        raise TableError(
            f"{where}: corrupt or truncated BIOM {label} file ({' '.join(str(exc).split())})"
        ) from None


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


#: Largest abundance accepted in a feature table (reads of one feature in one sample).
MAX_ABUNDANCE = 1e15


def _validate(t: FeatureTable) -> FeatureTable:
    if t.n_samples == 0:
        raise TableError(f"{t.path}: the table has no samples")
    if t.n_features == 0:
        raise TableError(f"{t.path}: the table has no features")
    for axis, ids in (("sample", t.sample_ids), ("feature", t.feature_ids)):
        dups = _duplicates(ids.tolist())
        if dups:
            raise TableError(f"{t.path}: duplicate {axis} IDs {_listing(dups)}")
        empty = [i for i, x in enumerate(ids) if not str(x).strip()]
        if empty:
            raise TableError(f"{t.path}: {axis} number {empty[0] + 1} has an empty ID")
    coo = t.counts.tocoo()
    bad = ~np.isfinite(coo.data)
    neg = coo.data < 0
    # sums of a sample's counts must stay finite and exact enough for diversity and
    # rarefaction: reads per feature beyond 1e15 are no sequencing depth (1e308 overflowed)
    huge = np.isfinite(coo.data) & (coo.data > MAX_ABUNDANCE)
    for mask, what in (
        (bad, "is not a finite number"),
        (neg, "is negative"),
        (huge, f"is larger than {MAX_ABUNDANCE:g}"),
    ):
        if mask.any():
            k = np.flatnonzero(mask)[np.lexsort((coo.row[mask], coo.col[mask]))][0]
            raise TableError(
                f"{t.path}: sample {t.sample_ids[coo.col[k]]!r}, "
                f"{t.where_feature(int(coo.row[k]))}: abundance {coo.data[k]:g} {what}; "
                "abundances must be counts or relative frequencies >= 0"
            )
    t.counts.eliminate_zeros()
    return t


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
    try:
        frame = pd.read_csv(
            src,
            sep=sep,
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            comment=None,
            quoting=3 if sep == "\t" else 0,
        )
    except pd.errors.ParserError as exc:
        raise TableError(f"{shown}: {' '.join(str(exc).split())}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise TableError(f"{shown}: cannot read ({exc})") from None
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


# ---------------------------------------------------------------------------------- metadata
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
    try:
        frame = pd.read_csv(
            p,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            comment=None,
            quoting=3 if sep == "\t" else 0,
        )
    except pd.errors.ParserError as exc:
        raise TableError(f"{p}: {' '.join(str(exc).split())}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise TableError(f"{p}: cannot read ({exc})") from None
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


def stable_key(text: str) -> int:
    """A 32-bit integer derived from ``text`` (for per-sample random streams)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "little")
