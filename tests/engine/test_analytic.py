"""Accuracy against closed-form solutions, for every method."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from gutskin.engine import ModelSpec, State, Status, integrate
from gutskin.engine.codegen import load_kernel

METHODS = ("dopri5", "rosenbrock", "auto")

RTOL = 1e-8
ATOL = 1e-12


@pytest.mark.parametrize("method", METHODS)
def test_exponential_decay(scalar_spec, scalar_params, method):
    ks = np.array([0.3, 1.0, 2.0])
    t = np.linspace(0.0, 5.0, 11)
    res = integrate(
        scalar_spec, [1.0], [scalar_params(k=k) for k in ks], t, method=method,
        rtol=RTOL, atol=ATOL,
    )  # fmt: skip
    assert np.all(res.status == Status.OK)
    exact = np.exp(-np.outer(ks, t))
    rel = np.abs(res.y[:, :, 0] - exact) / exact
    # global error: within 100 x rtol relative, over up to 10 e-folds (x >> atol)
    assert rel.max() < 1e-6, rel.max()
    assert np.all(res.n_accepted > 0)
    assert np.all(res.method_used == (1 if method == "rosenbrock" else 0))


@pytest.mark.parametrize("method", METHODS)
def test_logistic_growth(scalar_spec, scalar_params, method):
    r, cap, x0 = 1.3, 10.0, 0.05
    t = np.linspace(0.0, 12.0, 25)
    res = integrate(
        scalar_spec, [x0], scalar_params(k=-r, b=-r / cap), t, method=method,
        rtol=RTOL, atol=ATOL,
    )  # fmt: skip
    assert res.status[0] == Status.OK
    exact = cap / (1.0 + (cap / x0 - 1.0) * np.exp(-r * t))
    rel = np.abs(res.y[0, :, 0] - exact) / exact
    assert rel.max() < 1e-6, rel.max()


@pytest.mark.parametrize("method", METHODS)
def test_explicit_time_dependence(scalar_spec, scalar_params, method):
    # dx/dt = -k x + w t: exercises t in the right-hand side (RODAS4 forms df/dt by
    # finite differences); x = w t/k - w/k^2 + (x0 + w/k^2) exp(-k t)
    k, w, x0 = 0.8, 1.5, 1.0
    t = np.linspace(0.0, 6.0, 13)
    res = integrate(
        scalar_spec, [x0], scalar_params(k=k, w=w), t, method=method, rtol=RTOL, atol=ATOL
    )
    assert res.status[0] == Status.OK
    exact = w * t / k - w / k**2 + (x0 + w / k**2) * np.exp(-k * t)
    rel = np.abs(res.y[0, :, 0] - exact) / np.abs(exact)
    assert rel.max() < 1e-6, rel.max()


A3 = np.array([[-0.2, 1.0, 0.0], [-1.0, -0.2, 0.3], [0.1, 0.4, -1.5]])


@pytest.mark.parametrize("method", METHODS)
def test_linear_system_matches_expm(linear3_spec, method):
    y0 = np.array([1.0, -0.5, 2.0])
    t = np.linspace(0.0, 10.0, 21)
    res = integrate(linear3_spec, y0, A3.ravel(), t, method=method, rtol=RTOL, atol=ATOL)
    assert res.status[0] == Status.OK
    exact = np.array([scipy.linalg.expm(A3 * ti) @ y0 for ti in t])
    err = np.abs(res.y[0] - exact).max()
    # |y| <= ~2 throughout; absolute error bound 1e-7 (10 x rtol x |y|max x margin)
    assert err < 1e-7, err


def test_generated_rhs_and_jacobian_are_exact():
    """Printed code evaluates the spec's expressions (incl. powers in denominators).

    Catches printer precedence bugs such as ``a/b**2`` printed as ``a/b*b``.
    """
    spec = ModelSpec(
        name="test_functions",
        description="expression coverage",
        states=[State(n, "1", n, 1.0, nonnegative=False) for n in ("a", "b", "c")],
        parameters=[],
        rates={
            "a": "2*a/(0.3 + a)**2 - sqrt(b)*exp(-c) + 1/b**3 - 1/(a + b)",
            "b": "tanh(a - c)*Max(a, c) - Min(b, 2)*log(b) + Abs(c - 1)**1.5",
            "c": "a**2/(b*c) - (a/b)**3 + 2**(-c) + b**4/c**2",
        },
    )

    def f(y):
        a, b, c = y
        return np.array([
            2 * a / (0.3 + a) ** 2 - math.sqrt(b) * math.exp(-c) + 1 / b**3 - 1 / (a + b),
            math.tanh(a - c) * max(a, c) - min(b, 2.0) * math.log(b) + abs(c - 1) ** 1.5,
            a**2 / (b * c) - (a / b) ** 3 + 2 ** (-c) + b**4 / c**2,
        ])  # fmt: skip

    kern = load_kernel(spec)
    p = np.zeros(0)
    u = np.zeros(0)
    for y in ([0.7, 1.3, 2.1], [1.9, 0.4, 0.6], [0.2, 2.5, 1.4]):
        y = np.array(y)
        dy = np.zeros(3)
        kern.rhs(0.0, y, p, u, dy)
        np.testing.assert_allclose(dy, f(y), rtol=1e-13, atol=1e-13)
        jac = np.full((3, 3), np.nan)
        kern.jac(0.0, y, p, u, jac)
        fd = np.empty((3, 3))
        for j in range(3):
            h = 1e-6 * max(1.0, abs(y[j]))
            e = np.zeros(3)
            e[j] = h
            fd[:, j] = (f(y + e) - f(y - e)) / (2 * h)
        np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-6)
        # the lane Jacobian (here lane by lane: d|x|/dx = sign(x) has no lane form)
        n_l, lanes = kern.LANES, np.zeros(3 * kern.LANES)
        lanes[0::n_l] = y
        jl = np.zeros(9 * n_l)
        qrow, wrow = kern._prepared(p, u)  # parameter-only constants (e.g. log(2))
        q, w = np.repeat(qrow, n_l), np.repeat(wrow, n_l)  # lane-interleaved
        kern.jac_lanes(1, np.zeros(n_l), lanes, q, w, jl)
        np.testing.assert_allclose(jl[0::n_l].reshape(3, 3), jac, rtol=1e-14, atol=1e-14)
