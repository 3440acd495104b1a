"""The output folder of a streaming run: its layout, settings and Zarr store.

Layout of an output folder ``DIR``::

    DIR/run.json              settings of the run (checked on resume)
    DIR/trajectories.zarr     xarray-readable store, patient x time per variable,
                              ``status`` and ``n_steps`` per patient (and
                              ``parameters``, patient x parameter, if asked)
    DIR/chunks/NNNNNNN.json   one marker per finished chunk (patients, failures, s,
                              SHA-256 of every Zarr chunk file it wrote)
    DIR/provenance.json       written when every chunk is done

:class:`RunConfig` is everything that determines the numbers a run writes (``run.json``,
read back without trusting it); :func:`_init_store` creates the empty Zarr store that
the chunks of :func:`gutskin.scale.runner.run_chunk` fill.  Files are written
atomically (:func:`gutskin.io.outdir.write_file_atomic`).  The hashes that guard the
store are in :mod:`gutskin.scale.integrity`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from gutskin._version import __version__
from gutskin.engine.integrate import Status
from gutskin.engine.spec import ModelSpec
from gutskin.engine.yamlio import read_text_bounded
from gutskin.io.outdir import write_file_atomic

__all__ = [
    "CONFIG",
    "MARKERS",
    "MAX_CHUNKS",
    "MAX_PATIENTS",
    "STORE",
    "RunConfig",
    "ScaleError",
]

#: Most patients of one run (patient numbers, markers and the store stay manageable).
MAX_PATIENTS = 10**9
#: Most chunks of one run (one marker file each): raise ``chunk_size`` for more patients.
MAX_CHUNKS = 10**6

STORE = "trajectories.zarr"
MARKERS = "chunks"
CONFIG = "run.json"


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


def _marker(out: Path, chunk: int) -> Path:
    return out / MARKERS / f"{chunk:07d}.json"


def _chunk_files(cfg: RunConfig, chunk: int) -> list[str]:
    """Paths, in the store, of the Zarr chunk files that chunk ``chunk`` writes."""
    two_d = [*cfg.variables, *(["parameters"] if cfg.parameters else [])]
    one_d = ["status", "n_steps", "patient"]
    return [f"{v}/c/{chunk}/0" for v in two_d] + [f"{v}/c/{chunk}" for v in one_d]


def _metadata_files(store: Path) -> list[str]:
    """Files of a freshly initialised store (metadata, ``time`` and ``parameter``)."""
    return sorted(str(f.relative_to(store)) for f in store.rglob("*") if f.is_file())


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


def _write_run_json(root: Path, cfg: RunConfig, complete: bool, meta: Any) -> None:
    data: dict[str, Any] = {"config": cfg.to_json(), "complete": complete}
    if meta is not None:
        data["store_sha256"] = meta
    _write_atomic(root / CONFIG, json.dumps(data, indent=2))


def _write_atomic(path: Path, text: str) -> None:
    write_file_atomic(path, text)


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
