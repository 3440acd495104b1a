"""Stiff reference problems against scipy's Radau IIA at tight tolerances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from gutskin.engine import Status, integrate

ROB_K = (0.04, 3e7, 1e4)


def _robertson_reference(t_eval):
    k1, k2, k3 = ROB_K

    def f(t, y):
        return [
            -k1 * y[0] + k3 * y[1] * y[2],
            k1 * y[0] - k3 * y[1] * y[2] - k2 * y[1] ** 2,
            k2 * y[1] ** 2,
        ]

    def jac(t, y):
        return [
            [-k1, k3 * y[2], k3 * y[1]],
            [k1, -k3 * y[2] - 2 * k2 * y[1], -k3 * y[1]],
            [0.0, 2 * k2 * y[1], 0.0],
        ]

    sol = solve_ivp(
        f, (t_eval[0], t_eval[-1]), [1.0, 0.0, 0.0], method="Radau", t_eval=t_eval,
        rtol=1e-10, atol=[1e-14, 1e-18, 1e-14], jac=jac,
    )  # fmt: skip
    assert sol.success
    return sol.y.T


@pytest.fixture(scope="module")
def robertson_ref():
    t = np.concatenate([[0.0], np.logspace(-5, 5, 41)])
    return t, _robertson_reference(t)


@pytest.mark.parametrize("method", ["rosenbrock", "auto"])
def test_robertson_matches_radau(robertson_spec, robertson_ref, method):
    t, ref = robertson_ref
    res = integrate(
        robertson_spec, [1.0, 0.0, 0.0], list(ROB_K), t, method=method, rtol=1e-8, atol=1e-14
    )
    assert res.status[0] == Status.OK
    assert res.method_used[0] == 1  # auto must have switched to the stiff solver
    y = res.y[0]
    # per state: |err| <= 1e-6 |ref| + floor (floor ~ far below each state's scale:
    # y1, y3 are O(1) late on, y2 peaks at ~4e-5)
    floor = np.array([1e-9, 1e-13, 1e-9])
    assert np.all(np.abs(y - ref) <= 1e-6 * np.abs(ref) + floor), np.abs(y - ref).max(axis=0)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=0, atol=1e-12)  # mass conserved
    # explicit DOPRI5 would need millions of steps on this problem
    assert res.n_accepted[0] < 5000


@pytest.fixture(scope="module")
def vdp_ref():
    mu = 1000.0
    t = np.linspace(0.0, 3000.0, 31)

    def f(_t, y):
        return [y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]]

    def jac(_t, y):
        return [[0.0, 1.0], [-2 * mu * y[0] * y[1] - 1.0, mu * (1 - y[0] ** 2)]]

    sol = solve_ivp(
        f, (0.0, 3000.0), [2.0, 0.0], method="Radau", t_eval=t, rtol=1e-10, atol=1e-12, jac=jac
    )
    assert sol.success
    return mu, t, sol.y.T


@pytest.mark.parametrize("method", ["rosenbrock", "auto"])
def test_van_der_pol_mu1000_matches_radau(vdp_spec, vdp_ref, method):
    mu, t, ref = vdp_ref
    res = integrate(vdp_spec, [2.0, 0.0], [mu], t, method=method, rtol=1e-8, atol=1e-10)
    assert res.status[0] == Status.OK
    assert res.method_used[0] == 1
    # the run crosses two relaxation jumps; outputs land on the slow manifold
    np.testing.assert_allclose(res.y[0], ref, rtol=2e-6, atol=1e-9)
    assert res.n_accepted[0] < 20000
