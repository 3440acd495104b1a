"""QIIME 2 artifacts (``.qza``): the ``data/`` members gutskin reads, zip bombs refused.

QIIME 2 itself is not needed: an artifact is a zip archive with ``<uuid>/metadata.yaml``
(its type) and ``<uuid>/data/`` holding ``feature-table.biom`` (FeatureTable),
``taxonomy.tsv`` (FeatureData[Taxonomy]) or ``tree.nwk`` (Phylogeny).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from gutskin.microbiome.formats.common import TableError

__all__ = ["MAX_ARCHIVE_BYTES", "MAX_COMPRESSION_RATIO", "MAX_MEMBER_BYTES"]


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
