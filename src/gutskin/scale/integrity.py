"""Integrity of a run's store: SHA-256 hashes, checks, repair and the resume gate.

A chunk's marker is written (atomically) only after all its arrays are stored,
so a run killed at any moment is completed by running it again with
``resume=True``: chunks with a marker are skipped, the others are (re)computed,
and since each chunk always writes the same values to the same Zarr chunks the
result equals that of an uninterrupted run.

Integrity: a marker records the SHA-256 of each Zarr chunk file its chunk wrote
(``None``: Zarr wrote no file because every value equals the fill value), and
``run.json`` records those of the store's metadata files.  :func:`verify` checks
them all; a resumed run recomputes every chunk whose marker or files do not match
(flipped bytes, a deleted or truncated file, an unreadable marker, a marker of an
older gutskin without hashes) and rewrites damaged metadata, and ``complete`` is
set in ``run.json`` only after a final check of the whole store passes.  Hashes
are of the files' bytes, so they need no Zarr codec, catch a deleted chunk (which
Zarr itself would silently read as the fill value) and can be checked without
decoding or importing the model.

The folder layout is described in :mod:`gutskin.scale.store`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gutskin.engine.spec import ModelSpec
from gutskin.engine.yamlio import read_text_bounded
from gutskin.io.outdir import write_file_atomic
from gutskin.scale.store import (
    CONFIG,
    MARKERS,
    STORE,
    RunConfig,
    ScaleError,
    _chunk_files,
    _init_store,
    _marker,
    _metadata_files,
    _read_run_json,
    _write_run_json,
)

__all__ = ["StoreCheck", "verify"]


@dataclass(frozen=True)
class StoreCheck:
    """Outcome of checking a run's store against its recorded hashes (:func:`verify`).

    Attributes
    ----------
    out : Path
        The output folder.
    chunks : int
        Chunks of the run.
    missing : tuple of int
        Chunks without a marker: not computed yet (an interrupted run).
    damaged : dict
        Chunk number -> what is wrong (a file changed or missing, a bad marker).
    metadata : tuple of str
        Damaged or missing store metadata files (paths in the store).
    """

    out: Path
    chunks: int
    missing: tuple[int, ...] = ()
    damaged: dict[int, str] = field(default_factory=dict)
    metadata: tuple[str, ...] = ()

    @property
    def intact(self) -> bool:
        """No damaged chunk and no damaged metadata (chunks may still be missing)."""
        return not self.damaged and not self.metadata

    @property
    def complete(self) -> bool:
        """Intact and every chunk computed."""
        return self.intact and not self.missing

    def describe(self) -> str:
        """One line: what is damaged or missing."""
        parts = []
        if self.metadata:
            parts.append(f"store metadata damaged ({', '.join(self.metadata[:5])})")
        if self.damaged:
            items = sorted(self.damaged.items())
            shown = "; ".join(f"chunk {c}: {why}" for c, why in items[:5])
            more = f"; and {len(items) - 5} more" if len(items) > 5 else ""
            parts.append(f"{len(items)} damaged chunk(s) ({shown}{more})")
        if self.missing:
            first = ", ".join(str(c) for c in self.missing[:10])
            more = ", ..." if len(self.missing) > 10 else ""
            parts.append(
                f"{len(self.missing)} of {self.chunks} chunk(s) not computed yet ({first}{more})"
            )
        return "; ".join(parts) or f"all {self.chunks} chunk(s) intact"


def _sha256(path: Path) -> str | None:
    """SHA-256 of a regular file's bytes; None if there is no such file.

    Only regular files are read: a link or any other kind of file in the store never
    matches a recorded hash (it is reported as damage and removed on resume).
    """
    h = hashlib.sha256()
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"unreadable ({exc.strerror or type(exc).__name__})"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except FileNotFoundError:
        return None
    except OSError as exc:  # a folder in its place, no permission: never a match
        return f"unreadable ({exc.strerror or type(exc).__name__})"
    return h.hexdigest()


def _hashes(store: Path, names: Sequence[str]) -> dict[str, str | None]:
    return {name: _sha256(store / name) for name in names}


_META_NAME = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


def _valid_meta(meta: Any) -> dict[str, str] | None:
    """The recorded metadata hashes if they are well formed, else None.

    Names must be plain relative paths inside the store (no ``..``, no absolute path,
    at most 8 parts and 200 characters) and hashes 64 hexadecimal digits; at most 10,000
    entries.  Anything else in ``run.json`` is not trusted.
    """
    if not isinstance(meta, dict) or not 0 < len(meta) <= 10_000:
        return None
    for name, digest in meta.items():
        if not (
            isinstance(name, str)
            and len(name) <= 200
            and _META_NAME.fullmatch(name)
            and ".." not in name.split("/")
            and "." not in name.split("/")
            and name.count("/") < 8
            and isinstance(digest, str)
            and re.fullmatch(r"[0-9a-f]{64}", digest)
        ):
            return None
    return meta


def _remove_links(root: Path) -> list[str]:
    """Remove every link and non-regular file in the store and the marker folder.

    Links are removed, never followed, so nothing outside the run folder is read or
    written; what they stood for is then missing and recomputed like any damage.
    Returns the removed paths, relative to ``root``.
    """
    removed: list[str] = []
    for sub in (STORE, MARKERS):
        top = root / sub
        if top.is_symlink():
            raise ScaleError(
                f"out {root}: {sub} is a symbolic link; gutskin does not write through links "
                "(replace it by the real folder, or start a new run)"
            )
        if not top.is_dir():
            continue
        for dirpath, dirs, files in os.walk(top):
            d = Path(dirpath)
            for name in [*dirs, *files]:
                p = d / name
                st = os.lstat(p)
                if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
                    continue
                p.unlink()
                removed.append(p.relative_to(root).as_posix())
            dirs[:] = [n for n in dirs if not (d / n).is_symlink() and (d / n).exists()]
    return sorted(removed)


def _check_chunk(store: Path, cfg: RunConfig, chunk: int, marker: Path) -> str | None:
    """What is wrong with a finished chunk (None: its marker and files match)."""
    try:
        rec = json.loads(read_text_bounded(marker, 1_000_000, "chunk marker"))
    except (OSError, ValueError) as exc:
        return f"marker unreadable ({type(exc).__name__})"
    start, stop = cfg.bounds(chunk)
    if not isinstance(rec, dict) or (rec.get("start"), rec.get("stop")) != (start, stop):
        return "marker does not fit the run"
    if not isinstance(rec.get("failures"), dict):
        return "marker does not fit the run"
    recorded = rec.get("sha256")
    expected = _chunk_files(cfg, chunk)
    if not isinstance(recorded, dict) or sorted(recorded) != sorted(expected):
        return "marker has no content hashes (written by an older gutskin)"
    for name in expected:
        actual = _sha256(store / name)
        if actual != recorded[name]:
            what = "missing" if actual is None else "changed"
            if recorded[name] is None:
                what = "present but should be empty"
            return f"{STORE}/{name} {what}"
    return None


def _check(root: Path, cfg: RunConfig, recorded_meta: Any) -> StoreCheck:
    store = root / STORE
    missing: list[int] = []
    damaged: dict[int, str] = {}
    for c in range(cfg.n_chunks):
        marker = _marker(root, c)
        if not marker.is_file():
            missing.append(c)
            continue
        why = _check_chunk(store, cfg, c, marker)
        if why is not None:
            damaged[c] = why
    bad_meta: list[str] = []
    meta = _valid_meta(recorded_meta)
    if meta is None:
        bad_meta.append(f"{CONFIG} store_sha256 (missing or malformed)")
    else:
        for name, digest in sorted(meta.items()):
            if _sha256(store / name) != digest:
                bad_meta.append(f"{STORE}/{name}")
    return StoreCheck(root, cfg.n_chunks, tuple(missing), damaged, tuple(bad_meta))


def verify(out: str | Path) -> StoreCheck:
    """Check every chunk and metadata file of the run in ``out`` against its SHA-256.

    Reads only ``run.json``, the markers and the store's files (no model, no Zarr
    decoding).  The store is usable when ``.complete``; ``run(..., resume=True)``
    with the run's settings recomputes what is damaged or missing.  Repairs
    nothing, but a store found damaged or unfinished gets ``"complete": false``
    in ``run.json``.

    Raises
    ------
    ScaleError
        If ``out`` holds no run or its ``run.json`` cannot be read.
    """
    root = Path(out).expanduser().resolve()
    data = _read_run_json(root)
    cfg = RunConfig.from_json(data["config"])
    if not (root / STORE).is_dir():
        raise ScaleError(f"out {root}: {STORE} is missing")
    check = _check(root, cfg, data.get("store_sha256"))
    if not check.complete and data.get("complete"):
        # the store must not go on saying it is complete
        _write_run_json(root, cfg, False, data.get("store_sha256"))
    return check


def _repair_metadata(root: Path, cfg: RunConfig, spec: ModelSpec, names: Sequence[str]) -> Any:
    """Rewrite damaged metadata files from a fresh store of the same settings.

    Every file of a fresh store that is among ``names``, or every one when the recorded
    hashes themselves are unusable, is written anew (atomically, never through a link,
    only inside the store).  Returns the metadata hashes to record (those of the
    rebuilt store).
    """
    with tempfile.TemporaryDirectory(dir=root, prefix=".rebuild-") as tmp:
        fresh = Path(tmp) / "fresh"
        fresh.mkdir()
        _init_store(fresh, cfg, spec)
        files = _metadata_files(fresh / STORE)
        wanted = {n.removeprefix(f"{STORE}/") for n in names}
        everything = any(n.startswith(CONFIG) for n in names)
        for rel in files:
            if not everything and rel not in wanted:
                continue
            target = root / STORE / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            write_file_atomic(target, (fresh / STORE / rel).read_bytes())
        return _hashes(fresh / STORE, files)


def _prepare_folder(out: Path, cfg: RunConfig, spec: ModelSpec, resume: bool) -> bool:
    """Create or check the output folder; return True if an existing run is resumed."""
    config_path = out / CONFIG
    if out.exists() and not out.is_dir():
        raise ScaleError(f"out {out}: exists and is not a folder")
    if config_path.is_file():
        if not resume:
            raise ScaleError(
                f"out {out}: holds a run already; resume it (--resume) or choose another folder"
            )
        try:
            old = RunConfig.from_json(
                json.loads(read_text_bounded(config_path, 50_000_000, CONFIG))["config"]
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ScaleError(f"out {out}: cannot read {CONFIG}: {exc}") from None
        diff = old.differences(cfg)
        if diff:
            raise ScaleError(
                f"out {out}: the run there has different settings ({', '.join(diff)}); "
                "resume with the same settings or choose another folder"
            )
        if not (out / STORE).is_dir():
            raise ScaleError(f"out {out}: {STORE} is missing; cannot resume")
        return True
    if out.exists() and any(out.iterdir()):
        raise ScaleError(f"out {out}: folder is not empty and holds no gutskin run")
    try:
        (out / MARKERS).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScaleError(f"out {out}: cannot create folder: {exc.strerror}") from None
    _init_store(out, cfg, spec)
    meta = _hashes(out / STORE, _metadata_files(out / STORE))
    # run.json last: a folder without it is not a run and may be started afresh
    _write_run_json(out, cfg, False, meta)
    return False
