# PLACEHOLDER until the Rosenbrock method lands (same session).
from numba import njit  # codegen: strip

from gutskin.engine.templates.common import STATUS_NONFINITE  # codegen: strip


@njit(cache=True)
def rosenbrock_solve(y0, p, seg_t, seg_u, t_eval, rtol, atol, max_steps, h_init, y_out, stats):
    return STATUS_NONFINITE
