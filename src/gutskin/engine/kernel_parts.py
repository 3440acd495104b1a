"""Pieces of the generated kernel source that need no expression printer.

The smooth-input prologues (the sums of random Fourier features the kernel adds to its
smooth inputs, scalar and per SIMD lane) and the block structure of the Jacobian's pattern
that the lane Rosenbrock solver uses; :mod:`gutskin.engine.codegen` assembles them into the
model's kernel module.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from gutskin.engine.spec import ModelSpec

__all__ = ["LANES", "block_structure"]

#: Patients integrated side by side in one SIMD lane group.
LANES = 8

#: ``jac_lanes`` for a model whose Jacobian uses a function with no lane form (``sign``,
#: the derivative of ``abs``): lane by lane through the scalar ``jac_fast``.
_JAC_LANES_SCALAR = '''
@njit(cache=True, error_model="numpy")
def jac_lanes(n, t, y, q, w, J):
    """Jacobian of ``n`` lanes, lane by lane with ``jac_fast`` (this model's Jacobian uses
    a function with no vectorisable form)."""
    yy = np.empty(N_STATES)
    qq = np.empty(N_Q)
    ww = np.empty(N_W)
    jj = np.empty((N_STATES, N_STATES))
    for ln in range(n):
        for i in range(N_STATES):
            yy[i] = y[i * LANES + ln]
        for i in range(N_Q):
            qq[i] = q[i * LANES + ln]
        for i in range(N_W):
            ww[i] = w[i * LANES + ln]
        jac_fast(t[ln], yy, qq, ww, jj)
        for i in range(N_STATES):
            for j in range(N_STATES):
                J[(i * N_STATES + j) * LANES + ln] = jj[i, j]
'''


def _smooth_terms(spec: ModelSpec) -> tuple[dict[sp.Symbol, sp.Expr], list[sp.Symbol]]:
    """Substitution ``u -> u + _sm<i>`` for each smooth input, and the feature symbols.

    ``_sm<i>`` stands for ``sum_k a_k cos(omega_k t + phi_k)`` over the input's features,
    which are kernel parameters after the table's (``q[P + j]``, see
    :meth:`ModelSpec.feature_layout`), so each patient has its own; the sum is a
    closed-form function of time, so it needs no breakpoints and no solver restarts.
    It is computed once per call by a loop over the features (:func:`_smooth_prologue`,
    :func:`_smooth_lane_prologue`) rather than written out, which keeps the generated
    code, and its compile time, small.
    """
    n_p = len(spec.parameters)
    sub: dict[sp.Symbol, sp.Expr] = {}
    feats: list[sp.Symbol] = []
    for i, (name, first, k) in enumerate(spec.feature_layout()):
        feats.extend(sp.Symbol(f"q[{n_p + first + j}]", real=True) for j in range(3 * k))
        sub[spec.symbols[name]] = spec.symbols[name] + sp.Symbol(f"_sm{i}", real=True)
    return sub, feats


def _smooth_prologue(spec: ModelSpec) -> tuple[str, ...]:
    """Scalar code computing ``_sm<i>`` at time ``t`` (see :func:`_smooth_terms`)."""
    n_p, lines = len(spec.parameters), []
    for i, (_, first, k) in enumerate(spec.feature_layout()):
        b = n_p + first
        lines += [
            f"_sm{i} = 0.0",
            f"for _j in range({k}):",
            f"    if q[{b} + 3*_j] != 0.0:  # a zero amplitude (no noise) costs no cosine",
            f"        _sm{i} += q[{b} + 3*_j]*math.cos(q[{b + 1} + 3*_j]*t + q[{b + 2} + 3*_j])",
        ]
    return tuple(lines)


def _smooth_lane_prologue(spec: ModelSpec, slot0: int) -> list[str]:
    """Lane code writing ``_sm<i>`` of every lane into ``w[(slot0 + i)*LANES + ln]``.

    Features outside, lanes inside: the inner loop over lanes vectorises like the
    right-hand side itself (one ``vcos`` per lane and feature).
    """
    n_p, lines = len(spec.parameters), []
    for i, (_, first, k) in enumerate(spec.feature_layout()):
        o, b = (slot0 + i) * LANES, (n_p + first) * LANES
        lines += [
            "    for ln in range(n):",
            f"        w[{o} + ln] = 0.0",
            f"    for _j in range({k}):",
            f"        _o = {b} + 3*_j*{LANES}",
            "        _live = False",  # a feature no lane uses (no noise) costs no cosine
            "        for ln in range(n):",
            "            _live = _live or q[_o + ln] != 0.0",
            "        if _live:",
            "            for ln in range(n):",
            f"                w[{o} + ln] += q[_o + ln]*vcos(q[_o + {LANES} + ln]*t[ln]"
            f" + q[_o + {2 * LANES} + ln])",
        ]
    return lines


def block_structure(n: int, entries: Sequence[tuple[int, int]]) -> tuple[list[list[int]], dict]:
    """Block lower-triangular form of an ``n``-state Jacobian pattern.

    ``entries`` are the structural non-zeros ``(i, j)`` (d rate_i / d y_j).  Returns the
    strongly connected components of the dependency graph (i depends on j) in an order
    where every block depends only on itself and earlier blocks (Tarjan's order), and
    for every state the earlier-block columns of its row.  A matrix ``c I - J`` is then
    block lower triangular in that order: it is factored block by block and solved by
    block forward substitution (``rosenbrock_lanes``), which for a model whose feedback
    loops are small costs a fraction of a dense LU.
    """
    deps: list[list[int]] = [[] for _ in range(n)]
    for i, j in entries:
        if i != j:
            deps[i].append(j)
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on: set[int] = set()
    blocks: list[list[int]] = []

    def visit(v: int) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in deps[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            blocks.append(sorted(comp))

    for v in range(n):
        if v not in index:
            visit(v)
    block_of = {v: b for b, comp in enumerate(blocks) for v in comp}
    off = {i: sorted({j for j in deps[i] if block_of[j] != block_of[i]}) for i in range(n)}
    return blocks, off


def _block_constants(n: int, entries: Sequence[tuple[int, int]]) -> list[str]:
    """Generated constants of :func:`block_structure` for ``rosenbrock_lanes``."""
    blocks, off = block_structure(n, entries)
    perm = [v for comp in blocks for v in comp]
    start = [0]
    luoff = [0]
    for comp in blocks:
        start.append(start[-1] + len(comp))
        luoff.append(luoff[-1] + len(comp) ** 2)
    ptr, cols = [0], []
    for v in perm:
        cols.extend(off[v])
        ptr.append(len(cols))
    return [
        f"BLK_N = {len(blocks)}",
        f"BLK_PERM = np.array({perm!r}, dtype=np.int64)",
        f"BLK_START = np.array({start!r}, dtype=np.int64)",
        f"BLK_LUOFF = np.array({luoff!r}, dtype=np.int64)",
        f"BLK_LUSIZE = {luoff[-1]}",
        f"BLK_OFF_PTR = np.array({ptr!r}, dtype=np.int64)",
        f"BLK_OFF_COL = np.array({cols!r}, dtype=np.int64)",
    ]
