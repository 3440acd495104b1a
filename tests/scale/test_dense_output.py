"""The engine's fast path used by the streaming runner: dense output and SIMD lanes.

``integrate(..., dense=True)``: outputs between steps come from DOPRI5's order-4
continuous extension; steps stop only at input changes and at the last output time,
so they do not depend on the output grid.  By default such runs integrate patients
side by side in SIMD lanes (``simd``), with vectorisable exp/log/pow/tanh.
(Engine-level tests, kept next to the runner that relies on them.)
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from gutskin.engine import (
    EngineError,
    Exposure,
    Input,
    ModelSpec,
    Parameter,
    State,
    build_schedule,
    integrate,
)
from gutskin.engine.codegen import load_kernel


@pytest.fixture(scope="module")
def decay_spec() -> ModelSpec:
    """dx/dt = u - k x; z = x^2 checks a nonlinear output; v exercises tanh, exp and t."""
    return ModelSpec(
        name="dense_decay",
        description="",
        states=[
            State("x", "1", "x", 1.0),
            State("z", "1", "z", 1.0),
            State("v", "1", "v", 0.0, nonnegative=False),  # crosses zero: no projection
        ],
        parameters=[Parameter("k", 0.5, "1/day", "rate")],
        inputs=[Input("u", "1/day", "input")],
        rates={"x": "u - k*x", "z": "2*x*(u - k*x)", "v": "tanh(x - 1)*exp(-t/10) - k*v"},
    )


@pytest.fixture(scope="module")
def kepler_spec() -> ModelSpec:
    r3 = "(q1**2 + q2**2)**1.5"
    return ModelSpec(
        name="dense_kepler",
        description="",
        states=[State(n, "1", n, 0.0, nonnegative=False) for n in ("q1", "q2", "p1", "p2")],
        parameters=[Parameter("gm", 1.0, "1", "")],
        rates={"q1": "p1", "q2": "p2", "p1": f"-gm*q1/{r3}", "p2": f"-gm*q2/{r3}"},
    )


def _exact(sched, t):
    """x(t) of dx/dt = u(t) - 0.5 x, x(0) = 1, u piecewise constant."""
    out = np.empty(t.size)
    for j, tj in enumerate(t):
        x, s = 1.0, 0.0
        for k in range(sched.values.shape[1]):
            a, b = sched.times[k], sched.times[k + 1]
            if a >= tj:
                break
            u = sched.values[0, k, 0]
            x = 2 * u + (x - 2 * u) * np.exp(-0.5 * (min(b, tj) - s))
            s = min(b, tj)
        out[j] = x
    return out


def test_dense_matches_exact_solution_with_input_steps(decay_spec):
    sched = build_schedule(
        ["u"], [0.0], [Exposure("u", 1.5, start=2.25, stop=7.5, pattern="daily")], 1, t0=0.0
    )
    t = np.linspace(0.0, 12.0, 97)
    res = integrate(
        decay_spec, [1.0, 1.0, 0.0], [0.5], t, sched, dense=True, rtol=1e-10, atol=1e-12
    )
    assert res.ok.all()
    x = _exact(sched, t)
    np.testing.assert_allclose(res.y[0, :, 0], x, rtol=2e-9, atol=1e-12)
    np.testing.assert_allclose(res.y[0, :, 1], x**2, rtol=2e-9, atol=1e-12)
    clamped = integrate(decay_spec, [1.0, 1.0, 0.0], [0.5], t, sched, rtol=1e-10, atol=1e-12)
    assert res.n_accepted[0] < clamped.n_accepted[0]


def test_steps_do_not_depend_on_output_grid(kepler_spec):
    e = 0.5
    y0 = [1 - e, 0.0, 0.0, np.sqrt((1 + e) / (1 - e))]
    fine = integrate(kepler_spec, y0, [1.0], np.linspace(0, 6, 601), dense=True, rtol=1e-8)
    coarse = integrate(kepler_spec, y0, [1.0], np.array([0.0, 1.5, 3.0, 6.0]), dense=True,
                       rtol=1e-8)  # fmt: skip
    assert fine.n_accepted[0] == coarse.n_accepted[0]
    assert fine.n_rhs[0] == coarse.n_rhs[0]
    np.testing.assert_array_equal(fine.y[0, [0, 150, 300, 600]], coarse.y[0])
    # interpolated values are as accurate as the steps (energy of the orbit)
    q1, q2, p1, p2 = fine.y[0].T
    energy = 0.5 * (p1**2 + p2**2) - 1 / np.hypot(q1, q2)
    assert np.abs(energy + 0.5).max() < 1e-6


def test_interpolated_outputs_respect_nonnegativity(decay_spec):
    # a fast decay to zero: the continuous extension may undershoot; outputs are clipped
    t = np.linspace(0.0, 40.0, 401)
    res = integrate(decay_spec, [1.0, 1.0, 0.0], [5.0], t, dense=True, rtol=1e-3, atol=1e-12)
    assert res.ok.all() and (res.y[:, :, :2] >= 0).all()  # x and z are non-negative


def test_dense_requires_nothing_of_rosenbrock(decay_spec):
    """The flag is ignored by the Rosenbrock method, which always steps onto output times."""
    t = np.linspace(0.0, 4.0, 9)
    a = integrate(decay_spec, [1.0, 1.0, 0.0], [0.5], t, method="rosenbrock", dense=True)
    b = integrate(decay_spec, [1.0, 1.0, 0.0], [0.5], t, method="rosenbrock")
    np.testing.assert_array_equal(a.y, b.y)


def _daily_batch(n: int):
    sched = build_schedule(
        ["u"], [0.0], [Exposure("u", 1.0, start=0.0, stop=20.0, pattern="daily", adherence=0.7)],
        n, t0=0.0, seed=11, indices=np.arange(n),
    )  # fmt: skip
    rng = np.random.default_rng(3)
    k = np.exp(rng.normal(np.log(0.5), 0.5, n))[:, None]
    y0 = np.column_stack([rng.uniform(0.5, 2, n), np.ones(n), np.zeros(n)])
    return y0, k, sched


def test_simd_results_do_not_depend_on_lanes_chunks_or_threads(decay_spec):
    import numba

    y0, k, sched = _daily_batch(300)
    t = np.linspace(0.0, 30.0, 61)
    base = integrate(decay_spec, y0, k, t, sched, dense=True, rtol=1e-7, chunk_size=1000)
    assert base.ok.all()
    try:
        for kw in ({"chunk_size": 1}, {"chunk_size": 13, "n_threads": 1},
                   {"chunk_size": 300, "n_threads": 2}):  # fmt: skip
            other = integrate(decay_spec, y0, k, t, sched, dense=True, rtol=1e-7, **kw)
            np.testing.assert_array_equal(other.y, base.y, err_msg=str(kw))
            np.testing.assert_array_equal(other.n_rhs, base.n_rhs)
        # one patient alone gets exactly what it got in a full batch
        alone = integrate(decay_spec, y0[[57]], k[[57]], t, sched.slice(57, 58), dense=True,
                          rtol=1e-7)  # fmt: skip
        np.testing.assert_array_equal(alone.y[0], base.y[57])
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    # z' does not depend on z, so its errors are absolute and stay while z decays
    scalar = integrate(decay_spec, y0, k, t, sched, dense=True, simd=False, rtol=1e-7)
    np.testing.assert_allclose(base.y, scalar.y, rtol=1e-5, atol=1e-6)
    tight = integrate(decay_spec, y0, k, t, sched, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(base.y, tight.y, rtol=1e-5, atol=1e-5)


def test_simd_needs_dense(decay_spec):
    with pytest.raises(EngineError, match="simd=True needs dense=True"):
        integrate(decay_spec, [1.0, 1.0, 0.0], [0.5], [0.0, 1.0], simd=True)


@njit
def _apply1(f, x, out):
    for i in range(x.size):
        out[i] = f(x[i])


@njit
def _apply2(f, x, y, out):
    for i in range(x.size):
        out[i] = f(x[i], y[i])


def _ulp(a, b):
    return np.abs(a - b) / np.spacing(np.abs(b))


def test_vector_math_matches_libm(decay_spec):
    kern = load_kernel(decay_spec)
    rng = np.random.default_rng(0)
    out = np.empty(200_000)
    x = rng.uniform(-745.0, 709.7, out.size)
    _apply1(kern.vexp, x, out)
    ref = np.exp(x)
    normal = ref > 2.3e-308
    assert _ulp(out[normal], ref[normal]).max() <= 1.0
    np.testing.assert_allclose(out[~normal], ref[~normal], rtol=1e-3, atol=5e-324)
    x = np.exp(rng.uniform(-744.0, 709.0, out.size))
    _apply1(kern.vlog, x, out)
    assert _ulp(out, np.log(x)).max() <= 1.0
    x = rng.uniform(-3.0, 3.0, out.size)
    _apply1(kern.vtanh, x, out)
    np.testing.assert_allclose(out, np.tanh(x), rtol=1e-14, atol=0)
    x, y = rng.uniform(1e-3, 1e3, out.size), rng.uniform(-4.0, 4.0, out.size)
    _apply2(kern.vpow, x, y, out)
    np.testing.assert_allclose(out, x**y, rtol=1e-14, atol=0)
    special = np.array([0.0, -0.0, -1.0, np.inf, np.nan, 5e-324, 1e-310, 1.0])
    got = np.empty(special.size)
    _apply1(kern.vlog, special, got)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(got, np.log(special))
    special = np.array([-800.0, 800.0, np.nan, np.inf, -np.inf, 709.7, -744.0, 0.0])
    _apply1(kern.vexp, special, got)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(got, np.exp(special), rtol=1e-15)
    bx = np.array([0.0, 0.0, -2.0, -2.0, -2.0, 2.0, 1.0, 0.0, np.inf])
    by = np.array([2.0, -1.0, 3.0, 2.0, 0.5, 0.5, np.nan, 0.0, -1.0])
    got = np.empty(bx.size)
    _apply2(kern.vpow, bx, by, got)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(got, bx**by, rtol=1e-15)


def test_vector_cos_matches_libm(decay_spec):
    """vcos (the smooth inputs' cosine in the lane kernel) agrees with libm to 2 ulp of 1."""
    kern = load_kernel(decay_spec)
    rng = np.random.default_rng(1)
    x = np.concatenate(
        [rng.uniform(-10.0, 10.0, 100_000), rng.uniform(-2e4, 2e4, 100_000), [0.0, -0.0]]
    )
    out = np.empty(x.size)
    _apply1(kern.vcos, x, out)
    # absolute error against cos, in units of the spacing of 1 (cos takes values in [-1, 1])
    assert np.abs(out - np.cos(x)).max() <= 2 * np.spacing(1.0)
    special = np.array([np.nan, np.inf, -np.inf])
    got = np.empty(special.size)
    _apply1(kern.vcos, special, got)
    assert np.isnan(got).all()
