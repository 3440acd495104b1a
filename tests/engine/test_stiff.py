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


@pytest.mark.parametrize("method", ["rosenbrock", "auto"])
def test_robertson_in_simd_lanes_matches_radau(robertson_spec, robertson_ref, method):
    """The lane Rosenbrock (``simd``; in auto mode the re-solve of stiff lanes)."""
    t, ref = robertson_ref
    res = integrate(
        robertson_spec, [1.0, 0.0, 0.0], list(ROB_K), t, method=method, rtol=1e-8, atol=1e-14,
        dense=True, simd=True,
    )  # fmt: skip
    assert res.status[0] == Status.OK and res.method_used[0] == 1
    floor = np.array([1e-9, 1e-13, 1e-9])
    assert np.all(np.abs(res.y[0] - ref) <= 1e-6 * np.abs(ref) + floor)
    assert res.n_accepted[0] < 5000


@pytest.mark.parametrize("method", ["rosenbrock", "auto"])
def test_van_der_pol_in_simd_lanes_matches_radau(vdp_spec, vdp_ref, method):
    mu, t, ref = vdp_ref
    res = integrate(
        vdp_spec, [2.0, 0.0], [mu], t, method=method, rtol=1e-8, atol=1e-10, dense=True, simd=True
    )
    assert res.status[0] == Status.OK and res.method_used[0] == 1
    np.testing.assert_allclose(res.y[0], ref, rtol=2e-6, atol=1e-9)


def test_block_structure_orders_strongly_connected_components():
    from gutskin.engine.kernel_parts import block_structure

    # 0 <-> 1 coupled; 2 reads 0; 3 reads 2 and itself; 4 alone
    blocks, off = block_structure(5, [(0, 1), (1, 0), (2, 0), (3, 2), (3, 3), (4, 4)])
    pos = {v: b for b, comp in enumerate(blocks) for v in comp}
    assert sorted(map(sorted, blocks)) == [[0, 1], [2], [3], [4]]
    assert pos[2] > pos[0] and pos[3] > pos[2]  # a block comes after what it reads
    assert off == {0: [], 1: [], 2: [0], 3: [2], 4: []}


@pytest.fixture(scope="session")
def cascade_spec():
    """A forced stiff state feeding a coupled pair: blocks [x], [y, z] of the Jacobian."""
    from gutskin.engine import ModelSpec, Parameter, State

    return ModelSpec(
        name="test_stiff_cascade",
        description="stiff forced relaxation feeding a coupled pair",
        states=[State(n, "1", n, v, nonnegative=False) for n, v in (("x", 0.0), ("y", 1.0),
                                                                     ("z", 0.5))],
        parameters=[Parameter("k", 1e4, "1/day", "relaxation rate"),
                    Parameter("c", 1.0, "1/day", "coupling")],
        rates={"x": "-k*(x - exp(-0.1*t))", "y": "x - c*y*z", "z": "c*y*z - z + 0.1*x"},
    )  # fmt: skip


def test_lane_rosenbrock_agrees_with_scalar_and_does_not_depend_on_batch(cascade_spec):
    """Lane and scalar RODAS4 agree to the tolerance on stiff and non-stiff patients; a
    patient's lane result does not depend on its lane, neighbours or chunk."""
    rng = np.random.default_rng(4)
    n = 27  # not a multiple of the lane count
    k = 10.0 ** rng.uniform(-1, 5, n)  # non-stiff (k ~ 0.1) to very stiff (k ~ 1e5)
    p = np.column_stack([k, rng.uniform(0.5, 2.0, n)])
    y0 = np.tile([0.0, 1.0, 0.5], (n, 1))
    t = np.linspace(0.0, 20.0, 11)
    kw = {"method": "rosenbrock", "rtol": 1e-7, "atol": 1e-10}
    lanes = integrate(cascade_spec, y0, p, t, dense=True, simd=True, **kw)
    scalar = integrate(cascade_spec, y0, p, t, **kw)
    assert lanes.ok.all() and scalar.ok.all()
    np.testing.assert_allclose(lanes.y, scalar.y, rtol=1e-5, atol=1e-8)
    # the non-stiff patients against DOPRI5
    soft = k < 1.0
    dp = integrate(cascade_spec, y0[soft], p[soft], t, method="dopri5", rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(lanes.y[soft], dp.y, rtol=1e-5, atol=1e-8)
    perm = rng.permutation(n)
    again = integrate(cascade_spec, y0[perm], p[perm], t, dense=True, simd=True, chunk_size=5,
                      **kw)  # fmt: skip
    np.testing.assert_array_equal(again.y, lanes.y[perm])
    np.testing.assert_array_equal(again.n_accepted, lanes.n_accepted[perm])
    # auto: stiff lanes are re-solved with the lane Rosenbrock, the rest keep DOPRI5
    auto = integrate(cascade_spec, y0, p, t, method="auto", rtol=1e-7, atol=1e-10, dense=True)
    assert auto.ok.all() and auto.method_used[k > 1e4].all() and not auto.method_used[soft].any()
    np.testing.assert_allclose(auto.y, scalar.y, rtol=1e-5, atol=1e-8)
