"""What every microbiome reader shares: :class:`TableError`, :class:`FeatureTable`, bounds.

The size bounds on input files (:data:`MAX_INPUT_BYTES`) and abundances
(:data:`MAX_ABUNDANCE`), content sniffing, the checks every read table passes
(:func:`_validate`) and the small helpers the format readers use live here, so that the
format modules (:mod:`~gutskin.microbiome.formats.biom`,
:mod:`~gutskin.microbiome.formats.tsv`, :mod:`~gutskin.microbiome.formats.qza`) and
the dispatcher :mod:`gutskin.microbiome.readers` depend on one place.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

__all__ = [
    "MAX_ABUNDANCE",
    "MAX_INPUT_BYTES",
    "SAMPLE_ID_HEADERS",
    "TAXONOMY_KEYS",
    "FeatureTable",
    "TableError",
    "stable_key",
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


def _read_text_frame(src: Any, sep: str, shown: str | Path, *, header: int | None = 0) -> Any:
    """A delimited text table read as strings, every value kept, parser errors as ``TableError``.

    Parameters
    ----------
    src : path or file-like
        The table (a path, or the bytes of a file inside an archive).
    sep : str
        Field separator; with a tab, quotes are literal characters (``quoting=3``).
    shown : str or Path
        How the file is named in error messages.
    header : int or None
        Header row, or None for a table without one.

    Returns
    -------
    pandas.DataFrame
        Every value a string; blank lines kept (as empty rows), no comment character.

    Raises
    ------
    TableError
        When pandas cannot parse or decode the file.
    """
    import pandas as pd

    try:
        return pd.read_csv(
            src,
            sep=sep,
            header=header,
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


def _ids(values: Iterable[Any]) -> NDArray[np.object_]:
    """IDs as an object array of Python strings (clean reprs in messages)."""
    return np.array([str(v) for v in values], dtype=object)


def _duplicates(ids: Iterable[str]) -> list[str]:
    return [k for k, v in Counter(ids).items() if v > 1]


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


def stable_key(text: str) -> int:
    """A 32-bit integer derived from ``text`` (for per-sample random streams)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "little")
