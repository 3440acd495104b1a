# Shared numba helpers for the solver templates.
import math  # codegen: strip

from numba import njit  # codegen: strip

from gutskin.engine.templates._stub import NONNEG_IDX, rhs_fast  # codegen: strip

STATUS_OK = 0
STATUS_MAX_STEPS = 1
STATUS_NONFINITE = 2
STATUS_STEP_UNDERFLOW = 3
STATUS_STIFF = 4  # internal: DOPRI5 detected stiffness (auto mode switches method)

STAT_ACCEPTED = 0
STAT_REJECTED = 1
STAT_NFEV = 2
STAT_NJEV = 3
STAT_METHOD = 4
N_STATS = 5


@njit(cache=True)
def rms_norm(v, y_a, y_b, rtol, atol):
    """Hairer's scaled RMS norm with sc_i = atol + rtol * max(|y_a_i|, |y_b_i|)."""
    n = v.shape[0]
    acc = 0.0
    for i in range(n):
        sc = atol + rtol * max(abs(y_a[i]), abs(y_b[i]))
        r = v[i] / sc
        acc += r * r
    return math.sqrt(acc / n)


@njit(cache=True)
def project_nonnegative(y):
    """Clip the states flagged non-negative at zero; return True if any changed."""
    changed = False
    for j in range(NONNEG_IDX.shape[0]):
        i = NONNEG_IDX[j]
        if y[i] < 0.0:
            y[i] = 0.0
            changed = True
    return changed


@njit(cache=True)
def all_finite(y):
    for i in range(y.shape[0]):
        if not math.isfinite(y[i]):
            return False
    return True


@njit(cache=True)
def find_segment(seg_t, t):
    """Index k of the schedule segment with seg_t[k] <= t < seg_t[k+1]."""
    k = 0
    n = seg_t.shape[0] - 1
    while k + 1 < n and seg_t[k + 1] <= t:
        k += 1
    return k


@njit(cache=True)
def next_change(seg_u, seg):
    """First segment after ``seg`` whose inputs differ from those of ``seg`` (K if none).

    Breakpoints where no input changes (e.g. a daily dose taken every day) need
    neither a step boundary nor a restart of the integrator.
    """
    n_seg = seg_u.shape[0]
    for k in range(seg + 1, n_seg):
        for i in range(seg_u.shape[1]):
            if seg_u[k, i] != seg_u[seg, i]:
                return k
    return n_seg


@njit(cache=True)
def initial_step(t, y, f0, q, w, order, rtol, atol, hmax, work_y, work_f):
    """Hairer & Wanner (1993, II.4) starting step heuristic; uses one extra RHS call."""
    n = y.shape[0]
    d0 = rms_norm(y, y, y, rtol, atol) if n > 0 else 0.0
    d1 = rms_norm(f0, y, y, rtol, atol)
    if d0 < 1e-5 or d1 < 1e-5:
        h0 = 1e-6
    else:
        h0 = 0.01 * d0 / d1
    h0 = min(h0, hmax)
    for i in range(n):
        work_y[i] = y[i] + h0 * f0[i]
    rhs_fast(t + h0, work_y, q, w, work_f)
    for i in range(n):
        work_y[i] = (work_f[i] - f0[i]) / h0
    d2 = rms_norm(work_y, y, y, rtol, atol)
    dm = max(d1, d2)
    if dm <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / dm) ** (1.0 / (order + 1.0))
    return min(100.0 * h0, h1, hmax)
