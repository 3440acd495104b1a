# Batch driver: one adaptive solve per patient, patients spread over threads.
import numpy as np  # codegen: strip
from numba import njit, prange  # codegen: strip

from gutskin.engine.templates._stub import observe  # codegen: strip
from gutskin.engine.templates.common import (  # codegen: strip
    N_STATS,  # codegen: strip
    STATUS_MAX_STEPS,  # codegen: strip
    STATUS_STIFF,  # codegen: strip
    find_segment,  # codegen: strip
)  # codegen: strip
from gutskin.engine.templates.dopri5 import dopri5_solve  # codegen: strip
from gutskin.engine.templates.rosenbrock import rosenbrock_solve  # codegen: strip

METHOD_DOPRI5 = 0
METHOD_ROSENBROCK = 1
METHOD_AUTO = 2


@njit(parallel=True, cache=True)
def solve_batch(
    method, y0, P, seg_t, seg_u, t_eval, rtol, atol, max_steps, h_init, y_out, status, stats
):
    """Solve every patient independently (own step sizes) across threads.

    ``y0`` (N, S), ``P`` (N, n_par), ``seg_t`` (N, K+1), ``seg_u`` (N, K, n_in),
    ``t_eval`` (T,); fills ``y_out`` (N, T, S), ``status`` (N,), ``stats`` (N, N_STATS).
    In auto mode a patient starts with DOPRI5 and is re-solved with the
    Rosenbrock method when stiffness is detected or the step budget runs out.
    """
    n_pat = y0.shape[0]
    for i in prange(n_pat):
        for s in range(N_STATS):
            stats[i, s] = 0
        if method == METHOD_ROSENBROCK:
            st = rosenbrock_solve(
                y0[i],
                P[i],
                seg_t[i],
                seg_u[i],
                t_eval,
                rtol,
                atol,
                max_steps,
                h_init,
                y_out[i],
                stats[i],
            )
        else:
            st = dopri5_solve(
                y0[i],
                P[i],
                seg_t[i],
                seg_u[i],
                t_eval,
                rtol,
                atol,
                max_steps,
                h_init,
                method == METHOD_AUTO,
                y_out[i],
                stats[i],
            )
            if method == METHOD_AUTO and (st == STATUS_STIFF or st == STATUS_MAX_STEPS):
                y_out[i, :, :] = np.nan
                st = rosenbrock_solve(
                    y0[i],
                    P[i],
                    seg_t[i],
                    seg_u[i],
                    t_eval,
                    rtol,
                    atol,
                    max_steps,
                    h_init,
                    y_out[i],
                    stats[i],
                )
        status[i] = st


@njit(parallel=True, cache=True)
def observe_batch(y_out, P, seg_t, seg_u, t_eval, obs_out):
    """Evaluate the model's assignments at every output time (inputs right-continuous)."""
    n_pat = y_out.shape[0]
    for i in prange(n_pat):
        for j in range(t_eval.shape[0]):
            k = find_segment(seg_t[i], t_eval[j])
            observe(t_eval[j], y_out[i, j], P[i], seg_u[i, k], obs_out[i, j])
