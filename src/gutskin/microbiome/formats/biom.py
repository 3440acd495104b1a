"""BIOM tables (1.0 JSON, 2.x HDF5) through biom-format, with errors that name the file.

``biom.Table`` objects (also those parsed from QIIME 1 classic TSV by
:mod:`~gutskin.microbiome.formats.tsv`) become a :class:`FeatureTable` here.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from gutskin.microbiome.formats.common import (
    TAXONOMY_KEYS,
    FeatureTable,
    TableError,
    _duplicates,
    _ids,
    _listing,
)

__all__: list[str] = []


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
