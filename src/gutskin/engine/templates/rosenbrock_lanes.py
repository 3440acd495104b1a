# RODAS4 (the method and step control of ``rosenbrock_solve``) on LANES patients side by
# side, one per SIMD lane, for the stiff patients of the lane solver. As in
# ``dopri5_lanes`` every lane keeps its own patient, time, step, error test, input segment
# and outputs; the lanes share the instruction stream. Each pass makes one trial step in
# every lane (f, f_t, the generated ``jac_lanes``, the factorisation of
# (1/(h gamma) I - J), six stages, the error norm: loops over lanes that LLVM vectorises);
# a scalar pass then accepts or rejects each step, writes outputs and refills lanes.
# Arrays are lane-interleaved (entry i of lane ln at i*LANES + ln; matrix entry (r, c) at
# (r*N_STATES + c)*LANES + ln). Steps land on every output time and input change. The
# linear systems are solved by block forward substitution in the order of the strongly
# connected components of the Jacobian's pattern (codegen's ``block_structure``): only
# the diagonal blocks are factored (LU with partial pivoting) -- for the acne model one
# 6 x 6 block and 16 scalars instead of a dense 22 x 22 LU. That and the lane math (vmath,
# <= 1 ulp, fused multiply-adds) change only round-off, so results agree with the scalar
# method to the order of the tolerances. f and J are evaluated for every lane whenever
# one lane needs them: a lane whose last step was rejected sits at the same (t, y) and
# gets bit-identical values, so nothing depends on a patient's neighbours.
import math  # codegen: strip

import numpy as np  # codegen: strip
from numba import njit  # codegen: strip

from gutskin.engine.templates._stub import (  # codegen: strip
    BLK_LUOFF,  # codegen: strip
    BLK_LUSIZE,  # codegen: strip
    BLK_N,  # codegen: strip
    BLK_OFF_COL,  # codegen: strip
    BLK_OFF_PTR,  # codegen: strip
    BLK_PERM,  # codegen: strip
    BLK_START,  # codegen: strip
    LANES,  # codegen: strip
    N_Q,  # codegen: strip
    N_STATES,  # codegen: strip
    N_W,  # codegen: strip
    NONNEG_IDX,  # codegen: strip
    jac_lanes,  # codegen: strip
    prepare_inputs,  # codegen: strip
    prepare_params,  # codegen: strip
    rhs_lanes,  # codegen: strip
)  # codegen: strip
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
    find_segment,  # codegen: strip
    initial_step,  # codegen: strip
    next_change,  # codegen: strip
)  # codegen: strip
from gutskin.engine.templates.lanes import LANE_FREE, _nan_rows  # codegen: strip
from gutskin.engine.templates.rosenbrock import (  # codegen: strip
    RO_A21,  # codegen: strip
    RO_A31,  # codegen: strip
    RO_A32,  # codegen: strip
    RO_A41,  # codegen: strip
    RO_A42,  # codegen: strip
    RO_A43,  # codegen: strip
    RO_A51,  # codegen: strip
    RO_A52,  # codegen: strip
    RO_A53,  # codegen: strip
    RO_A54,  # codegen: strip
    RO_C2,  # codegen: strip
    RO_C3,  # codegen: strip
    RO_C4,  # codegen: strip
    RO_C21,  # codegen: strip
    RO_C31,  # codegen: strip
    RO_C32,  # codegen: strip
    RO_C41,  # codegen: strip
    RO_C42,  # codegen: strip
    RO_C43,  # codegen: strip
    RO_C51,  # codegen: strip
    RO_C52,  # codegen: strip
    RO_C53,  # codegen: strip
    RO_C54,  # codegen: strip
    RO_C61,  # codegen: strip
    RO_C62,  # codegen: strip
    RO_C63,  # codegen: strip
    RO_C64,  # codegen: strip
    RO_C65,  # codegen: strip
    RO_D1,  # codegen: strip
    RO_D2,  # codegen: strip
    RO_D3,  # codegen: strip
    RO_D4,  # codegen: strip
    RO_FAC_MAX,  # codegen: strip
    RO_FAC_MIN,  # codegen: strip
    RO_GAMMA,  # codegen: strip
    RO_SAFETY,  # codegen: strip
    RO_UROUND,  # codegen: strip
)  # codegen: strip

# integer lane state
RL_P = 0  # patient (LANE_FREE: none)
RL_SEG = 1  # input segment
RL_NXT = 2  # next segment whose inputs differ
RL_J = 3  # next output index
RL_STEPS = 4
RL_NAN = 5  # last rejection was non-finite
RL_LASTREJ = 6  # last step rejected
RL_NEEDJ = 7  # f0, f_t and J must be evaluated at (t, y)
RL_CLAMP = 8  # trial step clamped to t_stop
RL_SING = 9  # LU of the trial step singular
# float lane state
RF_T = 0
RF_H = 1
RF_STOP = 2  # next output time or input change
RF_SEGEND = 3  # end of the input segment


@njit(cache=True, error_model="numpy")
def _rl_stop(ln, p, seg_t, n_seg, t_eval, lane_i, lane_f):
    """Next stop of lane ``ln``: its next output time or input change."""
    nxt = lane_i[ln, RL_NXT]
    seg_end = seg_t[p, nxt] if nxt < n_seg else math.inf
    lane_f[ln, RF_SEGEND] = seg_end
    lane_f[ln, RF_STOP] = min(t_eval[lane_i[ln, RL_J]], seg_end)


@njit(cache=True, error_model="numpy")
def _rl_load(ln, p, reset, y0, P, seg_t, seg_u, t_eval, h_init, y, q, qrow, w, wrow, lane_i,
             lane_f, y_out, status, stats):  # fmt: skip
    """Put patient ``p`` into lane ``ln``; False if it has nothing to integrate."""
    S = N_STATES
    L = LANES
    if reset:
        for s in range(stats.shape[1]):
            stats[p, s] = 0
    stats[p, STAT_METHOD] = 1
    prepare_params(P[p], qrow[ln])
    for k in range(N_Q):
        q[k * L + ln] = qrow[ln, k]
    for i in range(S):
        y[i * L + ln] = y0[p, i]
    for jj in range(NONNEG_IDX.shape[0]):
        j = NONNEG_IDX[jj] * L + ln
        if y[j] < 0.0:
            y[j] = 0.0
    t = t_eval[0]
    seg = find_segment(seg_t[p], t)
    prepare_inputs(qrow[ln], seg_u[p, seg], wrow)
    for k in range(N_W):
        w[k * L + ln] = wrow[k]
    jo = 0
    while jo < t_eval.shape[0] and t_eval[jo] <= t:
        for i in range(S):
            y_out[p, jo, i] = y[i * L + ln]
        jo += 1
    lane_i[ln, RL_P] = p
    lane_i[ln, RL_SEG] = seg
    lane_i[ln, RL_NXT] = next_change(seg_u[p], seg)
    lane_i[ln, RL_J] = jo
    lane_i[ln, RL_STEPS] = 0
    lane_i[ln, RL_NAN] = 0
    lane_i[ln, RL_LASTREJ] = 0
    lane_i[ln, RL_NEEDJ] = 1
    lane_i[ln, RL_CLAMP] = 0
    lane_i[ln, RL_SING] = 0
    lane_f[ln, RF_T] = t
    lane_f[ln, RF_H] = h_init
    if jo >= t_eval.shape[0]:
        status[p] = STATUS_OK
        lane_i[ln, RL_P] = LANE_FREE
        return False
    _rl_stop(ln, p, seg_t, seg_u.shape[1], t_eval, lane_i, lane_f)
    return True


@njit(cache=True, error_model="numpy")
def _rl_factor(nl, jm, inv_hg, em, piv, big, pv, inv, fk):
    """Factor E = 1/(h gamma) I - J of every lane, block by block.

    In the order of BLK_PERM, E is block lower triangular (BLK_* come from
    ``codegen.block_structure``: the strongly connected components of the Jacobian's
    pattern), so only its diagonal blocks are factored, each with partial pivoting as in
    ``lu_factor_inplace``; block b's factors go to ``em`` at BLK_LUOFF[b] (row-major, lane
    innermost) and its pivots to ``piv[(BLK_START[b] + k)*LANES + ln]`` (rows local to the
    block).  ``big[ln]`` ends <= 0 (or NaN) for a lane whose matrix is singular.
    """
    S = N_STATES
    L = LANES
    for ln in range(nl):
        big[ln] = 1.0
    for b in range(BLK_N):
        s0 = BLK_START[b]
        nb = BLK_START[b + 1] - s0
        o = BLK_LUOFF[b]
        for r in range(nb):
            ir = BLK_PERM[s0 + r]
            for c in range(nb):
                src = (ir * S + BLK_PERM[s0 + c]) * L
                dst = (o + r * nb + c) * L
                for ln in range(nl):
                    em[dst + ln] = -jm[src + ln]
            d = (o + r * nb + r) * L
            for ln in range(nl):
                em[d + ln] += inv_hg[ln]
        for k in range(nb):
            dk = (o + k * nb + k) * L
            for ln in range(nl):
                pv[ln] = k
                fk[ln] = abs(em[dk + ln])
            for i in range(k + 1, nb):
                oo = (o + i * nb + k) * L
                for ln in range(nl):
                    v = abs(em[oo + ln])
                    if v > fk[ln]:
                        fk[ln] = v
                        pv[ln] = i
            for ln in range(nl):
                m = pv[ln]
                piv[(s0 + k) * L + ln] = m
                if not fk[ln] > 0.0:
                    big[ln] = 0.0
                if m != k:
                    for jj in range(nb):
                        o1 = (o + k * nb + jj) * L + ln
                        o2 = (o + m * nb + jj) * L + ln
                        tmp = em[o1]
                        em[o1] = em[o2]
                        em[o2] = tmp
            for ln in range(nl):
                inv[ln] = 1.0 / em[dk + ln]
            for i in range(k + 1, nb):
                oi = (o + i * nb + k) * L
                for ln in range(nl):
                    em[oi + ln] = em[oi + ln] * inv[ln]
                for jj in range(k + 1, nb):
                    oij = (o + i * nb + jj) * L
                    okj = (o + k * nb + jj) * L
                    for ln in range(nl):
                        em[oij + ln] = em[oij + ln] - em[oi + ln] * em[okj + ln]


@njit(cache=True, error_model="numpy")
def _rl_solve(nl, jm, em, piv, x, tmp):
    """Overwrite every lane's ``x`` with E^-1 x (block forward substitution on the factors
    of ``_rl_factor``; off the diagonal blocks E is -J)."""
    S = N_STATES
    L = LANES
    for b in range(BLK_N):
        s0 = BLK_START[b]
        nb = BLK_START[b + 1] - s0
        o = BLK_LUOFF[b]
        for r in range(nb):
            ir = BLK_PERM[s0 + r]
            for kk in range(BLK_OFF_PTR[s0 + r], BLK_OFF_PTR[s0 + r + 1]):
                jc = BLK_OFF_COL[kk]
                src = (ir * S + jc) * L
                for ln in range(nl):
                    x[ir * L + ln] = x[ir * L + ln] + jm[src + ln] * x[jc * L + ln]
            for ln in range(nl):
                tmp[r * L + ln] = x[ir * L + ln]
        for k in range(nb):
            for ln in range(nl):
                m = piv[(s0 + k) * L + ln]
                if m != k:
                    t = tmp[k * L + ln]
                    tmp[k * L + ln] = tmp[m * L + ln]
                    tmp[m * L + ln] = t
        for i in range(nb):
            for jj in range(i):
                oo = (o + i * nb + jj) * L
                for ln in range(nl):
                    tmp[i * L + ln] = tmp[i * L + ln] - em[oo + ln] * tmp[jj * L + ln]
        for i in range(nb - 1, -1, -1):
            for jj in range(i + 1, nb):
                oo = (o + i * nb + jj) * L
                for ln in range(nl):
                    tmp[i * L + ln] = tmp[i * L + ln] - em[oo + ln] * tmp[jj * L + ln]
            oo = (o + i * nb + i) * L
            for ln in range(nl):
                tmp[i * L + ln] = tmp[i * L + ln] / em[oo + ln]
        for r in range(nb):
            ir = BLK_PERM[s0 + r]
            for ln in range(nl):
                x[ir * L + ln] = tmp[r * L + ln]


@njit(cache=True, error_model="numpy")
def rosenbrock_lanes(nl, patients, reset, y0, P, seg_t, seg_u, t_eval, rtol, atol, max_steps,
                     h_init, y_out, status, stats):  # fmt: skip
    """Integrate the listed patients with RODAS4 in LANES SIMD lanes.

    ``nl`` must equal LANES (see ``dopri5_lanes``); ``patients`` are batch rows.  With
    ``reset`` a patient's work counters start at zero; without (a re-solve after DOPRI5
    found the patient stiff) they add to those of the first attempt, as in
    ``solve_batch``.  Writes the ``y_out`` (every entry from the first output on, NaN
    after a failure), ``status`` and ``stats`` rows of those patients.
    """
    L = LANES
    S = N_STATES
    n_out = t_eval.shape[0]
    n_seg = seg_u.shape[1]
    SL = S * L
    y = np.zeros(SL)
    f0 = np.zeros(SL)
    ft = np.zeros(SL)
    fs = np.zeros(SL)
    k1 = np.zeros(SL)
    k2 = np.zeros(SL)
    k3 = np.zeros(SL)
    k4 = np.zeros(SL)
    k5 = np.zeros(SL)
    k6 = np.zeros(SL)
    ys = np.zeros(SL)
    ynew = np.zeros(SL)
    jm = np.zeros(S * SL)  # zeros outside the Jacobian's structural non-zeros
    em = np.zeros(BLK_LUSIZE * L)
    stmp = np.zeros(SL)
    piv = np.zeros(SL, dtype=np.int64)
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
    inv_hg = np.zeros(L)
    delt = np.zeros(L)
    err = np.zeros(L)
    big = np.zeros(L)
    inv = np.zeros(L)
    fk = np.zeros(L)
    pv = np.zeros(L, dtype=np.int64)
    hc = np.zeros((15, L))  # RO_Cij / h per lane
    hd = np.zeros((4, L))  # h RO_Di per lane
    lane_i = np.zeros((L, 10), dtype=np.int64)
    lane_f = np.zeros((L, 4))
    for ln in range(L):
        lane_i[ln, RL_P] = LANE_FREE
    nxt_p = 0
    n_pat = patients.shape[0]
    for ln in range(L):
        while lane_i[ln, RL_P] == LANE_FREE and nxt_p < n_pat:
            _rl_load(ln, patients[nxt_p], reset, y0, P, seg_t, seg_u, t_eval, h_init, y, q, qrow,
                     w, wrow, lane_i, lane_f, y_out, status, stats)  # fmt: skip
            nxt_p += 1
    while True:
        active = 0
        need = 0
        for ln in range(L):
            tl[ln] = lane_f[ln, RF_T]
            if lane_i[ln, RL_P] != LANE_FREE:
                active += 1
                need += lane_i[ln, RL_NEEDJ]
        if active == 0:
            break
        # f0, f_t (forward difference in t, as in RODAS) and J at (t, y) of every lane
        if need > 0:
            rhs_lanes(nl, tl, y, q, w, f0)
            for ln in range(L):
                ts[ln] = tl[ln] + math.sqrt(RO_UROUND * max(1e-5, abs(tl[ln])))
                delt[ln] = ts[ln] - tl[ln]  # the increment actually represented
            rhs_lanes(nl, ts, y, q, w, ft)
            for i in range(S):
                for ln in range(nl):
                    ft[i * L + ln] = (ft[i * L + ln] - f0[i * L + ln]) / delt[ln]
            jac_lanes(nl, tl, y, q, w, jm)
            for ln in range(L):
                if lane_i[ln, RL_P] == LANE_FREE or lane_i[ln, RL_NEEDJ] == 0:
                    continue
                p = lane_i[ln, RL_P]
                lane_i[ln, RL_NEEDJ] = 0
                stats[p, STAT_NFEV] += 2
                stats[p, STAT_NJEV] += 1
                if lane_f[ln, RF_H] <= 0.0:
                    for i in range(S):
                        col_y[i] = y[i * L + ln]
                        col_f[i] = f0[i * L + ln]
                    prepare_inputs(qrow[ln], seg_u[p, lane_i[ln, RL_SEG]], wrow)
                    lane_f[ln, RF_H] = initial_step(
                        tl[ln], col_y, col_f, qrow[ln], wrow, 4.0, rtol, atol,
                        lane_f[ln, RF_STOP] - tl[ln], work_y, work_f,
                    )  # fmt: skip
                    stats[p, STAT_NFEV] += 1
        # trial step of every lane (free lanes: a harmless step of size 1)
        for ln in range(L):
            hs[ln] = 1.0
            if lane_i[ln, RL_P] == LANE_FREE:
                continue
            p = lane_i[ln, RL_P]
            t = lane_f[ln, RF_T]
            if lane_i[ln, RL_STEPS] >= max_steps:
                status[p] = STATUS_MAX_STEPS
                _nan_rows(y_out, p, lane_i[ln, RL_J])
                lane_i[ln, RL_P] = LANE_FREE
                continue
            remaining = lane_f[ln, RF_STOP] - t
            clamped = lane_f[ln, RF_H] >= remaining
            h = remaining if clamped else lane_f[ln, RF_H]
            if h <= 1e-13 * max(1.0, abs(t)):
                status[p] = STATUS_NONFINITE if lane_i[ln, RL_NAN] else STATUS_STEP_UNDERFLOW
                _nan_rows(y_out, p, lane_i[ln, RL_J])
                lane_i[ln, RL_P] = LANE_FREE
                continue
            lane_i[ln, RL_STEPS] += 1
            lane_i[ln, RL_CLAMP] = 1 if clamped else 0
            hs[ln] = h
        for ln in range(nl):
            h = hs[ln]
            inv_hg[ln] = 1.0 / (h * RO_GAMMA)
            hc[0, ln] = RO_C21 / h
            hc[1, ln] = RO_C31 / h
            hc[2, ln] = RO_C32 / h
            hc[3, ln] = RO_C41 / h
            hc[4, ln] = RO_C42 / h
            hc[5, ln] = RO_C43 / h
            hc[6, ln] = RO_C51 / h
            hc[7, ln] = RO_C52 / h
            hc[8, ln] = RO_C53 / h
            hc[9, ln] = RO_C54 / h
            hc[10, ln] = RO_C61 / h
            hc[11, ln] = RO_C62 / h
            hc[12, ln] = RO_C63 / h
            hc[13, ln] = RO_C64 / h
            hc[14, ln] = RO_C65 / h
            hd[0, ln] = h * RO_D1
            hd[1, ln] = h * RO_D2
            hd[2, ln] = h * RO_D3
            hd[3, ln] = h * RO_D4
        # E = 1/(h gamma) I - J, factored block by block
        _rl_factor(nl, jm, inv_hg, em, piv, big, pv, inv, fk)
        # stage 1
        for i in range(S):
            for ln in range(nl):
                j = i * L + ln
                k1[j] = f0[j] + hd[0, ln] * ft[j]
        _rl_solve(nl, jm, em, piv, k1, stmp)
        # stage 2
        for i in range(S):
            for ln in range(nl):
                j = i * L + ln
                ys[j] = y[j] + RO_A21 * k1[j]
        for ln in range(nl):
            ts[ln] = tl[ln] + RO_C2 * hs[ln]
        rhs_lanes(nl, ts, ys, q, w, fs)
        for i in range(S):
            for ln in range(nl):
                j = i * L + ln
                k2[j] = fs[j] + hd[1, ln] * ft[j] + hc[0, ln] * k1[j]
        _rl_solve(nl, jm, em, piv, k2, stmp)
        # stage 3
        for i in range(S):
            for ln in range(nl):
                j = i * L + ln
                ys[j] = y[j] + RO_A31 * k1[j] + RO_A32 * k2[j]
        for ln in range(nl):
            ts[ln] = tl[ln] + RO_C3 * hs[ln]
        rhs_lanes(nl, ts, ys, q, w, fs)
        for i in range(S):
            for ln in range(nl):
                j = i * L + ln
                k3[j] = fs[j] + hd[2, ln] * ft[j] + (hc[1, ln] * k1[j] + hc[2, ln] * k2[j])
        _rl_solve(nl, jm, em, piv, k3, stmp)
        # stage 4
        for i in range(S):
            for ln in range(nl):
                j = i * L + ln
                ys[j] = y[j] + RO_A41 * k1[j] + RO_A42 * k2[j] + RO_A43 * k3[j]
        for ln in range(nl):
            ts[ln] = tl[ln] + RO_C4 * hs[ln]
        rhs_lanes(nl, ts, ys, q, w, fs)
        for i in range(S):
            for ln in range(nl):
                j = i * L + ln
                k4[j] = fs[j] + hd[3, ln] * ft[j] + (
                    hc[3, ln] * k1[j] + hc[4, ln] * k2[j] + hc[5, ln] * k3[j]
                )  # fmt: skip
        _rl_solve(nl, jm, em, piv, k4, stmp)
        # stage 5
        for i in range(S):
            for ln in range(nl):
                j = i * L + ln
                ys[j] = y[j] + RO_A51 * k1[j] + RO_A52 * k2[j] + RO_A53 * k3[j] + RO_A54 * k4[j]
        for ln in range(nl):
            ts[ln] = tl[ln] + hs[ln]
        rhs_lanes(nl, ts, ys, q, w, fs)
        for i in range(S):
            for ln in range(nl):
                j = i * L + ln
                k5[j] = fs[j] + (
                    hc[6, ln] * k1[j] + hc[7, ln] * k2[j] + hc[8, ln] * k3[j] + hc[9, ln] * k4[j]
                )  # fmt: skip
        _rl_solve(nl, jm, em, piv, k5, stmp)
        # stage 6: ys becomes the embedded order-3 solution
        for j in range(SL):
            ys[j] += k5[j]
        rhs_lanes(nl, ts, ys, q, w, fs)
        for i in range(S):
            for ln in range(nl):
                j = i * L + ln
                k6[j] = fs[j] + (
                    hc[10, ln] * k1[j] + hc[11, ln] * k2[j] + hc[12, ln] * k3[j]
                    + hc[13, ln] * k4[j] + hc[14, ln] * k5[j]
                )  # fmt: skip
        _rl_solve(nl, jm, em, piv, k6, stmp)
        for j in range(SL):
            ynew[j] = ys[j] + k6[j]
        # error norms (Hairer's scaled RMS norm of k6, as rms_norm)
        for ln in range(nl):
            err[ln] = 0.0
        for i in range(S):
            for ln in range(nl):
                j = i * L + ln
                a = abs(y[j])
                c = abs(ynew[j])
                r = k6[j] / (atol + rtol * (a if a > c else c))
                err[ln] += r * r
        for ln in range(nl):
            err[ln] = math.sqrt(err[ln] / S)
        # step control, lane by lane
        for ln in range(L):
            p = lane_i[ln, RL_P]
            if p == LANE_FREE:
                continue
            h = hs[ln]
            if not big[ln] > 0.0:  # singular: reject, halve the step
                stats[p, STAT_REJECTED] += 1
                lane_i[ln, RL_LASTREJ] = 1
                lane_f[ln, RF_H] = 0.5 * h
                continue
            stats[p, STAT_NFEV] += 5
            e = err[ln]
            if not math.isfinite(e):
                lane_i[ln, RL_NAN] = 1
                stats[p, STAT_REJECTED] += 1
                lane_i[ln, RL_LASTREJ] = 1
                lane_f[ln, RF_H] = 0.25 * h
                continue
            if e > 1.0:
                stats[p, STAT_REJECTED] += 1
                lane_i[ln, RL_LASTREJ] = 1
                lane_f[ln, RF_H] = h * max(RO_FAC_MIN, RO_SAFETY * e**-0.25)
                continue
            lane_i[ln, RL_NAN] = 0
            stats[p, STAT_ACCEPTED] += 1
            clamped = lane_i[ln, RL_CLAMP] == 1
            t = lane_f[ln, RF_STOP] if clamped else lane_f[ln, RF_T] + h
            lane_f[ln, RF_T] = t
            ok = True
            for i in range(S):
                y[i * L + ln] = ynew[i * L + ln]
            for jj in range(NONNEG_IDX.shape[0]):
                j = NONNEG_IDX[jj] * L + ln
                if y[j] < 0.0:
                    y[j] = 0.0
            for i in range(S):
                if not math.isfinite(y[i * L + ln]):
                    ok = False
            if not ok:
                status[p] = STATUS_NONFINITE
                _nan_rows(y_out, p, lane_i[ln, RL_J])
                lane_i[ln, RL_P] = LANE_FREE
                continue
            lane_i[ln, RL_NEEDJ] = 1
            if e == 0.0:
                fac = RO_FAC_MAX
            else:
                fac = min(RO_FAC_MAX, max(RO_FAC_MIN, RO_SAFETY * e**-0.25))
            if lane_i[ln, RL_LASTREJ] == 1:
                fac = min(fac, 1.0)
            lane_i[ln, RL_LASTREJ] = 0
            hn = h * fac
            lane_f[ln, RF_H] = max(hn, lane_f[ln, RF_H]) if clamped else hn
            if t < lane_f[ln, RF_STOP]:
                continue
            # at a stop: outputs, then the input segment
            jo = lane_i[ln, RL_J]
            while jo < n_out and t_eval[jo] <= t:
                for i in range(S):
                    y_out[p, jo, i] = y[i * L + ln]
                jo += 1
            lane_i[ln, RL_J] = jo
            if t >= lane_f[ln, RF_SEGEND] and lane_i[ln, RL_NXT] < n_seg:
                seg = lane_i[ln, RL_NXT]
                lane_i[ln, RL_SEG] = seg
                prepare_inputs(qrow[ln], seg_u[p, seg], wrow)
                for k in range(N_W):
                    w[k * L + ln] = wrow[k]
                lane_i[ln, RL_NXT] = next_change(seg_u[p], seg)
            if jo >= n_out:
                status[p] = STATUS_OK
                lane_i[ln, RL_P] = LANE_FREE
                continue
            _rl_stop(ln, p, seg_t, n_seg, t_eval, lane_i, lane_f)
        # refill free lanes
        for ln in range(L):
            while lane_i[ln, RL_P] == LANE_FREE and nxt_p < n_pat:
                _rl_load(ln, patients[nxt_p], reset, y0, P, seg_t, seg_u, t_eval, h_init, y, q,
                         qrow, w, wrow, lane_i, lane_f, y_out, status, stats)  # fmt: skip
                nxt_p += 1
