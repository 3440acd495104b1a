# DOPRI5 with dense output on LANES patients side by side, one per SIMD lane.
#
# Every lane holds its own patient with its own time, step size, error test,
# input segment and outputs -- nothing is stepped in lockstep.  What is shared is
# the instruction stream: each pass computes one trial step for every lane (the
# generated ``rhs_lanes`` and the stage combinations are loops over lanes that
# LLVM vectorises), then a scalar pass over the lanes accepts or rejects each
# step, writes that lane's outputs from the continuous extension and, when a
# patient is done, refills the lane with the next patient of the group.
#
# Arrays of states, stages and prepared parameters are lane-interleaved: entry i
# of lane ln is a[i*LANES + ln].  States and stages live in one flat workspace at
# constant offsets (W_*), so that LLVM can prove the vectorised loops free of
# aliasing without run-time checks.  All lanes execute the same arithmetic, so a
# patient's trajectory does not depend on its lane, its neighbours or the
# grouping of patients.  Method and step control are those of ``dopri5_solve``
# with ``dense=True`` (the step-size factor err**-0.2 taken with vmath's vpow);
# the right-hand side differs from ``rhs_fast`` only in using the vectorisable
# exp/log/pow of vmath.py (<= 1 ulp, see there) and in allowing fused multiply-adds.
import math  # codegen: strip

import numpy as np  # codegen: strip
from numba import njit  # codegen: strip

from gutskin.engine.templates._stub import (  # codegen: strip
    LANES,  # codegen: strip
    N_Q,  # codegen: strip
    N_STATES,  # codegen: strip
    N_W,  # codegen: strip
    NONNEG_IDX,  # codegen: strip
    prepare_inputs,  # codegen: strip
    prepare_params,  # codegen: strip
    rhs_lanes,  # codegen: strip
)  # codegen: strip
from gutskin.engine.templates.common import (  # codegen: strip
    N_STATS,  # codegen: strip
    STAT_ACCEPTED,  # codegen: strip
    STAT_NFEV,  # codegen: strip
    STAT_REJECTED,  # codegen: strip
    STATUS_MAX_STEPS,  # codegen: strip
    STATUS_NONFINITE,  # codegen: strip
    STATUS_OK,  # codegen: strip
    STATUS_STEP_UNDERFLOW,  # codegen: strip
    STATUS_STIFF,  # codegen: strip
    find_segment,  # codegen: strip
    initial_step,  # codegen: strip
    next_change,  # codegen: strip
)  # codegen: strip
from gutskin.engine.templates.dopri5 import (  # codegen: strip
    DP_A21,  # codegen: strip
    DP_A31,  # codegen: strip
    DP_A32,  # codegen: strip
    DP_A41,  # codegen: strip
    DP_A42,  # codegen: strip
    DP_A43,  # codegen: strip
    DP_A51,  # codegen: strip
    DP_A52,  # codegen: strip
    DP_A53,  # codegen: strip
    DP_A54,  # codegen: strip
    DP_A61,  # codegen: strip
    DP_A62,  # codegen: strip
    DP_A63,  # codegen: strip
    DP_A64,  # codegen: strip
    DP_A65,  # codegen: strip
    DP_A71,  # codegen: strip
    DP_A73,  # codegen: strip
    DP_A74,  # codegen: strip
    DP_A75,  # codegen: strip
    DP_A76,  # codegen: strip
    DP_C2,  # codegen: strip
    DP_C3,  # codegen: strip
    DP_C4,  # codegen: strip
    DP_C5,  # codegen: strip
    DP_D1,  # codegen: strip
    DP_D3,  # codegen: strip
    DP_D4,  # codegen: strip
    DP_D5,  # codegen: strip
    DP_D6,  # codegen: strip
    DP_D7,  # codegen: strip
    DP_E1,  # codegen: strip
    DP_E3,  # codegen: strip
    DP_E4,  # codegen: strip
    DP_E5,  # codegen: strip
    DP_E6,  # codegen: strip
    DP_E7,  # codegen: strip
)  # codegen: strip
from gutskin.engine.templates.vmath import vpow  # codegen: strip

LANE_FREE = -1
W_SL = N_STATES * LANES
W_Y = 0
W_K1 = 1 * W_SL
W_K2 = 2 * W_SL
W_K3 = 3 * W_SL
W_K4 = 4 * W_SL
W_K5 = 5 * W_SL
W_K6 = 6 * W_SL
W_K7 = 7 * W_SL
W_YS = 8 * W_SL
W_YNEW = 9 * W_SL
W_R2 = 10 * W_SL  # dense output: ynew - y
W_R3 = 11 * W_SL  # h k1 - (ynew - y)
W_R4 = 12 * W_SL
W_R5 = 13 * W_SL
W_YI = 14 * W_SL  # interpolated states at each lane's next output time
W_ACC = 15 * W_SL  # per lane: sum of squared scaled errors, stiffness numerator, denominator
W_NUM = W_ACC + LANES
W_DEN = W_ACC + 2 * LANES
W_SIZE = W_ACC + 3 * LANES


# Stage combinations, one function per stage so that every loop is a fixed
# expression in constant workspace offsets.  The loops run over all m =
# N_STATES*LANES entries at once (``hx`` holds each entry's step size), which
# LLVM turns into a few long vector loops.
@njit(cache=True, error_model="numpy")
def _ls2(m, ws, hx):
    for j in range(m):
        ws[W_YS + j] = ws[W_Y + j] + hx[j] * (DP_A21 * ws[W_K1 + j])


@njit(cache=True, error_model="numpy")
def _ls3(m, ws, hx):
    for j in range(m):
        ws[W_YS + j] = ws[W_Y + j] + hx[j] * (DP_A31 * ws[W_K1 + j] + DP_A32 * ws[W_K2 + j])


@njit(cache=True, error_model="numpy")
def _ls4(m, ws, hx):
    for j in range(m):
        ws[W_YS + j] = ws[W_Y + j] + hx[j] * (
            DP_A41 * ws[W_K1 + j] + DP_A42 * ws[W_K2 + j] + DP_A43 * ws[W_K3 + j]
        )


@njit(cache=True, error_model="numpy")
def _ls5(m, ws, hx):
    for j in range(m):
        ws[W_YS + j] = ws[W_Y + j] + hx[j] * (
            DP_A51 * ws[W_K1 + j] + DP_A52 * ws[W_K2 + j] + DP_A53 * ws[W_K3 + j]
            + DP_A54 * ws[W_K4 + j]
        )  # fmt: skip


@njit(cache=True, error_model="numpy")
def _ls6(m, ws, hx):
    for j in range(m):
        ws[W_YS + j] = ws[W_Y + j] + hx[j] * (
            DP_A61 * ws[W_K1 + j] + DP_A62 * ws[W_K2 + j] + DP_A63 * ws[W_K3 + j]
            + DP_A64 * ws[W_K4 + j] + DP_A65 * ws[W_K5 + j]
        )  # fmt: skip


@njit(cache=True, error_model="numpy")
def _ls7(m, ws, hx):
    for j in range(m):
        ws[W_YNEW + j] = ws[W_Y + j] + hx[j] * (
            DP_A71 * ws[W_K1 + j] + DP_A73 * ws[W_K3 + j] + DP_A74 * ws[W_K4 + j]
            + DP_A75 * ws[W_K5 + j] + DP_A76 * ws[W_K6 + j]
        )  # fmt: skip


@njit(cache=True, error_model="numpy")
def _lane_error(nl, ws, rtol, atol):
    """Per lane, in one pass over the stages: the sum over states (in state order) of
    (embedded difference / h / scale)**2 with scale = atol + rtol*max(|y|, |ynew|) (ACC),
    and Hairer's stiffness quotient terms: sums of (k7 - k6)**2 (NUM) and
    (ynew - ys)**2 (DEN).

    The per-lane sums live in the workspace (W_ACC..) so that the loop over lanes
    touches one array and LLVM vectorises it.
    """
    for ln in range(nl):
        ws[W_ACC + ln] = 0.0
        ws[W_NUM + ln] = 0.0
        ws[W_DEN + ln] = 0.0
    for i in range(N_STATES):
        b = i * LANES
        for ln in range(nl):
            j = b + ln
            e = (
                DP_E1 * ws[W_K1 + j] + DP_E3 * ws[W_K3 + j] + DP_E4 * ws[W_K4 + j]
                + DP_E5 * ws[W_K5 + j] + DP_E6 * ws[W_K6 + j] + DP_E7 * ws[W_K7 + j]
            )  # fmt: skip
            a = abs(ws[W_Y + j])
            c = abs(ws[W_YNEW + j])
            r = e / (atol + rtol * (a if a > c else c))
            ws[W_ACC + ln] += r * r
            d = ws[W_K7 + j] - ws[W_K6 + j]
            ws[W_NUM + ln] += d * d
            g = ws[W_YNEW + j] - ws[W_YS + j]
            ws[W_DEN + ln] += g * g


@njit(cache=True, error_model="numpy")
def _lane_factors(nl, ws, hs, err, fac):
    """Per lane: the error norm h*sqrt(ACC/N) and the step factor 0.9*err**-0.2
    clipped to [0.2, 10] (vectorised; vpow instead of libm's pow)."""
    for ln in range(nl):
        e = hs[ln] * math.sqrt(ws[W_ACC + ln] / N_STATES)
        err[ln] = e
        f = 0.9 * vpow(e, -0.2)
        f = 0.2 if f < 0.2 else f
        fac[ln] = 10.0 if f > 10.0 else f


@njit(cache=True, error_model="numpy")
def _lane_dense(m, ws, hx):
    """Coefficients of the continuous extension of the step of every lane (CONTD5)."""
    for j in range(m):
        h = hx[j]
        ydiff = ws[W_YNEW + j] - ws[W_Y + j]
        bspl = h * ws[W_K1 + j] - ydiff
        ws[W_R2 + j] = ydiff
        ws[W_R3 + j] = bspl
        ws[W_R4 + j] = ydiff - h * ws[W_K7 + j] - bspl
        ws[W_R5 + j] = h * (
            DP_D1 * ws[W_K1 + j] + DP_D3 * ws[W_K3 + j] + DP_D4 * ws[W_K4 + j]
            + DP_D5 * ws[W_K5 + j] + DP_D6 * ws[W_K6 + j] + DP_D7 * ws[W_K7 + j]
        )  # fmt: skip


@njit(cache=True, error_model="numpy")
def _lane_interp(m, ws, thx):
    """YI = continuous extension at the fraction ``thx`` of each lane's step."""
    for j in range(m):
        th = thx[j]
        th1 = 1.0 - th
        ws[W_YI + j] = ws[W_Y + j] + th * (
            ws[W_R2 + j] + th1 * (ws[W_R3 + j] + th * (ws[W_R4 + j] + th1 * ws[W_R5 + j]))
        )


@njit(cache=True, error_model="numpy")
def _nan_rows(y_out, p, jo):
    """NaN in the outputs of patient ``p`` from time index ``jo`` on (a failed patient).

    ``y_out`` comes uninitialised (``np.empty``): every output of a patient is written
    either by the solver or here.
    """
    for j in range(jo, y_out.shape[1]):
        for i in range(y_out.shape[2]):
            y_out[p, j, i] = math.nan


@njit(cache=True, error_model="numpy")
def _lane_load(ln, p, y0, P, seg_t, seg_u, t_eval, h_init, ws, q, qrow, w, wrow, lane_i, lane_f,
               y_out, status, stats):  # fmt: skip
    """Put patient ``p`` into lane ``ln``; return False if it has nothing to integrate."""
    for s in range(N_STATS):
        stats[p, s] = 0
    prepare_params(P[p], qrow[ln])
    for k in range(N_Q):
        q[k * LANES + ln] = qrow[ln, k]
    for i in range(N_STATES):
        ws[W_Y + i * LANES + ln] = y0[p, i]
    for jj in range(NONNEG_IDX.shape[0]):
        j = W_Y + NONNEG_IDX[jj] * LANES + ln
        if ws[j] < 0.0:
            ws[j] = 0.0
    t = t_eval[0]
    seg = find_segment(seg_t[p], t)
    prepare_inputs(qrow[ln], seg_u[p, seg], wrow)
    for k in range(N_W):
        w[k * LANES + ln] = wrow[k]
    nxt = next_change(seg_u[p], seg)
    seg_end = seg_t[p, nxt] if nxt < seg_u.shape[1] else math.inf
    jo = 0
    while jo < t_eval.shape[0] and t_eval[jo] <= t:
        for i in range(N_STATES):
            y_out[p, jo, i] = ws[W_Y + i * LANES + ln]
        jo += 1
    # integer lane state: patient, segment, next change, next output, steps,
    # stiff count, non-stiff count, needs f, last rejection non-finite, clamped
    lane_i[ln, 0] = p
    lane_i[ln, 1] = seg
    lane_i[ln, 2] = nxt
    lane_i[ln, 3] = jo
    lane_i[ln, 4] = 0
    lane_i[ln, 5] = 0
    lane_i[ln, 6] = 0
    lane_i[ln, 7] = 1
    lane_i[ln, 8] = 0
    lane_i[ln, 9] = 0
    # float lane state: t, h, t_stop, end of the input segment
    lane_f[ln, 0] = t
    lane_f[ln, 1] = h_init
    lane_f[ln, 2] = min(t_eval[t_eval.shape[0] - 1], seg_end)
    lane_f[ln, 3] = seg_end
    if jo >= t_eval.shape[0]:
        status[p] = STATUS_OK
        lane_i[ln, 0] = LANE_FREE
        return False
    return True


@njit(cache=True, error_model="numpy")
def dopri5_lanes(nl, first, last, y0, P, seg_t, seg_u, t_eval, rtol, atol, max_steps, h_init,
                 detect_stiff, y_out, status, stats):  # fmt: skip
    """Integrate patients ``first .. last-1`` of the batch in LANES SIMD lanes (dense output).

    ``nl`` must equal LANES; it is passed at run time so that the loops over
    lanes keep a trip count LLVM cannot fold (a constant 8 gets unrolled
    instead of vectorised).  Other arguments as in ``solve_batch``.  Writes the
    ``y_out``, ``status`` and ``stats`` rows of those patients; a patient
    detected stiff (``detect_stiff``) ends with ``STATUS_STIFF`` for the caller
    to re-solve.
    """
    L = LANES
    S = N_STATES
    n_out = t_eval.shape[0]
    n_seg = seg_u.shape[1]
    t_last = t_eval[n_out - 1]
    ws = np.zeros(W_SIZE)
    q = np.zeros(N_Q * L)
    w = np.zeros(N_W * L)
    qrow = np.zeros((L, N_Q))
    wrow = np.zeros(N_W)
    col_y = np.zeros(S)
    col_f = np.zeros(S)
    work_y = np.zeros(S)
    work_f = np.zeros(S)
    tl = np.zeros(L)
    ts = np.zeros(L)
    hs = np.zeros(L)
    hx = np.zeros(S * L)  # step of the lane of each workspace entry
    m = S * nl
    err = np.zeros(L)  # error norm of each lane's trial step
    fac = np.zeros(L)  # step size factor from it
    thx = np.zeros(S * L)  # interpolation fraction of the lane of each entry
    t_to = np.zeros(L)  # end of each lane's accepted step
    keep = np.zeros(L, dtype=np.int64)  # step accepted
    out_lo = np.zeros(L, dtype=np.int64)  # outputs [out_lo, out_hi) inside the step
    out_hi = np.zeros(L, dtype=np.int64)
    lane_i = np.zeros((L, 10), dtype=np.int64)
    lane_f = np.zeros((L, 4))
    y = ws[W_Y : W_Y + W_SL]
    k1 = ws[W_K1 : W_K1 + W_SL]
    k2 = ws[W_K2 : W_K2 + W_SL]
    k3 = ws[W_K3 : W_K3 + W_SL]
    k4 = ws[W_K4 : W_K4 + W_SL]
    k5 = ws[W_K5 : W_K5 + W_SL]
    k6 = ws[W_K6 : W_K6 + W_SL]
    k7 = ws[W_K7 : W_K7 + W_SL]
    ys = ws[W_YS : W_YS + W_SL]
    ynew = ws[W_YNEW : W_YNEW + W_SL]
    for ln in range(L):
        lane_i[ln, 0] = LANE_FREE
    nxt_p = first
    for ln in range(L):
        while lane_i[ln, 0] == LANE_FREE and nxt_p < last:
            _lane_load(ln, nxt_p, y0, P, seg_t, seg_u, t_eval, h_init, ws, q, qrow, w, wrow,
                       lane_i, lane_f, y_out, status, stats)  # fmt: skip
            nxt_p += 1
    while True:
        active = 0
        need = 0
        for ln in range(L):
            if lane_i[ln, 0] != LANE_FREE:
                active += 1
                need += lane_i[ln, 7]
            tl[ln] = lane_f[ln, 0]
        if active == 0:
            break
        # f(t, y) for lanes starting afresh (new patient, new input segment, projection)
        if need > 0:
            rhs_lanes(nl, tl, y, q, w, k2)
            for ln in range(L):
                if lane_i[ln, 0] == LANE_FREE or lane_i[ln, 7] == 0:
                    continue
                p = lane_i[ln, 0]
                for i in range(S):
                    k1[i * L + ln] = k2[i * L + ln]
                stats[p, STAT_NFEV] += 1
                lane_i[ln, 7] = 0
                if lane_f[ln, 1] <= 0.0:
                    for i in range(S):
                        col_y[i] = y[i * L + ln]
                        col_f[i] = k1[i * L + ln]
                    prepare_inputs(qrow[ln], seg_u[p, lane_i[ln, 1]], wrow)
                    lane_f[ln, 1] = initial_step(
                        tl[ln], col_y, col_f, qrow[ln], wrow, 5.0, rtol, atol,
                        lane_f[ln, 2] - tl[ln], work_y, work_f,
                    )  # fmt: skip
                    stats[p, STAT_NFEV] += 1
        # trial step size of every lane (0 in free lanes: they compute harmless copies)
        for ln in range(L):
            hs[ln] = 0.0
            if lane_i[ln, 0] == LANE_FREE:
                continue
            p = lane_i[ln, 0]
            t = lane_f[ln, 0]
            if lane_i[ln, 4] >= max_steps:
                status[p] = STATUS_MAX_STEPS
                _nan_rows(y_out, p, lane_i[ln, 3])
                lane_i[ln, 0] = LANE_FREE
                continue
            remaining = lane_f[ln, 2] - t
            clamped = lane_f[ln, 1] >= remaining
            h = remaining if clamped else lane_f[ln, 1]
            if h <= 1e-13 * max(1.0, abs(t)):
                status[p] = STATUS_NONFINITE if lane_i[ln, 8] else STATUS_STEP_UNDERFLOW
                _nan_rows(y_out, p, lane_i[ln, 3])
                lane_i[ln, 0] = LANE_FREE
                continue
            lane_i[ln, 9] = 1 if clamped else 0
            hs[ln] = h
        for i in range(S):
            for ln in range(nl):
                hx[i * L + ln] = hs[ln]
        # the six new stages of every lane, vectorised over lanes
        _ls2(m, ws, hx)
        for ln in range(nl):
            ts[ln] = tl[ln] + DP_C2 * hs[ln]
        rhs_lanes(nl, ts, ys, q, w, k2)
        _ls3(m, ws, hx)
        for ln in range(nl):
            ts[ln] = tl[ln] + DP_C3 * hs[ln]
        rhs_lanes(nl, ts, ys, q, w, k3)
        _ls4(m, ws, hx)
        for ln in range(nl):
            ts[ln] = tl[ln] + DP_C4 * hs[ln]
        rhs_lanes(nl, ts, ys, q, w, k4)
        _ls5(m, ws, hx)
        for ln in range(nl):
            ts[ln] = tl[ln] + DP_C5 * hs[ln]
        rhs_lanes(nl, ts, ys, q, w, k5)
        _ls6(m, ws, hx)
        for ln in range(nl):
            ts[ln] = tl[ln] + hs[ln]
        rhs_lanes(nl, ts, ys, q, w, k6)
        _ls7(m, ws, hx)
        rhs_lanes(nl, ts, ynew, q, w, k7)
        # error norms (the step h factored out), Hairer's stiffness quotient and the
        # step size factors, vectorised over lanes
        _lane_error(nl, ws, rtol, atol)
        _lane_factors(nl, ws, hs, err, fac)
        # step control, lane by lane; outputs inside accepted steps are noted
        n_rounds = 0
        for ln in range(L):
            keep[ln] = 0
            out_lo[ln] = 0
            out_hi[ln] = 0
            if hs[ln] == 0.0:  # free lane, or ended above
                continue
            p = lane_i[ln, 0]
            h = hs[ln]
            stats[p, STAT_NFEV] += 6
            lane_i[ln, 4] += 1
            e = err[ln]
            if not math.isfinite(e):
                lane_i[ln, 8] = 1
                stats[p, STAT_REJECTED] += 1
                lane_f[ln, 1] = 0.25 * h
                continue
            if e > 1.0:
                stats[p, STAT_REJECTED] += 1
                lane_f[ln, 1] = h * fac[ln]
                continue
            lane_i[ln, 8] = 0
            stats[p, STAT_ACCEPTED] += 1
            if detect_stiff:
                den = ws[W_DEN + ln]
                if den > 0.0 and h * math.sqrt(ws[W_NUM + ln] / den) > 3.25:
                    lane_i[ln, 6] = 0
                    lane_i[ln, 5] += 1
                    if lane_i[ln, 5] >= 15:
                        status[p] = STATUS_STIFF
                        _nan_rows(y_out, p, lane_i[ln, 3])
                        lane_i[ln, 0] = LANE_FREE
                        continue
                else:
                    lane_i[ln, 6] += 1
                    if lane_i[ln, 6] >= 6:
                        lane_i[ln, 5] = 0
            clamped = lane_i[ln, 9] == 1
            t_new = lane_f[ln, 2] if clamped else lane_f[ln, 0] + h
            t_to[ln] = t_new
            jo = lane_i[ln, 3]
            out_lo[ln] = jo
            while jo < n_out and t_eval[jo] < t_new:
                jo += 1
            out_hi[ln] = jo
            n_rounds = max(n_rounds, jo - out_lo[ln])
            hn = h * fac[ln]
            lane_f[ln, 1] = max(hn, lane_f[ln, 1]) if clamped else hn
            keep[ln] = 1
        # outputs inside the steps: continuous extension, vectorised over lanes, one
        # output time per lane and round
        if n_rounds > 0:
            _lane_dense(m, ws, hx)
            for r in range(n_rounds):
                for ln in range(L):
                    jo = out_lo[ln] + r
                    th = (t_eval[jo] - lane_f[ln, 0]) / hs[ln] if jo < out_hi[ln] else 0.0
                    for i in range(S):
                        thx[i * L + ln] = th
                _lane_interp(m, ws, thx)
                for ln in range(L):
                    jo = out_lo[ln] + r
                    if jo >= out_hi[ln]:
                        continue
                    p = lane_i[ln, 0]
                    for i in range(S):
                        y_out[p, jo, i] = ws[W_YI + i * L + ln]
                    for jj in range(NONNEG_IDX.shape[0]):
                        i = NONNEG_IDX[jj]
                        if y_out[p, jo, i] < 0.0:
                            y_out[p, jo, i] = 0.0
        # accepted lanes move on
        for ln in range(L):
            if keep[ln] == 0:
                continue
            p = lane_i[ln, 0]
            lane_i[ln, 3] = out_hi[ln]
            t_new = t_to[ln]
            lane_f[ln, 0] = t_new
            # y <- ynew, k1 <- k7 (FSAL), then projection onto >= 0
            for i in range(S):
                j = i * L + ln
                y[j] = ynew[j]
                k1[j] = k7[j]
            for jj in range(NONNEG_IDX.shape[0]):
                j = NONNEG_IDX[jj] * L + ln
                if y[j] < 0.0:
                    y[j] = 0.0
                    lane_i[ln, 7] = 1
            ok = True
            for i in range(S):
                if not math.isfinite(y[i * L + ln]):
                    ok = False
            if not ok:
                status[p] = STATUS_NONFINITE
                _nan_rows(y_out, p, lane_i[ln, 3])
                lane_i[ln, 0] = LANE_FREE
                continue
            if t_new < lane_f[ln, 2]:
                continue
            # at a stop: the last output time or an input change
            jo = lane_i[ln, 3]
            while jo < n_out and t_eval[jo] <= t_new:
                for i in range(S):
                    y_out[p, jo, i] = y[i * L + ln]
                jo += 1
            lane_i[ln, 3] = jo
            if jo >= n_out:
                status[p] = STATUS_OK
                lane_i[ln, 0] = LANE_FREE
                continue
            if t_new >= lane_f[ln, 3] and lane_i[ln, 2] < n_seg:
                seg = lane_i[ln, 2]
                lane_i[ln, 1] = seg
                prepare_inputs(qrow[ln], seg_u[p, seg], wrow)
                for k in range(N_W):
                    w[k * L + ln] = wrow[k]
                nxt = next_change(seg_u[p], seg)
                lane_i[ln, 2] = nxt
                seg_end = seg_t[p, nxt] if nxt < n_seg else math.inf
                lane_f[ln, 3] = seg_end
                lane_f[ln, 2] = min(t_last, seg_end)
                lane_i[ln, 7] = 1
        # refill free lanes
        for ln in range(L):
            while lane_i[ln, 0] == LANE_FREE and nxt_p < last:
                _lane_load(ln, nxt_p, y0, P, seg_t, seg_u, t_eval, h_init, ws, q, qrow, w, wrow,
                           lane_i, lane_f, y_out, status, stats)  # fmt: skip
                nxt_p += 1
