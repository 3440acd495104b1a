# Explicit Dormand–Prince 5(4) with per-patient adaptive steps.
# Coefficients: Dormand JR, Prince PJ (1980) J Comput Appl Math 6:19–26;
# error coefficients and stiffness test as in Hairer, Nørsett & Wanner (1993),
# Solving ODEs I, §II.5 and code DOPRI5.
import math  # codegen: strip

import numpy as np  # codegen: strip
from numba import njit  # codegen: strip

from gutskin.engine.templates._stub import rhs  # codegen: strip
from gutskin.engine.templates.common import (  # codegen: strip
    STAT_ACCEPTED,  # codegen: strip
    STAT_METHOD,  # codegen: strip
    STAT_NFEV,  # codegen: strip
    STAT_REJECTED,  # codegen: strip
    STATUS_MAX_STEPS,  # codegen: strip
    STATUS_NONFINITE,  # codegen: strip
    STATUS_OK,  # codegen: strip
    STATUS_STEP_UNDERFLOW,  # codegen: strip
    STATUS_STIFF,  # codegen: strip
    all_finite,  # codegen: strip
    find_segment,  # codegen: strip
    initial_step,  # codegen: strip
    project_nonnegative,  # codegen: strip
    rms_norm,  # codegen: strip
)  # codegen: strip

DP_C2 = 1.0 / 5.0
DP_C3 = 3.0 / 10.0
DP_C4 = 4.0 / 5.0
DP_C5 = 8.0 / 9.0
DP_A21 = 1.0 / 5.0
DP_A31 = 3.0 / 40.0
DP_A32 = 9.0 / 40.0
DP_A41 = 44.0 / 45.0
DP_A42 = -56.0 / 15.0
DP_A43 = 32.0 / 9.0
DP_A51 = 19372.0 / 6561.0
DP_A52 = -25360.0 / 2187.0
DP_A53 = 64448.0 / 6561.0
DP_A54 = -212.0 / 729.0
DP_A61 = 9017.0 / 3168.0
DP_A62 = -355.0 / 33.0
DP_A63 = 46732.0 / 5247.0
DP_A64 = 49.0 / 176.0
DP_A65 = -5103.0 / 18656.0
DP_A71 = 35.0 / 384.0
DP_A73 = 500.0 / 1113.0
DP_A74 = 125.0 / 192.0
DP_A75 = -2187.0 / 6784.0
DP_A76 = 11.0 / 84.0
DP_E1 = 71.0 / 57600.0
DP_E3 = -71.0 / 16695.0
DP_E4 = 71.0 / 1920.0
DP_E5 = -17253.0 / 339200.0
DP_E6 = 22.0 / 525.0
DP_E7 = -1.0 / 40.0


@njit(cache=True)
def dopri5_solve(
    y0, p, seg_t, seg_u, t_eval, rtol, atol, max_steps, h_init, detect_stiff, y_out, stats
):
    """Integrate one patient; write states at ``t_eval`` into ``y_out``; return a status code.

    The step is clamped so that every output time and every schedule breakpoint
    is hit exactly; the right-hand side is restarted after each breakpoint.
    """
    n = y0.shape[0]
    n_out = t_eval.shape[0]
    stats[STAT_METHOD] = 0
    y = y0.copy()
    project_nonnegative(y)
    k1 = np.empty(n)
    k2 = np.empty(n)
    k3 = np.empty(n)
    k4 = np.empty(n)
    k5 = np.empty(n)
    k6 = np.empty(n)
    k7 = np.empty(n)
    ys = np.empty(n)
    ynew = np.empty(n)
    errv = np.empty(n)

    t = t_eval[0]
    seg = find_segment(seg_t, t)
    u = seg_u[seg]
    j = 0
    while j < n_out and t_eval[j] <= t:
        for i in range(n):
            y_out[j, i] = y[i]
        j += 1
    need_f = True
    h = h_init
    steps = 0
    stiff_count = 0
    nonstiff_count = 0
    nan_reject = False
    while j < n_out:
        t_stop = t_eval[j]
        seg_end = seg_t[seg + 1]
        if seg_end < t_stop:
            t_stop = seg_end
        while t < t_stop:
            if need_f:
                rhs(t, y, p, u, k1)
                stats[STAT_NFEV] += 1
                need_f = False
                if h <= 0.0:
                    h = initial_step(t, y, k1, p, u, 5.0, rtol, atol, t_stop - t, ys, k2)
                    stats[STAT_NFEV] += 1
            if steps >= max_steps:
                return STATUS_MAX_STEPS
            remaining = t_stop - t
            clamped = h >= remaining
            hs = remaining if clamped else h
            if hs <= 1e-13 * max(1.0, abs(t)):
                return STATUS_NONFINITE if nan_reject else STATUS_STEP_UNDERFLOW
            for i in range(n):
                ys[i] = y[i] + hs * DP_A21 * k1[i]
            rhs(t + DP_C2 * hs, ys, p, u, k2)
            for i in range(n):
                ys[i] = y[i] + hs * (DP_A31 * k1[i] + DP_A32 * k2[i])
            rhs(t + DP_C3 * hs, ys, p, u, k3)
            for i in range(n):
                ys[i] = y[i] + hs * (DP_A41 * k1[i] + DP_A42 * k2[i] + DP_A43 * k3[i])
            rhs(t + DP_C4 * hs, ys, p, u, k4)
            for i in range(n):
                ys[i] = y[i] + hs * (
                    DP_A51 * k1[i] + DP_A52 * k2[i] + DP_A53 * k3[i] + DP_A54 * k4[i]
                )
            rhs(t + DP_C5 * hs, ys, p, u, k5)
            for i in range(n):
                ys[i] = y[i] + hs * (
                    DP_A61 * k1[i]
                    + DP_A62 * k2[i]
                    + DP_A63 * k3[i]
                    + DP_A64 * k4[i]
                    + DP_A65 * k5[i]
                )
            rhs(t + hs, ys, p, u, k6)
            for i in range(n):
                ynew[i] = y[i] + hs * (
                    DP_A71 * k1[i]
                    + DP_A73 * k3[i]
                    + DP_A74 * k4[i]
                    + DP_A75 * k5[i]
                    + DP_A76 * k6[i]
                )
            rhs(t + hs, ynew, p, u, k7)
            stats[STAT_NFEV] += 6
            steps += 1
            for i in range(n):
                errv[i] = hs * (
                    DP_E1 * k1[i]
                    + DP_E3 * k3[i]
                    + DP_E4 * k4[i]
                    + DP_E5 * k5[i]
                    + DP_E6 * k6[i]
                    + DP_E7 * k7[i]
                )
            err = rms_norm(errv, y, ynew, rtol, atol)
            if not math.isfinite(err):
                nan_reject = True
                stats[STAT_REJECTED] += 1
                h = 0.25 * hs
                continue
            if err <= 1.0:
                nan_reject = False
                stats[STAT_ACCEPTED] += 1
                if detect_stiff:
                    # Hairer's test: h * |lambda| estimated from the last two stages
                    num = 0.0
                    den = 0.0
                    for i in range(n):
                        a = k7[i] - k6[i]
                        b = ynew[i] - ys[i]
                        num += a * a
                        den += b * b
                    if den > 0.0 and hs * math.sqrt(num / den) > 3.25:
                        nonstiff_count = 0
                        stiff_count += 1
                        if stiff_count >= 15:
                            return STATUS_STIFF
                    else:
                        nonstiff_count += 1
                        if nonstiff_count >= 6:
                            stiff_count = 0
                t = t_stop if clamped else t + hs
                for i in range(n):
                    y[i] = ynew[i]
                if project_nonnegative(y):
                    need_f = True
                else:
                    for i in range(n):
                        k1[i] = k7[i]
                if not all_finite(y):
                    return STATUS_NONFINITE
                fac = 10.0 if err == 0.0 else min(10.0, max(0.2, 0.9 * err**-0.2))
                hn = hs * fac
                h = max(hn, h) if clamped else hn
            else:
                stats[STAT_REJECTED] += 1
                h = hs * max(0.2, 0.9 * err**-0.2)
        while j < n_out and t_eval[j] <= t:
            for i in range(n):
                y_out[j, i] = y[i]
            j += 1
        if t >= seg_end and seg + 1 < seg_u.shape[0]:
            seg += 1
            u = seg_u[seg]
            need_f = True
    return STATUS_OK
