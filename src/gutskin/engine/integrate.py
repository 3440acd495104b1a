"""Batched integration of a model spec: the engine's public entry point.

Every patient has its own parameter vector, input schedule and adaptive step
size; patients are spread over threads by numba and never stepped in
lockstep.  Outputs are stored only at the requested times.

Two paths: the default lands a step on every output time (one patient per
thread at a time); ``dense=True`` steps over output times and interpolates,
and (``simd``, on by default with ``dense``) integrates 8 patients per core in
SIMD lanes, each still with its own steps.  The generated right-hand side
computes parameter-only subexpressions once per patient and input-only ones
once per input segment (see :mod:`gutskin.engine.codegen`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from gutskin.engine.codegen import load_kernel
from gutskin.engine.schedule import Schedule
from gutskin.engine.spec import ModelSpec

__all__ = ["METHODS", "BatchResult", "EngineError", "Status", "integrate"]

Method = Literal["dopri5", "rosenbrock", "auto"]
METHODS: dict[str, int] = {"dopri5": 0, "rosenbrock": 1, "auto": 2}


class EngineError(ValueError):
    """Invalid arguments to the engine; the message names the argument."""


class Status(IntEnum):
    """Per-patient solver outcome."""

    OK = 0
    MAX_STEPS = 1
    NONFINITE = 2
    STEP_UNDERFLOW = 3
    STIFF = 4  # only internal to auto mode; never reported after a fallback


@dataclass(frozen=True)
class BatchResult:
    """Solution of a batch.

    Attributes
    ----------
    t : (T,) output times.
    y : (N, T, S) states; rows of failed patients are NaN after the failure.
    observables : (N, T, A) assignment values at the output times.
    status : (N,) :class:`Status` codes.
    n_accepted, n_rejected, n_rhs, n_jac : (N,) work counters.
    method_used : (N,) 0 = DOPRI5, 1 = Rosenbrock.
    """

    t: NDArray[np.float64]
    y: NDArray[np.float64]
    observables: NDArray[np.float64]
    status: NDArray[np.int64]
    n_accepted: NDArray[np.int64]
    n_rejected: NDArray[np.int64]
    n_rhs: NDArray[np.int64]
    n_jac: NDArray[np.int64]
    method_used: NDArray[np.int64]

    @property
    def ok(self) -> NDArray[np.bool_]:
        return self.status == Status.OK

    def failures(self) -> dict[str, int]:
        """Count of patients per non-OK status name."""
        out: dict[str, int] = {}
        for code in np.unique(self.status):
            if code != Status.OK:
                out[Status(int(code)).name] = int(np.sum(self.status == code))
        return out


def _as_2d(name: str, a: ArrayLike, n_cols: int) -> NDArray[np.float64]:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n_cols:
        raise EngineError(f"{name}: expected shape (N, {n_cols}), got {np.shape(a)}")
    return np.ascontiguousarray(arr)


def integrate(
    spec: ModelSpec,
    y0: ArrayLike,
    params: ArrayLike,
    t_eval: ArrayLike,
    schedule: Schedule | None = None,
    *,
    method: Method = "auto",
    rtol: float = 1e-6,
    atol: float = 1e-8,
    max_steps: int = 200_000,
    first_step: float = 0.0,
    chunk_size: int = 4096,
    n_threads: int | None = None,
    progress: Callable[[int], None] | None = None,
    dense: bool = False,
    observables: bool = True,
    simd: bool | None = None,
) -> BatchResult:
    """Integrate a batch of patients of ``spec``.

    Parameters
    ----------
    spec : ModelSpec
        The model; compiled (and cached on disk) on first use.
    y0 : array (N, S) or (S,)
        Initial states in ``spec.state_names`` order.
    params : array (N, P) or (P,)
        Parameter vectors in ``spec.parameter_names`` order (broadcast if 1-D).
    t_eval : array (T,)
        Strictly increasing output times; integration starts at ``t_eval[0]``.
    schedule : Schedule, optional
        Piecewise-constant inputs (default: every input at its default), plus the
        features of the model's smooth inputs where it has any (default: zero, i.e. each
        smooth input is its piecewise-constant value alone).
    method : {"auto", "dopri5", "rosenbrock"}
        ``dopri5``: explicit Dormand–Prince 5(4); ``rosenbrock``: linearly
        implicit Rodas4-class method for stiff models; ``auto``: DOPRI5 with
        Hairer's stiffness test, re-solving a patient with the Rosenbrock
        method when it detects stiffness or exhausts ``max_steps``.
    rtol, atol : float
        Relative and absolute tolerances of the local error test.
    max_steps : int
        Step budget per patient (status ``MAX_STEPS`` when exceeded).
    first_step : float
        Initial step (0 = automatic, Hairer's heuristic).
    chunk_size : int
        Patients per compiled call; results do not depend on it.
    n_threads : int, optional
        Threads (default: numba's default, all cores).
    progress : callable, optional
        Called with the number of patients finished after each chunk.
    dense : bool
        DOPRI5 only: step over the output times and take the outputs from the
        solver's order-4 continuous extension (Hairer's dense output) instead of
        shortening steps to land on every output time.  Far fewer steps with
        daily output; differences to the default are of the order of the
        tolerances.  Steps still stop exactly at the last output time and at
        every breakpoint where an input changes.  The Rosenbrock method always
        lands on the output times.  Several times faster with daily output (with
        ``simd``; see benchmarks/README.md), but the default stays False: results with
        the default are reproduced bit for bit by the streaming runner's
        ``--no-dense`` and relied on by the callers that take the default.
    observables : bool
        Evaluate the model's assignments at the output times (default).  With
        False, ``observables`` of the result has shape (N, T, 0).
    simd : bool, optional
        With ``dense``, integrate DOPRI5 patients side by side in SIMD lanes
        (8 per core; each keeps its own adaptive step, input segments and
        outputs; lanes are refilled as patients finish); in auto mode the patients
        found stiff are re-solved with the Rosenbrock method in SIMD lanes too, and
        with ``method="rosenbrock"`` every patient is (its steps still land on the
        output times).  Default: on whenever
        ``dense`` is and the method is not ``rosenbrock``.  Its right-hand side
        uses vectorisable exp/log/pow (<= 1 ulp from libm) and may fuse
        multiply-adds, so results differ
        from ``simd=False`` at round-off level, which the adaptive steps can
        amplify to the order of the tolerances.  Results never depend on chunking
        or threads.

    Returns
    -------
    BatchResult
    """
    if method not in METHODS:
        raise EngineError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    if not (rtol > 0 and atol > 0):
        raise EngineError(f"rtol and atol must be > 0, got rtol={rtol}, atol={atol}")
    if chunk_size < 1:
        raise EngineError(f"chunk_size must be >= 1, got {chunk_size}")
    if max_steps < 1:
        raise EngineError(f"max_steps must be >= 1, got {max_steps}")
    if simd is None:
        simd = bool(dense) and method != "rosenbrock"
    if simd and not dense:
        raise EngineError("simd=True needs dense=True (the lane solver always uses dense output)")
    n_s, n_p, n_i = len(spec.states), len(spec.parameters), len(spec.inputs)
    y0a = _as_2d("y0", y0, n_s)
    pa = _as_2d("params", params, n_p)
    n = max(y0a.shape[0], pa.shape[0])
    if y0a.shape[0] not in (1, n) or pa.shape[0] not in (1, n):
        raise EngineError(f"y0 has {y0a.shape[0]} rows and params {pa.shape[0]}; they must match")
    # Every array handed to the kernel is a writable C-contiguous float64 copy: numba
    # compiles a separate specialisation for read-only (broadcast) or strided arrays.
    y0a = np.broadcast_to(y0a, (n, n_s)).copy()
    pa = np.broadcast_to(pa, (n, n_p)).copy()
    te = np.array(t_eval, dtype=np.float64)
    if te.ndim != 1 or te.size < 1 or not np.all(np.isfinite(te)):
        raise EngineError("t_eval must be a 1-D array of finite times")
    if te.size > 1 and not np.all(np.diff(te) > 0):
        raise EngineError("t_eval must be strictly increasing")
    if schedule is None:
        defaults = np.array([u.default for u in spec.inputs], dtype=np.float64)
        schedule = Schedule(
            times=np.array([te[0], np.inf]),
            values=np.broadcast_to(defaults, (n, 1, n_i)).copy(),
        )
    if schedule.values.shape[0] != n or schedule.values.shape[2] != n_i:
        raise EngineError(f"schedule has shape {schedule.values.shape}; expected ({n}, K, {n_i})")
    if schedule.times[0] > te[0]:
        raise EngineError("schedule must start at or before t_eval[0]")
    if spec.n_features:
        # kernel parameters: the table's, then each patient's smooth-input features
        # (zero features: the smooth inputs are their piecewise-constant values alone)
        feats = np.zeros((n, spec.n_features))
        if schedule.features is not None:
            if schedule.features.shape != (n, spec.n_features):
                raise EngineError(
                    f"schedule features have shape {schedule.features.shape}; expected "
                    f"({n}, {spec.n_features}) for the smooth inputs "
                    f"{sorted(spec.smooth_inputs)}"
                )
            feats = np.asarray(schedule.features, dtype=np.float64)
            if not np.all(np.isfinite(feats)):
                raise EngineError("schedule features must be finite")
        pa = np.ascontiguousarray(np.concatenate([pa, feats], axis=1))
    elif schedule.features is not None and schedule.features.shape[1]:
        raise EngineError(
            f"schedule carries smooth-input features but model {spec.name!r} has no smooth inputs"
        )

    kernel = load_kernel(spec)
    if n_threads is not None:
        numba.set_num_threads(
            max(1, min(int(n_threads), int(getattr(numba.config, "NUMBA_NUM_THREADS", 1))))
        )
    n_t = te.size
    # Uninitialised: the kernels write every entry (NaN after a patient's failure), in
    # parallel and chunk by chunk, so the pages are first touched by the threads that
    # fill them instead of by a serial np.full here.
    y_out = np.empty((n, n_t, n_s))
    obs = np.empty((n, n_t, len(spec.assignments) if observables else 0))
    status = np.zeros(n, dtype=np.int64)
    stats = np.zeros((n, 5), dtype=np.int64)
    seg_times = np.ascontiguousarray(schedule.times, dtype=np.float64)
    seg_t_all = np.broadcast_to(seg_times, (min(n, chunk_size), seg_times.size)).copy()
    values = schedule.values
    if not (values.dtype == np.float64 and values.flags.c_contiguous and values.flags.writeable):
        values = np.array(values, dtype=np.float64, order="C")
    controls = (float(rtol), float(atol), int(max_steps), float(first_step))
    for start in range(0, n, chunk_size):
        stop = min(n, start + chunk_size)
        m = stop - start
        seg_t = seg_t_all[:m]
        seg_u = values[start:stop]  # a C-contiguous view, not a copy
        # The two kernels take the same arguments but for the lane count (SIMD) and
        # ``dense`` (the scalar kernel; the lane kernel always steps densely).
        inputs = (y0a[start:stop], pa[start:stop], seg_t, seg_u, te, *controls)
        outputs = (y_out[start:stop], status[start:stop], stats[start:stop])
        if simd:
            # tasks (lane groups) go to threads one at a time: their costs differ widely
            # (stiff patients), and a static split would leave one thread idle
            old_chunk = numba.get_parallel_chunksize()
            numba.set_parallel_chunksize(1)
            try:
                kernel.solve_batch_lanes(METHODS[method], int(kernel.LANES), *inputs, *outputs)
            finally:
                numba.set_parallel_chunksize(old_chunk)
        else:
            kernel.solve_batch(METHODS[method], *inputs, bool(dense), *outputs)
        if obs.shape[2]:
            kernel.observe_batch(
                y_out[start:stop], pa[start:stop], seg_t, seg_u, te, obs[start:stop]
            )
        if progress is not None:
            progress(stop)
    return BatchResult(
        t=te,
        y=y_out,
        observables=obs,
        status=status,
        n_accepted=stats[:, 0].copy(),
        n_rejected=stats[:, 1].copy(),
        n_rhs=stats[:, 2].copy(),
        n_jac=stats[:, 3].copy(),
        method_used=stats[:, 4].copy(),
    )


def state_index(spec: ModelSpec, names: Sequence[str]) -> list[int]:
    """Column indices of the named states."""
    return [spec.state_names.index(n) for n in names]
