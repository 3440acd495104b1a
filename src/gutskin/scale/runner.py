"""Streaming, resumable runs of very many virtual patients.

A run splits patients ``0 .. N-1`` into chunks of ``chunk_size``.  Each chunk is
simulated exactly as :func:`gutskin.simulation.simulate` would simulate those
patients (every random draw of patient ``i`` comes from its own stream, so a
patient's result does not depend on the chunk it lands in or on the worker that
runs it) and written into one Zarr store as soon as it finishes; only the chosen
output times (visit days or every day) and variables are kept.  Memory is bounded
by the chunk size, never by N.

Layout of an output folder ``DIR``::

    DIR/run.json              settings of the run (checked on resume)
    DIR/trajectories.zarr     xarray-readable store, patient x time per variable,
                              ``status`` and ``n_steps`` per patient (and
                              ``parameters``, patient x parameter, if asked)
    DIR/chunks/NNNNNNN.json   one marker per finished chunk (patients, failures, s,
                              SHA-256 of every Zarr chunk file it wrote)
    DIR/provenance.json       written when every chunk is done

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

Chunks run in this process (numba threads over the patients of a chunk) or, with
``scheduler="dask"``, as tasks on a Dask cluster (a local one with ``workers``
processes, or an existing one at ``address``); every worker writes its chunks
into the store directly, so ``DIR`` must be on a file system all workers see.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from gutskin._version import __version__
from gutskin.engine.integrate import METHODS, BatchResult, Method, Status
from gutskin.engine.options import SolverOptions
from gutskin.engine.schedule import ScheduleError
from gutskin.engine.spec import ModelSpec
from gutskin.engine.workers import DASK_CONNECT_TIMEOUT
from gutskin.engine.yamlio import read_text_bounded
from gutskin.io.outdir import write_file_atomic
from gutskin.scenario import Scenario, ScenarioError, get_scenario

__all__ = [
    "MAX_CHUNKS",
    "MAX_PATIENTS",
    "VISIT_DAYS",
    "RunConfig",
    "RunSummary",
    "ScaleError",
    "StoreCheck",
    "output_times",
    "run",
    "simulate_chunk",
    "verify",
]

#: Most patients of one run (patient numbers, markers and the store stay manageable).
MAX_PATIENTS = 10**9
#: Most chunks of one run (one marker file each): raise ``chunk_size`` for more patients.
MAX_CHUNKS = 10**6

#: Default visit days (weeks 0, 2, 4, 8, 12) kept with ``outputs="visits"``.
VISIT_DAYS: tuple[float, ...] = (0.0, 14.0, 28.0, 56.0, 84.0)

STORE = "trajectories.zarr"
MARKERS = "chunks"
CONFIG = "run.json"

Scheduler = Literal["inprocess", "dask"]


class ScaleError(ValueError):
    """Invalid arguments to a streaming run, or an output folder that does not fit them."""


# ----------------------------------------------------------------- settings
def number_of(t: Any) -> float:
    """A finite number from run.json (``ValueError`` otherwise)."""
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        raise ValueError(f"config.times: {t!r} is not a finite number")
    return float(t)


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines the numbers a run writes (stored as ``run.json``).

    Attributes
    ----------
    scenario : dict
        The resolved :class:`~gutskin.scenario.Scenario` (``model_dump()``).
    patients, days, seed, chunk_size
        Number of patients, duration (days), run seed, patients per chunk.
    times : tuple of float
        Output times (days).
    variables : tuple of str
        Stored states and observables.
    parameters : bool
        Whether patient parameters are stored.
    method, rtol, atol, dense
        Engine settings (:func:`gutskin.engine.integrate`).
    model_hash : str
        Structure hash of the model spec (changes when its equations change).
    """

    scenario: dict[str, Any]
    patients: int
    days: float
    seed: int
    chunk_size: int
    times: tuple[float, ...]
    variables: tuple[str, ...]
    parameters: bool
    method: str
    rtol: float
    atol: float
    dense: bool
    model_hash: str
    gutskin_version: str = field(default=__version__, compare=False)

    @property
    def n_chunks(self) -> int:
        return math.ceil(self.patients / self.chunk_size)

    def bounds(self, chunk: int) -> tuple[int, int]:
        """Patients ``[start, stop)`` of ``chunk``."""
        start = chunk * self.chunk_size
        return start, min(self.patients, start + self.chunk_size)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["times"] = list(self.times)
        d["variables"] = list(self.variables)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RunConfig:
        """Read ``run.json``'s ``config``, refusing wrong types and out-of-range values.

        A store's metadata is never trusted: every field is checked against its type and
        the documented bounds (:data:`MAX_PATIENTS`, :data:`MAX_CHUNKS`, at most 3,650
        days and 100,000 output times), so a forged ``run.json`` cannot make ``--verify``
        or ``--resume`` loop for ever or crash.
        """
        if not isinstance(d, dict):
            raise TypeError("config is not a JSON object")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        missing = sorted(names - set(d) - {"gutskin_version"})
        if unknown or missing:
            raise ValueError(f"config fields: unknown {unknown}, missing {missing}")

        def whole(key: str, lo: int, hi: int) -> int:
            v = d[key]
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"config.{key} must be an integer in {lo}..{hi}, got {v!r}")
            return v

        def number(key: str, lo: float, hi: float) -> float:
            v = d[key]
            if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
                raise ValueError(f"config.{key} must be a number in [{lo:g}, {hi:g}], got {v!r}")
            return float(v)

        patients = whole("patients", 1, MAX_PATIENTS)
        chunk = whole("chunk_size", 1, MAX_PATIENTS)
        if math.ceil(patients / chunk) > MAX_CHUNKS:
            raise ValueError(f"config: more than {MAX_CHUNKS} chunks")
        times = d["times"]
        if not isinstance(times, list) or not 1 <= len(times) <= 100_000:
            raise ValueError("config.times must be a list of 1 to 100000 numbers")
        variables = d["variables"]
        if (
            not isinstance(variables, list)
            or not 1 <= len(variables) <= 1000
            or not all(isinstance(v, str) and len(v) <= 100 for v in variables)
        ):
            raise ValueError("config.variables must be a list of 1 to 1000 names")
        for key, kind in (("scenario", dict), ("parameters", bool), ("dense", bool)):
            if not isinstance(d[key], kind):
                raise ValueError(f"config.{key} must be a {kind.__name__}")
        for key in ("method", "model_hash"):
            if not isinstance(d[key], str) or len(d[key]) > 200:
                raise ValueError(f"config.{key} must be a short text")
        return cls(
            scenario=d["scenario"],
            patients=patients,
            days=number("days", 1e-9, 3650.0),
            seed=whole("seed", 0, 2**64 - 1),
            chunk_size=chunk,
            times=tuple(number_of(t) for t in times),
            variables=tuple(variables),
            parameters=d["parameters"],
            method=d["method"],
            rtol=number("rtol", 1e-16, 1.0),
            atol=number("atol", 1e-300, 1.0),
            dense=d["dense"],
            model_hash=d["model_hash"],
        )

    def differences(self, other: RunConfig) -> list[str]:
        """Names of the settings in which two configurations differ."""
        a, b = self.to_json(), other.to_json()
        return [k for k in a if k != "gutskin_version" and a[k] != b.get(k)]


@dataclass(frozen=True)
class RunSummary:
    """Outcome of :func:`run`.

    Attributes
    ----------
    out : Path
        The output folder; the results are in ``out / "trajectories.zarr"``
        (``xarray.open_zarr(path, consolidated=False)``).
    patients, chunks : int
        Patients and chunks of the run.
    chunks_run, chunks_skipped : int
        Chunks computed by this call, and chunks found finished (resume).
    chunks_repaired : int
        Of ``chunks_run``: chunks found finished but damaged, recomputed (resume).
    elapsed_s : float
        Wall time of this call.
    failures : dict
        Patients per non-OK solver status over the whole run.
    """

    out: Path
    patients: int
    chunks: int
    chunks_run: int
    chunks_skipped: int
    elapsed_s: float
    failures: dict[str, int]
    chunks_repaired: int = 0

    @property
    def store(self) -> Path:
        return self.out / STORE


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


def output_times(outputs: str | Sequence[float], days: float) -> tuple[float, ...]:
    """Output times for ``outputs`` = ``"visits"``, ``"daily"`` or explicit days.

    Visits are :data:`VISIT_DAYS` up to ``days``; ``days`` itself is always
    included, as is day 0.
    """
    if isinstance(outputs, str):
        key = outputs.strip().lower()
        if key == "daily":
            t = np.arange(0.0, days + 1e-9, 1.0)
            if t[-1] < days:
                t = np.append(t, days)
            return tuple(float(x) for x in t)
        if key == "visits":
            chosen = [float(d) for d in VISIT_DAYS if d < days]
        else:
            try:
                chosen = [float(x) for x in key.split(",") if x.strip()]
            except ValueError:
                raise ScaleError(
                    f"outputs must be 'visits', 'daily' or a comma-separated list of days, "
                    f"got {outputs!r}"
                ) from None
    else:
        chosen = [float(x) for x in outputs]
    if any(not math.isfinite(d) or d < 0 or d > days for d in chosen):
        raise ScaleError(f"output days must lie in [0, {days:g}], got {chosen}")
    if isinstance(outputs, str) and outputs.strip().lower() == "visits":
        chosen.append(float(days))
    out = sorted({0.0, *chosen})
    return tuple(out)


# --------------------------------------------------------------- one chunk
def _model(sc: Scenario) -> ModelSpec:
    from gutskin.simulation import get_model

    return get_model(sc.model)


def simulate_chunk(
    sc: Scenario,
    spec: ModelSpec,
    indices: NDArray[np.int64],
    *,
    seed: int,
    days: float,
    t_eval: NDArray[np.float64],
    method: Method = "auto",
    rtol: float = 1e-6,
    atol: float = 1e-8,
    dense: bool = True,
    observables: bool = True,
    n_threads: int | None = None,
) -> tuple[NDArray[np.float64], BatchResult]:
    """Simulate patients ``indices`` of a run as :func:`gutskin.simulation.simulate` does.

    Parameters are sampled, the schedule built, the burn-in run and the trial
    period integrated with the same per-patient random streams, so with
    ``dense=False`` the outputs equal those of ``simulate`` for the same seed.

    Returns
    -------
    params : ndarray (n, P)
        Patient parameters (with intervention overrides).
    result : BatchResult
        States (and observables) at ``t_eval``.
    """
    from gutskin.population import pipeline
    from gutskin.simulation import scenario_treatment

    idx = np.asarray(indices, dtype=np.int64)
    solver = SolverOptions(method=method, rtol=rtol, atol=atol, dense=dense)
    try:
        tr = scenario_treatment(spec, sc, float(days))
    except ScenarioError as exc:
        raise ScaleError(str(exc)) from None
    params = tr.apply(spec.parameter_names, pipeline.patient_parameters(spec, idx, seed))
    y0 = pipeline.initial_states(spec, params)
    status = np.zeros(idx.size, dtype=np.int64)
    if sc.burn_in_days > 0:
        burn, params = pipeline.burn_in(
            spec, params, idx, seed, float(sc.burn_in_days), solver=solver,
            observables=False, n_threads=n_threads,
        )  # fmt: skip
        y0 = np.where(burn.ok[:, None], burn.y[:, -1, :], y0)
        status = burn.status
    try:
        res = pipeline.treat(
            spec, y0, params, idx, seed, t_eval, treatment=tr, solver=solver,
            observables=observables, n_threads=n_threads,
        )  # fmt: skip
    except ScheduleError as exc:
        raise ScaleError(f"scenario {sc.name!r}: {exc}") from None
    return params, pipeline.with_burn_in_status(res, status)


def _marker(out: Path, chunk: int) -> Path:
    return out / MARKERS / f"{chunk:07d}.json"


def _chunk_files(cfg: RunConfig, chunk: int) -> list[str]:
    """Paths, in the store, of the Zarr chunk files that chunk ``chunk`` writes."""
    two_d = [*cfg.variables, *(["parameters"] if cfg.parameters else [])]
    one_d = ["status", "n_steps", "patient"]
    return [f"{v}/c/{chunk}/0" for v in two_d] + [f"{v}/c/{chunk}" for v in one_d]


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


def _metadata_files(store: Path) -> list[str]:
    """Files of a freshly initialised store (metadata, ``time`` and ``parameter``)."""
    return sorted(str(f.relative_to(store)) for f in store.rglob("*") if f.is_file())


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


def _read_run_json(out: Path) -> dict[str, Any]:
    if not (out / CONFIG).exists() and not (out / CONFIG).is_symlink():
        raise ScaleError(f"out {out}: holds no gutskin run ({CONFIG} missing)")
    try:
        data = json.loads(read_text_bounded(out / CONFIG, 50_000_000, CONFIG))
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        RunConfig.from_json(data["config"])
    except FileNotFoundError:
        raise ScaleError(f"out {out}: holds no gutskin run ({CONFIG} missing)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScaleError(f"out {out}: cannot read {CONFIG}: {exc}") from None
    return data


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


def _write_run_json(root: Path, cfg: RunConfig, complete: bool, meta: Any) -> None:
    data: dict[str, Any] = {"config": cfg.to_json(), "complete": complete}
    if meta is not None:
        data["store_sha256"] = meta
    _write_atomic(root / CONFIG, json.dumps(data, indent=2))


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


def _write_atomic(path: Path, text: str) -> None:
    write_file_atomic(path, text)


def run_chunk(out: str, config: dict[str, Any], chunk: int, n_threads: int | None = None) -> dict:
    """Compute chunk ``chunk`` of the run in ``out`` and store it; return its marker record.

    A plain function of picklable arguments, so that Dask workers can run it.
    """
    import zarr

    cfg = RunConfig.from_json(config)
    sc = Scenario.model_validate(cfg.scenario)
    spec = _model(sc)
    start, stop = cfg.bounds(chunk)
    t0 = time.perf_counter()
    obs_names = set(spec.assignment_names)
    params, res = simulate_chunk(
        sc,
        spec,
        np.arange(start, stop),
        seed=cfg.seed,
        days=cfg.days,
        t_eval=np.asarray(cfg.times),
        method=cfg.method,  # type: ignore[arg-type]
        rtol=cfg.rtol,
        atol=cfg.atol,
        dense=cfg.dense,
        observables=any(v in obs_names for v in cfg.variables),
        n_threads=n_threads,
    )
    root = Path(out)
    group: Any = zarr.open_group(str(root / STORE), mode="r+")  # arrays by name
    for v in cfg.variables:
        if v in obs_names:
            data = res.observables[:, :, spec.assignment_names.index(v)]
        else:
            data = res.y[:, :, spec.state_names.index(v)]
        group[v][start:stop] = data
    group["status"][start:stop] = res.status.astype(np.int16)
    group["n_steps"][start:stop] = res.n_accepted.astype(np.int32)
    group["patient"][start:stop] = np.arange(start, stop, dtype=np.int64)
    if cfg.parameters:
        group["parameters"][start:stop] = params
    record = {
        "chunk": chunk,
        "start": start,
        "stop": stop,
        "failures": res.failures(),
        "seconds": round(time.perf_counter() - t0, 3),
        "sha256": _hashes(root / STORE, _chunk_files(cfg, chunk)),
    }
    _write_atomic(_marker(root, chunk), json.dumps(record))
    return record


# ------------------------------------------------------------------- store
def _init_store(out: Path, cfg: RunConfig, spec: ModelSpec) -> None:
    import zarr

    group = zarr.open_group(str(out / STORE), mode="w", zarr_format=3)
    group.attrs.update(
        {
            "gutskin_version": __version__,
            "model": spec.name,
            "model_version": spec.version,
            "scenario": cfg.scenario["name"],
            "seed": cfg.seed,
            "method": cfg.method,
            "rtol": cfg.rtol,
            "atol": cfg.atol,
            "dense_output": cfg.dense,
            "time_unit": spec.time_unit,
        }
    )
    n, cs, nt = cfg.patients, cfg.chunk_size, len(cfg.times)
    t = group.create_array(
        "time", shape=(nt,), chunks=(nt,), dtype="f8", dimension_names=["time"],
        attributes={"units": spec.time_unit},
    )  # fmt: skip
    t[:] = np.asarray(cfg.times)
    group.create_array(
        "patient", shape=(n,), chunks=(cs,), dtype="i8", fill_value=-1,
        dimension_names=["patient"],
    )  # fmt: skip
    info = {s.name: (s.unit, s.description, "state") for s in spec.states}
    info.update({a.name: (a.unit, a.description, "observable") for a in spec.assignments})
    for v in cfg.variables:
        unit, desc, kind = info[v]
        group.create_array(
            v, shape=(n, nt), chunks=(cs, nt), dtype="f8", fill_value=np.nan,
            dimension_names=["patient", "time"],
            attributes={"units": unit, "description": desc, "kind": kind},
        )  # fmt: skip
    group.create_array(
        "status", shape=(n,), chunks=(cs,), dtype="i2", fill_value=-1,
        dimension_names=["patient"],
        attributes={
            "description": "solver status per patient (-1: chunk not computed yet)",
            "flag_values": [s.value for s in Status],
            "flag_meanings": " ".join(s.name for s in Status),
        },
    )  # fmt: skip
    group.create_array(
        "n_steps", shape=(n,), chunks=(cs,), dtype="i4", fill_value=0,
        dimension_names=["patient"], attributes={"description": "accepted solver steps"},
    )  # fmt: skip
    if cfg.parameters:
        names = np.array(spec.parameter_names, dtype=str)
        pn = group.create_array(
            "parameter", shape=(names.size,), chunks=(names.size,), dtype=str,
            dimension_names=["parameter"],
        )  # fmt: skip
        pn[:] = names
        group.create_array(
            "parameters", shape=(n, names.size), chunks=(cs, names.size), dtype="f8",
            fill_value=np.nan, dimension_names=["patient", "parameter"],
            attributes={"description": "parameter values"},
        )  # fmt: skip


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


# --------------------------------------------------------------------- run


def _check_dask_address(address: str) -> None:
    """Refuse an unreachable Dask scheduler before anything is written."""
    from gutskin.engine.workers import check_dask_address

    try:
        check_dask_address(address)
    except ValueError as exc:
        raise ScaleError(str(exc)) from None


def _dask_chunks(
    out: Path,
    cfg: RunConfig,
    pending: list[int],
    workers: int | None,
    address: str | None,
    on_done: Callable[[dict], None],
) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - dask is a pinned dependency
        raise ScaleError("scheduler 'dask' needs the packages dask and distributed") from None
    if address:
        try:
            client = Client(address, timeout=DASK_CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise ScaleError(
                f"cannot reach the Dask scheduler at {address} ({type(exc).__name__}); "
                "check --address, or run without it for a local cluster"
            ) from None
        cluster = None
        n_threads = None  # each task uses all cores of its worker (start workers with --nthreads 1)
    else:
        cluster = LocalCluster(
            n_workers=workers or 1, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
        n_threads = 1
    try:
        futures = [
            client.submit(
                run_chunk,
                str(out),
                cfg.to_json(),
                c,
                n_threads,
                key=f"gutskin-chunk-{c}-{os.getpid()}-{time.time_ns()}",
                pure=False,
            )
            for c in pending
        ]
        for fut in as_completed(futures):
            on_done(fut.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run(
    scenario: Scenario | str,
    out: str | Path,
    *,
    patients: int,
    days: float = 84.0,
    seed: int = 0,
    chunk_size: int = 10_000,
    outputs: str | Sequence[float] = "visits",
    variables: Sequence[str] | None = None,
    parameters: bool = False,
    method: Method = "auto",
    rtol: float = 1e-6,
    atol: float = 1e-8,
    dense: bool = True,
    resume: bool = False,
    scheduler: Scheduler = "inprocess",
    workers: int | None = None,
    address: str | None = None,
    n_threads: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunSummary:
    """Simulate ``patients`` virtual patients chunk by chunk into a Zarr store in ``out``.

    Parameters
    ----------
    scenario : Scenario or str
        A scenario or the name of a built-in one.
    out : path
        Output folder (see the module docstring for its layout).  It must not
        exist, be empty, or (with ``resume``) hold a run with the same settings.
    patients : int
        Number of patients (1 to :data:`MAX_PATIENTS`); patient numbers are
        ``0 .. patients-1``.
    days : float
        Duration (days, > 0).
    seed : int
        Run seed; the same seed gives the same patients as ``simulate``.
    chunk_size : int
        Patients per chunk: the unit of work, of storage and of resumption.
        Peak memory grows with it, not with ``patients``.  At most
        :data:`MAX_CHUNKS` chunks per run.
    outputs : "visits", "daily" or sequence of float
        Stored output times: :data:`VISIT_DAYS` (and ``days``), every day, or
        the given days.
    variables : sequence of str, optional
        States and observables to store (default: all).
    parameters : bool
        Also store the patients' parameters (patient x parameter).
    method, rtol, atol
        Engine settings (:func:`gutskin.engine.integrate`).
    dense : bool
        DOPRI5 dense output between output times (default; see ``integrate``).
        With False the outputs equal those of :func:`gutskin.simulation.simulate`.
    resume : bool
        Complete an interrupted run in ``out``: every finished chunk is checked
        against its recorded SHA-256 hashes (:func:`verify`); chunks without a
        marker, and damaged ones, are computed (damaged metadata is rewritten).
        Without an existing run it starts one.
    scheduler : {"inprocess", "dask"}
        Run chunks here (numba threads over the patients of a chunk) or as Dask
        tasks.
    workers : int, optional
        Dask: worker processes of the local cluster started for the run
        (default 1; each runs one chunk at a time on one thread).
    address : str, optional
        Dask: address of an existing scheduler (e.g. ``tcp://host:8786``); its
        workers must see ``out`` and should run one thread each.
    n_threads : int, optional
        In-process: numba threads (default: all cores).
    progress : callable, optional
        Called with the number of finished patients after each chunk.

    Returns
    -------
    RunSummary

    Raises
    ------
    ScaleError
        Invalid arguments, an unknown variable, or an output folder that holds
        something else or a run with different settings.
    """
    t_start = time.perf_counter()
    from gutskin.io.provenance import now_iso, provenance_record, write_provenance

    started = now_iso()
    try:
        sc = get_scenario(scenario) if isinstance(scenario, str) else scenario
    except ScenarioError as exc:
        raise ScaleError(str(exc)) from None
    if isinstance(patients, bool) or not isinstance(patients, int | np.integer) or patients < 1:
        raise ScaleError(f"patients must be a positive integer, got {patients!r}")
    if not (isinstance(days, int | float) and math.isfinite(days) and days > 0):
        raise ScaleError(f"days must be a positive number, got {days!r}")
    if patients > MAX_PATIENTS:
        raise ScaleError(f"patients must be at most {MAX_PATIENTS:_} (10**9), got {patients:_}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ScaleError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if math.ceil(patients / chunk_size) > MAX_CHUNKS:
        raise ScaleError(
            f"{patients:_} patients in chunks of {chunk_size:_} make "
            f"{math.ceil(patients / chunk_size):_} chunks, more than {MAX_CHUNKS:_}; "
            f"use chunk_size >= {math.ceil(patients / MAX_CHUNKS):_}"
        )
    if method not in METHODS:
        raise ScaleError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    if not (rtol > 0 and atol > 0):
        raise ScaleError(f"rtol and atol must be > 0, got rtol={rtol}, atol={atol}")
    if scheduler not in ("inprocess", "dask"):
        raise ScaleError(f"scheduler must be 'inprocess' or 'dask', got {scheduler!r}")
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ScaleError(f"workers must be a positive integer, got {workers!r}")
    if (workers is not None or address) and scheduler != "dask":
        raise ScaleError("workers and address apply to scheduler 'dask' only")
    try:
        spec = _model(sc)
    except ScenarioError as exc:
        raise ScaleError(str(exc)) from None
    times = output_times(outputs, float(days))
    known = spec.state_names + spec.assignment_names
    chosen = tuple(known) if not variables else tuple(dict.fromkeys(variables))
    unknown = [v for v in chosen if v not in known]
    if unknown:
        raise ScaleError(
            f"unknown variable(s) {unknown}; model {spec.name!r} has states "
            f"{', '.join(spec.state_names)} and observables {', '.join(spec.assignment_names)}"
        )
    # check the scenario against the model once (cheap) before touching the folder
    _check_scenario(sc, spec, seed, float(days))
    cfg = RunConfig(
        scenario=sc.model_dump(mode="json"),
        patients=int(patients),
        days=float(days),
        seed=int(seed),
        chunk_size=int(chunk_size),
        times=times,
        variables=chosen,
        parameters=bool(parameters),
        method=str(method),
        rtol=float(rtol),
        atol=float(atol),
        dense=bool(dense),
        model_hash=spec.structure_hash(),
    )
    root = Path(out).expanduser().resolve()
    if scheduler == "dask" and address:
        _check_dask_address(address)
    resumed = _prepare_folder(root, cfg, spec, resume)
    links_removed = _remove_links(root) if resumed else []
    state = _read_run_json(root)
    meta = state.get("store_sha256")
    check = _check(root, cfg, meta)
    if not check.complete and state.get("complete"):
        # never leave "complete" on a store that is being repaired
        _write_run_json(root, cfg, False, meta)
    if check.metadata:
        meta = _repair_metadata(root, cfg, spec, check.metadata)
        _write_run_json(root, cfg, False, meta)
    for c in check.damaged:
        _marker(root, c).unlink()
    pending = sorted([*check.missing, *check.damaged])
    for c in pending:  # a chunk is written into fresh files, never into what is there
        for name in _chunk_files(cfg, c):
            (root / STORE / name).unlink(missing_ok=True)
    skipped = cfg.n_chunks - len(pending)
    done = cfg.patients - sum(cfg.bounds(c)[1] - cfg.bounds(c)[0] for c in pending)
    if progress is not None and done:
        progress(done)

    def on_done(record: dict) -> None:
        nonlocal done
        done += record["stop"] - record["start"]
        if progress is not None:
            progress(done)

    if pending:
        if scheduler == "dask":
            _dask_chunks(root, cfg, pending, workers, address, on_done)
        else:
            for c in pending:
                on_done(run_chunk(str(root), cfg.to_json(), c, n_threads))

    final = _check(root, cfg, meta)
    if not final.complete:
        raise ScaleError(
            f"out {root}: store damaged during the run: {final.describe()}; "
            "run the same command again with --resume"
        )
    failures: dict[str, int] = {}
    for c in range(cfg.n_chunks):
        rec = json.loads(_marker(root, c).read_text())
        for k, v in rec["failures"].items():
            failures[k] = failures.get(k, 0) + int(v)
    elapsed = time.perf_counter() - t_start
    write_provenance(
        root,
        provenance_record(
            seed=cfg.seed,
            started=started,
            extra={
                "run": cfg.to_json(),
                "scheduler": scheduler,
                "workers": workers,
                "resumed": resumed,
                "chunks_run": len(pending),
                "chunks_skipped": skipped,
                "chunks_repaired": len(check.damaged),
                "metadata_repaired": list(check.metadata),
                "links_removed": links_removed,
                "elapsed_s": round(elapsed, 3),
                "failures": failures,
            },
        ),
    )
    _write_run_json(root, cfg, True, meta)
    return RunSummary(
        out=root,
        patients=cfg.patients,
        chunks=cfg.n_chunks,
        chunks_run=len(pending),
        chunks_skipped=skipped,
        elapsed_s=elapsed,
        failures=failures,
        chunks_repaired=len(check.damaged),
    )


def _check_scenario(sc: Scenario, spec: ModelSpec, seed: int, days: float) -> None:
    """Raise :class:`ScaleError` if the scenario's schedule cannot be built for this model."""
    from gutskin.population import pipeline
    from gutskin.simulation import scenario_treatment

    try:
        tr = scenario_treatment(spec, sc, days)
        params = pipeline.patient_parameters(spec, [0], seed, nominal=True)
        pipeline.arm_schedule(spec, params, [0], seed, 0.0, days, treatment=tr, noise_from=None)
    except ScenarioError as exc:
        raise ScaleError(str(exc)) from None
    except (ScheduleError, ValueError) as exc:
        raise ScaleError(f"scenario {sc.name!r}: {exc}") from None
