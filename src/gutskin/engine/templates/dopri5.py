# Explicit Dormand–Prince 5(4) with per-patient adaptive steps.
# Coefficients: Dormand JR, Prince PJ (1980) J Comput Appl Math 6:19–26;
# error coefficients and stiffness test as in Hairer, Nørsett & Wanner (1993),
# Solving ODEs I, §II.5 and code DOPRI5; dense output (continuous extension of
# order 4) as in HNW I §II.6 and subroutine CONTD5 of dopri5.f.
import math  # codegen: strip

import numpy as np  # codegen: strip
from numba import njit  # codegen: strip

from gutskin.engine.templates._stub import (  # codegen: strip
    N_W,  # codegen: strip
    NONNEG_IDX,  # codegen: strip
    prepare_inputs,  # codegen: strip
    rhs_fast,  # codegen: strip
)  # codegen: strip
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
    next_change,  # codegen: strip
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
# dense output coefficients (dopri5.f, CONTD5)
DP_D1 = -12715105075.0 / 11282082432.0
DP_D3 = 87487479700.0 / 32700410799.0
DP_D4 = -10690763975.0 / 1880347072.0
DP_D5 = 701980252875.0 / 199316789632.0
DP_D6 = -1453857185.0 / 822651844.0
DP_D7 = 69997945.0 / 29380423.0


@njit(cache=True)
def dopri5_dense_out(y, ynew, k1, k3, k4, k5, k6, k7, h, theta, out):
    """Write the continuous extension at ``t + theta*h`` of the step ``y -> ynew`` into ``out``.

    Order 4, uses only the stages of the step (no extra RHS call); flagged
    non-negative states are clipped at zero like the step values.
    """
    th1 = 1.0 - theta
    for i in range(y.shape[0]):
        ydiff = ynew[i] - y[i]
        bspl = h * k1[i] - ydiff
        r4 = ydiff - h * k7[i] - bspl
        r5 = h * (
            DP_D1 * k1[i]
            + DP_D3 * k3[i]
            + DP_D4 * k4[i]
            + DP_D5 * k5[i]
            + DP_D6 * k6[i]
            + DP_D7 * k7[i]
        )
        out[i] = y[i] + theta * (ydiff + th1 * (bspl + theta * (r4 + th1 * r5)))
    for jj in range(NONNEG_IDX.shape[0]):
        i = NONNEG_IDX[jj]
        if out[i] < 0.0:
            out[i] = 0.0


@njit(cache=True)
def dopri5_solve(
    y0, q, seg_t, seg_u, t_eval, rtol, atol, max_steps, h_init, detect_stiff, dense, y_out, stats
):
    """Integrate one patient; write states at ``t_eval`` into ``y_out``; return a status code.

    ``q`` is the patient's prepared parameter vector (``prepare_params``).
    Steps are clamped to every breakpoint at which some input changes (the
    right-hand side is restarted there) and to the last output time.  Without
    ``dense`` they are also clamped to every output time; with ``dense`` the
    steps run over output times and the outputs inside a step come from the
    order-4 continuous extension.
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
    w = np.empty(N_W)

    t = t_eval[0]
    t_last = t_eval[n_out - 1]
    seg = find_segment(seg_t, t)
    prepare_inputs(q, seg_u[seg], w)
    nxt = next_change(seg_u, seg)
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
        t_stop = t_last if dense else t_eval[j]
        seg_end = seg_t[nxt] if nxt < seg_u.shape[0] else math.inf
        if seg_end < t_stop:
            t_stop = seg_end
        while t < t_stop:
            if need_f:
                rhs_fast(t, y, q, w, k1)
                stats[STAT_NFEV] += 1
                need_f = False
                if h <= 0.0:
                    h = initial_step(t, y, k1, q, w, 5.0, rtol, atol, t_stop - t, ys, k2)
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
            rhs_fast(t + DP_C2 * hs, ys, q, w, k2)
            for i in range(n):
                ys[i] = y[i] + hs * (DP_A31 * k1[i] + DP_A32 * k2[i])
            rhs_fast(t + DP_C3 * hs, ys, q, w, k3)
            for i in range(n):
                ys[i] = y[i] + hs * (DP_A41 * k1[i] + DP_A42 * k2[i] + DP_A43 * k3[i])
            rhs_fast(t + DP_C4 * hs, ys, q, w, k4)
            for i in range(n):
                ys[i] = y[i] + hs * (
                    DP_A51 * k1[i] + DP_A52 * k2[i] + DP_A53 * k3[i] + DP_A54 * k4[i]
                )
            rhs_fast(t + DP_C5 * hs, ys, q, w, k5)
            for i in range(n):
                ys[i] = y[i] + hs * (
                    DP_A61 * k1[i]
                    + DP_A62 * k2[i]
                    + DP_A63 * k3[i]
                    + DP_A64 * k4[i]
                    + DP_A65 * k5[i]
                )
            rhs_fast(t + hs, ys, q, w, k6)
            for i in range(n):
                ynew[i] = y[i] + hs * (
                    DP_A71 * k1[i]
                    + DP_A73 * k3[i]
                    + DP_A74 * k4[i]
                    + DP_A75 * k5[i]
                    + DP_A76 * k6[i]
                )
            rhs_fast(t + hs, ynew, q, w, k7)
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
                t_new = t_stop if clamped else t + hs
                if dense:
                    while j < n_out and t_eval[j] < t_new:
                        dopri5_dense_out(
                            y, ynew, k1, k3, k4, k5, k6, k7, hs, (t_eval[j] - t) / hs, y_out[j]
                        )
                        j += 1
                t = t_new
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
        if t >= seg_end and nxt < seg_u.shape[0]:
            seg = nxt
            prepare_inputs(q, seg_u[seg], w)
            nxt = next_change(seg_u, seg)
            need_f = True
    return STATUS_OK
