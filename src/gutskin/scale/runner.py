"""Streaming, resumable runs of very many virtual patients.

A run splits patients ``0 .. N-1`` into chunks of ``chunk_size``.  Each chunk is
simulated exactly as :func:`gutskin.simulation.simulate` would simulate those
patients (every random draw of patient ``i`` comes from its own stream, so a
patient's result does not depend on the chunk it lands in or on the worker that
runs it) and written into one Zarr store as soon as it finishes; only the chosen
output times (visit days or every day) and variables are kept.  Memory is bounded
by the chunk size, never by N.

The output folder's layout and settings are in :mod:`gutskin.scale.store`; the
SHA-256 checks that make a resumed run repair a damaged store are in
:mod:`gutskin.scale.integrity`.

Chunks run in this process (numba threads over the patients of a chunk) or, with
``scheduler="dask"``, as tasks on a Dask cluster (a local one with ``workers``
processes, or an existing one at ``address``); every worker writes its chunks
into the store directly, so ``DIR`` must be on a file system all workers see.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from gutskin.engine.integrate import METHODS, BatchResult, Method
from gutskin.engine.options import SolverOptions
from gutskin.engine.schedule import ScheduleError
from gutskin.engine.spec import ModelSpec
from gutskin.scale.integrity import (
    _check,
    _hashes,
    _prepare_folder,
    _remove_links,
    _repair_metadata,
)
from gutskin.scale.store import (
    MAX_CHUNKS,
    MAX_PATIENTS,
    STORE,
    RunConfig,
    ScaleError,
    _chunk_files,
    _marker,
    _read_run_json,
    _write_atomic,
    _write_run_json,
)
from gutskin.scenario import Scenario, ScenarioError, get_scenario

__all__ = [
    "VISIT_DAYS",
    "RunSummary",
    "output_times",
    "run",
    "simulate_chunk",
]

#: Default visit days (weeks 0, 2, 4, 8, 12) kept with ``outputs="visits"``.
VISIT_DAYS: tuple[float, ...] = (0.0, 14.0, 28.0, 56.0, 84.0)

Scheduler = Literal["inprocess", "dask"]


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
    from contextlib import ExitStack

    from distributed import as_completed

    from gutskin.engine.workers import dask_client

    # each task of an existing cluster uses all cores of its worker (start workers with
    # --nthreads 1); a local cluster's workers are single-threaded
    n_threads = None if address else 1
    with ExitStack() as stack:
        try:
            client = stack.enter_context(dask_client(workers, address))
        except ValueError as exc:  # the scheduler cannot be reached
            raise ScaleError(str(exc)) from None
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
        Output folder (see :mod:`gutskin.scale.store` for its layout).  It must not
        exist, be empty, or (with ``resume``) hold a run with the same settings.
    patients : int
        Number of patients (1 to :data:`~gutskin.scale.store.MAX_PATIENTS`); patient numbers are
        ``0 .. patients-1``.
    days : float
        Duration (days, > 0).
    seed : int
        Run seed; the same seed gives the same patients as ``simulate``.
    chunk_size : int
        Patients per chunk: the unit of work, of storage and of resumption.
        Peak memory grows with it, not with ``patients``.  At most
        :data:`~gutskin.scale.store.MAX_CHUNKS` chunks per run.
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
        against its recorded SHA-256 hashes (:func:`~gutskin.scale.integrity.verify`);
        chunks without a marker, and damaged ones, are computed (damaged metadata is
        rewritten).  Without an existing run it starts one.
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
