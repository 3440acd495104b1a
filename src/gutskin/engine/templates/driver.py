# Batch driver: one adaptive solve per patient, patients spread over threads.
# The drivers release the GIL (nogil): other Python threads (a server, a
# pipeline) keep running while a batch integrates.
import numpy as np  # codegen: strip
from numba import njit, prange  # codegen: strip

from gutskin.engine.templates._stub import (  # codegen: strip
    LANES,  # codegen: strip
    N_Q,  # codegen: strip
    N_W,  # codegen: strip
    observe_fast,  # codegen: strip
    prepare_inputs,  # codegen: strip
    prepare_params,  # codegen: strip
)  # codegen: strip
from gutskin.engine.templates.common import (  # codegen: strip
    N_STATS,  # codegen: strip
    STATUS_MAX_STEPS,  # codegen: strip
    STATUS_STIFF,  # codegen: strip
    find_segment,  # codegen: strip
)  # codegen: strip
from gutskin.engine.templates.dopri5 import dopri5_solve  # codegen: strip
from gutskin.engine.templates.lanes import dopri5_lanes  # codegen: strip
from gutskin.engine.templates.rosenbrock import rosenbrock_solve  # codegen: strip
from gutskin.engine.templates.rosenbrock_lanes import rosenbrock_lanes  # codegen: strip

METHOD_DOPRI5 = 0
METHOD_ROSENBROCK = 1
METHOD_AUTO = 2

#: Patients per task of the SIMD-lane solver (lanes are refilled within a group).
LANE_GROUP = 32 * LANES
#: Patients per task of the SIMD-lane Rosenbrock solver: stiff patients are fewer and
#: dearer, so smaller tasks keep the threads evenly loaded.
ROSENBROCK_GROUP = 4 * LANES


@njit(parallel=True, cache=True, nogil=True)
def solve_batch(
    method, y0, P, seg_t, seg_u, t_eval, rtol, atol, max_steps, h_init, dense, y_out, status, stats
):
    """Solve every patient independently (own step sizes) across threads.

    ``y0`` (N, S), ``P`` (N, n_par), ``seg_t`` (N, K+1), ``seg_u`` (N, K, n_in),
    ``t_eval`` (T,); fills ``y_out`` (N, T, S; may come uninitialised: every entry is
    written, NaN after a failure), ``status`` (N,), ``stats`` (N, N_STATS).
    Parameter-only subexpressions are computed once per patient
    (``prepare_params``).  In auto mode a patient starts with DOPRI5 and is
    re-solved with the Rosenbrock method when stiffness is detected or the step
    budget runs out.  ``dense`` selects DOPRI5 dense output (see ``dopri5_solve``).
    """
    n_pat = y0.shape[0]
    for i in prange(n_pat):
        for s in range(N_STATS):
            stats[i, s] = 0
        y_out[i, :, :] = np.nan  # y_out comes uninitialised; failed patients keep NaN
        q = np.empty(N_Q)
        prepare_params(P[i], q)
        if method == METHOD_ROSENBROCK:
            st = rosenbrock_solve(
                y0[i], q, seg_t[i], seg_u[i], t_eval, rtol, atol, max_steps, h_init,
                y_out[i], stats[i],
            )  # fmt: skip
        else:
            st = dopri5_solve(
                y0[i], q, seg_t[i], seg_u[i], t_eval, rtol, atol, max_steps, h_init,
                method == METHOD_AUTO, dense, y_out[i], stats[i],
            )  # fmt: skip
            if method == METHOD_AUTO and (st == STATUS_STIFF or st == STATUS_MAX_STEPS):
                y_out[i, :, :] = np.nan
                st = rosenbrock_solve(
                    y0[i], q, seg_t[i], seg_u[i], t_eval, rtol, atol, max_steps, h_init,
                    y_out[i], stats[i],
                )  # fmt: skip
        status[i] = st


@njit(parallel=True, cache=True, nogil=True)
def solve_batch_lanes(
    method, lanes, y0, P, seg_t, seg_u, t_eval, rtol, atol, max_steps, h_init, y_out, status,
    stats,
):  # fmt: skip
    """As ``solve_batch``, patients side by side in SIMD lanes.

    Threads take groups of LANE_GROUP patients; within a group ``dopri5_lanes`` (DOPRI5,
    dense output) or ``rosenbrock_lanes`` (RODAS4, steps landing on the output times)
    keeps LANES patients in flight and refills a lane when its patient is done.
    ``lanes`` must equal LANES (passed at run time, see ``dopri5_lanes``).  In auto mode
    the patients found stiff (or out of steps) by DOPRI5 are then re-solved from the
    start with ``rosenbrock_lanes``, again side by side, in tasks of ROSENBROCK_GROUP
    (``integrate`` hands tasks to threads one at a time, so dear tasks do not pile up on
    one thread).  Compiled only when used.
    """
    n_pat = y0.shape[0]
    if method == METHOD_ROSENBROCK:
        _rosenbrock_groups(
            lanes, np.arange(n_pat), True, y0, P, seg_t, seg_u, t_eval, rtol, atol, max_steps,
            h_init, y_out, status, stats,
        )  # fmt: skip
        return
    n_groups = (n_pat + LANE_GROUP - 1) // LANE_GROUP
    for g in prange(n_groups):
        first = g * LANE_GROUP
        last = min(n_pat, first + LANE_GROUP)
        dopri5_lanes(
            lanes, first, last, y0, P, seg_t, seg_u, t_eval, rtol, atol, max_steps, h_init,
            method == METHOD_AUTO, y_out, status, stats,
        )  # fmt: skip
    if method == METHOD_AUTO:
        n_stiff = 0
        for i in range(n_pat):
            if status[i] == STATUS_STIFF or status[i] == STATUS_MAX_STEPS:
                n_stiff += 1
        if n_stiff > 0:
            stiff = np.empty(n_stiff, dtype=np.int64)
            k = 0
            for i in range(n_pat):
                if status[i] == STATUS_STIFF or status[i] == STATUS_MAX_STEPS:
                    stiff[k] = i
                    k += 1
            _rosenbrock_groups(
                lanes, stiff, False, y0, P, seg_t, seg_u, t_eval, rtol, atol, max_steps,
                h_init, y_out, status, stats,
            )  # fmt: skip


@njit(parallel=True, cache=True, nogil=True)
def _rosenbrock_groups(lanes, patients, reset, y0, P, seg_t, seg_u, t_eval, rtol, atol,
                       max_steps, h_init, y_out, status, stats):  # fmt: skip
    """``rosenbrock_lanes`` on the listed patients, in tasks of ROSENBROCK_GROUP across
    threads (the rows of a re-solved patient are cleared to NaN first)."""
    n = patients.shape[0]
    n_groups = (n + ROSENBROCK_GROUP - 1) // ROSENBROCK_GROUP
    for g in prange(n_groups):
        first = g * ROSENBROCK_GROUP
        last = min(n, first + ROSENBROCK_GROUP)
        for i in range(first, last):
            y_out[patients[i], :, :] = np.nan
        rosenbrock_lanes(
            lanes, patients[first:last], reset, y0, P, seg_t, seg_u, t_eval, rtol, atol,
            max_steps, h_init, y_out, status, stats,
        )  # fmt: skip


@njit(parallel=True, cache=True, nogil=True)
def observe_batch(y_out, P, seg_t, seg_u, t_eval, obs_out):
    """Evaluate the model's assignments at every output time (inputs right-continuous)."""
    n_pat = y_out.shape[0]
    for i in prange(n_pat):
        q = np.empty(N_Q)
        prepare_params(P[i], q)
        w = np.empty(N_W)
        k_prev = -1
        for j in range(t_eval.shape[0]):
            k = find_segment(seg_t[i], t_eval[j])
            if k != k_prev:
                prepare_inputs(q, seg_u[i, k], w)
                k_prev = k
            observe_fast(t_eval[j], y_out[i, j], q, w, obs_out[i, j])
