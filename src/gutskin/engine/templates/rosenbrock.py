# Linearly implicit Rosenbrock method RODAS4 (6 stages, order 4, embedded order 3,
# stiffly accurate, L-stable) with per-patient adaptive steps.
#
# Method: Hairer E, Wanner G (1996) Solving Ordinary Differential Equations II,
# 2nd ed., §IV.7, Table 7.5 ("RODAS"), in the u_i-formulation (7.4') of code RODAS:
#   (1/(h*gamma) I - J) u_i = f(t + c_i h, y + sum_j a_ij u_j) + sum_j (c_ij/h) u_j + h d_i f_t
#   y_new = y + sum_j a_5j u_j + u_5 + u_6,  error estimate = u_6.
# Coefficients: subroutine ROCOE, METH=1, of Hairer's rodas.f (version of 1996),
# transcribed from two independent copies of that routine; checked here against the
# Rosenbrock order conditions up to order 4 (main) and 3 (embedded), HW II Table 7.1.
#
# Time dependence: inputs are piecewise constant between schedule breakpoints, so
# inside a segment f depends on t only when a model uses ``t`` explicitly.  The
# generated code does not tell which, so f_t is always formed by a forward
# difference (one extra RHS call per step, step sqrt(eps*max(1e-5, |t|)) as in
# RODAS); for an autonomous right-hand side it is exactly zero.
import math  # codegen: strip

import numpy as np  # codegen: strip
from numba import njit  # codegen: strip

from gutskin.engine.templates._stub import N_W, jac_fast, prepare_inputs, rhs_fast  # codegen: strip
from gutskin.engine.templates.common import (  # codegen: strip
    STAT_ACCEPTED,  # codegen: strip
    STAT_METHOD,  # codegen: strip
    STAT_NFEV,  # codegen: strip
    STAT_NJEV,  # codegen: strip
    STAT_REJECTED,  # codegen: strip
    STATUS_MAX_STEPS,  # codegen: strip
    STATUS_NONFINITE,  # codegen: strip
    STATUS_OK,  # codegen: strip
    STATUS_STEP_UNDERFLOW,  # codegen: strip
    all_finite,  # codegen: strip
    find_segment,  # codegen: strip
    initial_step,  # codegen: strip
    next_change,  # codegen: strip
    project_nonnegative,  # codegen: strip
    rms_norm,  # codegen: strip
)  # codegen: strip

RO_GAMMA = 0.25
RO_C2 = 0.386
RO_C3 = 0.21
RO_C4 = 0.63
RO_D1 = 0.25
RO_D2 = -0.1043
RO_D3 = 0.1035
RO_D4 = -0.3620000000000023e-01
RO_A21 = 0.1544000000000000e01
RO_A31 = 0.9466785280815826
RO_A32 = 0.2557011698983284
RO_A41 = 0.3314825187068521e01
RO_A42 = 0.2896124015972201e01
RO_A43 = 0.9986419139977817
RO_A51 = 0.1221224509226641e01
RO_A52 = 0.6019134481288629e01
RO_A53 = 0.1253708332932087e02
RO_A54 = -0.6878860361058950
RO_C21 = -0.5668800000000000e01
RO_C31 = -0.2430093356833875e01
RO_C32 = -0.2063599157091915
RO_C41 = -0.1073529058151375
RO_C42 = -0.9594562251023355e01
RO_C43 = -0.2047028614809616e02
RO_C51 = 0.7496443313967647e01
RO_C52 = -0.1024680431464352e02
RO_C53 = -0.3399990352819905e02
RO_C54 = 0.1170890893206160e02
RO_C61 = 0.8083246795921522e01
RO_C62 = -0.7981132988064893e01
RO_C63 = -0.3152159432874371e02
RO_C64 = 0.1631930543123136e02
RO_C65 = -0.6058818238834054e01

RO_SAFETY = 0.9
RO_FAC_MIN = 0.2
RO_FAC_MAX = 6.0
RO_UROUND = 2.220446049250313e-16


@njit(cache=True)
def lu_factor_inplace(a, piv):
    """LU with partial pivoting (LAPACK getrf layout, unit lower L); False if singular."""
    n = a.shape[0]
    for k in range(n):
        m = k
        big = abs(a[k, k])
        for i in range(k + 1, n):
            v = abs(a[i, k])
            if v > big:
                big = v
                m = i
        piv[k] = m
        if not big > 0.0:  # zero or NaN pivot column
            return False
        if m != k:
            for jj in range(n):
                tmp = a[k, jj]
                a[k, jj] = a[m, jj]
                a[m, jj] = tmp
        inv = 1.0 / a[k, k]
        for i in range(k + 1, n):
            f = a[i, k] * inv
            a[i, k] = f
            if f != 0.0:
                for jj in range(k + 1, n):
                    a[i, jj] -= f * a[k, jj]
    return True


@njit(cache=True)
def lu_solve_inplace(a, piv, b):
    """Overwrite ``b`` with the solution of A x = b, A factored by ``lu_factor_inplace``."""
    n = a.shape[0]
    for k in range(n):
        m = piv[k]
        if m != k:
            tmp = b[k]
            b[k] = b[m]
            b[m] = tmp
    for i in range(n):
        s = b[i]
        for jj in range(i):
            s -= a[i, jj] * b[jj]
        b[i] = s
    for i in range(n - 1, -1, -1):
        s = b[i]
        for jj in range(i + 1, n):
            s -= a[i, jj] * b[jj]
        b[i] = s / a[i, i]


@njit(cache=True)
def rosenbrock_solve(y0, q, seg_t, seg_u, t_eval, rtol, atol, max_steps, h_init, y_out, stats):
    """Integrate one patient with RODAS4; write states at ``t_eval`` into ``y_out``.

    Mirrors ``dopri5_solve`` without dense output: steps are clamped to hit
    every output time and every breakpoint at which an input changes; flagged
    states are projected onto >= 0 after each accepted step.  ``q`` is the
    prepared parameter vector.  Returns a status code.
    """
    n = y0.shape[0]
    n_out = t_eval.shape[0]
    stats[STAT_METHOD] = 1
    y = y0.copy()
    project_nonnegative(y)
    f0 = np.empty(n)
    ft = np.empty(n)
    fs = np.empty(n)
    k1 = np.empty(n)
    k2 = np.empty(n)
    k3 = np.empty(n)
    k4 = np.empty(n)
    k5 = np.empty(n)
    k6 = np.empty(n)
    ys = np.empty(n)
    ynew = np.empty(n)
    jm = np.zeros((n, n))
    em = np.empty((n, n))
    piv = np.empty(n, dtype=np.int64)
    w = np.empty(N_W)

    t = t_eval[0]
    seg = find_segment(seg_t, t)
    prepare_inputs(q, seg_u[seg], w)
    nxt = next_change(seg_u, seg)
    j = 0
    while j < n_out and t_eval[j] <= t:
        for i in range(n):
            y_out[j, i] = y[i]
        j += 1
    need_jac = True  # f0, f_t and J must be (re)evaluated at (t, y)
    h = h_init
    steps = 0
    nan_reject = False
    last_rejected = False
    while j < n_out:
        t_stop = t_eval[j]
        seg_end = seg_t[nxt] if nxt < seg_u.shape[0] else math.inf
        if seg_end < t_stop:
            t_stop = seg_end
        while t < t_stop:
            if need_jac:
                rhs_fast(t, y, q, w, f0)
                if h <= 0.0:
                    h = initial_step(t, y, f0, q, w, 4.0, rtol, atol, t_stop - t, ys, fs)
                    stats[STAT_NFEV] += 1
                t_plus = t + math.sqrt(RO_UROUND * max(1e-5, abs(t)))
                delt = t_plus - t  # the increment actually represented
                rhs_fast(t_plus, y, q, w, ft)
                for i in range(n):
                    ft[i] = (ft[i] - f0[i]) / delt
                jac_fast(t, y, q, w, jm)
                stats[STAT_NFEV] += 2
                stats[STAT_NJEV] += 1
                need_jac = False
            if steps >= max_steps:
                return STATUS_MAX_STEPS
            remaining = t_stop - t
            clamped = h >= remaining
            hs = remaining if clamped else h
            if hs <= 1e-13 * max(1.0, abs(t)):
                return STATUS_NONFINITE if nan_reject else STATUS_STEP_UNDERFLOW
            steps += 1
            inv_hg = 1.0 / (hs * RO_GAMMA)
            for r in range(n):
                for c in range(n):
                    em[r, c] = -jm[r, c]
                em[r, r] += inv_hg
            if not lu_factor_inplace(em, piv):
                stats[STAT_REJECTED] += 1
                last_rejected = True
                h = 0.5 * hs
                continue
            hc21 = RO_C21 / hs
            hc31 = RO_C31 / hs
            hc32 = RO_C32 / hs
            hc41 = RO_C41 / hs
            hc42 = RO_C42 / hs
            hc43 = RO_C43 / hs
            hc51 = RO_C51 / hs
            hc52 = RO_C52 / hs
            hc53 = RO_C53 / hs
            hc54 = RO_C54 / hs
            hc61 = RO_C61 / hs
            hc62 = RO_C62 / hs
            hc63 = RO_C63 / hs
            hc64 = RO_C64 / hs
            hc65 = RO_C65 / hs
            hd1 = hs * RO_D1
            hd2 = hs * RO_D2
            hd3 = hs * RO_D3
            hd4 = hs * RO_D4
            # stage 1
            for i in range(n):
                k1[i] = f0[i] + hd1 * ft[i]
            lu_solve_inplace(em, piv, k1)
            # stage 2
            for i in range(n):
                ys[i] = y[i] + RO_A21 * k1[i]
            rhs_fast(t + RO_C2 * hs, ys, q, w, fs)
            for i in range(n):
                k2[i] = fs[i] + hd2 * ft[i] + hc21 * k1[i]
            lu_solve_inplace(em, piv, k2)
            # stage 3
            for i in range(n):
                ys[i] = y[i] + RO_A31 * k1[i] + RO_A32 * k2[i]
            rhs_fast(t + RO_C3 * hs, ys, q, w, fs)
            for i in range(n):
                k3[i] = fs[i] + hd3 * ft[i] + (hc31 * k1[i] + hc32 * k2[i])
            lu_solve_inplace(em, piv, k3)
            # stage 4
            for i in range(n):
                ys[i] = y[i] + RO_A41 * k1[i] + RO_A42 * k2[i] + RO_A43 * k3[i]
            rhs_fast(t + RO_C4 * hs, ys, q, w, fs)
            for i in range(n):
                k4[i] = fs[i] + hd4 * ft[i] + (hc41 * k1[i] + hc42 * k2[i] + hc43 * k3[i])
            lu_solve_inplace(em, piv, k4)
            # stage 5
            for i in range(n):
                ys[i] = y[i] + RO_A51 * k1[i] + RO_A52 * k2[i] + RO_A53 * k3[i] + RO_A54 * k4[i]
            rhs_fast(t + hs, ys, q, w, fs)
            for i in range(n):
                k5[i] = fs[i] + (hc51 * k1[i] + hc52 * k2[i] + hc53 * k3[i] + hc54 * k4[i])
            lu_solve_inplace(em, piv, k5)
            # stage 6: ys becomes the embedded order-3 solution
            for i in range(n):
                ys[i] += k5[i]
            rhs_fast(t + hs, ys, q, w, fs)
            for i in range(n):
                k6[i] = fs[i] + (
                    hc61 * k1[i] + hc62 * k2[i] + hc63 * k3[i] + hc64 * k4[i] + hc65 * k5[i]
                )
            lu_solve_inplace(em, piv, k6)
            for i in range(n):
                ynew[i] = ys[i] + k6[i]
            stats[STAT_NFEV] += 5
            err = rms_norm(k6, y, ynew, rtol, atol)
            if not math.isfinite(err):
                nan_reject = True
                stats[STAT_REJECTED] += 1
                last_rejected = True
                h = 0.25 * hs
                continue
            if err <= 1.0:
                nan_reject = False
                stats[STAT_ACCEPTED] += 1
                t = t_stop if clamped else t + hs
                for i in range(n):
                    y[i] = ynew[i]
                project_nonnegative(y)
                if not all_finite(y):
                    return STATUS_NONFINITE
                need_jac = True
                if err == 0.0:
                    fac = RO_FAC_MAX
                else:
                    fac = min(RO_FAC_MAX, max(RO_FAC_MIN, RO_SAFETY * err**-0.25))
                if last_rejected:
                    fac = min(fac, 1.0)
                last_rejected = False
                hn = hs * fac
                h = max(hn, h) if clamped else hn
            else:
                stats[STAT_REJECTED] += 1
                last_rejected = True
                h = hs * max(RO_FAC_MIN, RO_SAFETY * err**-0.25)
        while j < n_out and t_eval[j] <= t:
            for i in range(n):
                y_out[j, i] = y[i]
            j += 1
        if t >= seg_end and nxt < seg_u.shape[0]:
            seg = nxt
            prepare_inputs(q, seg_u[seg], w)
            nxt = next_change(seg_u, seg)
            need_jac = True
    return STATUS_OK
