"""Non-negativity, per-patient failure statuses and step budgets."""

from __future__ import annotations

import numpy as np
import pytest

from gutskin.engine import Status, integrate

METHODS = ("dopri5", "rosenbrock", "auto")


@pytest.mark.parametrize("method", METHODS)
def test_michaelis_menten_consumption_stays_nonnegative(scalar_spec, scalar_params, method):
    # dx/dt = -x/(km + x) with km = 1e-9: x falls at unit rate and hits ~0 at t = 1.
    # An explicit step that overshoots below 0 would run away (the rate keeps its
    # sign for x < -km), so only the projection keeps the output >= 0.
    t = np.linspace(0.0, 2.0, 201)
    res = integrate(
        scalar_spec, [1.0], scalar_params(vmax=1.0, km=1e-9), t, method=method,
        rtol=1e-6, atol=1e-10,
    )  # fmt: skip
    assert res.status[0] == Status.OK
    x = res.y[0, :, 0]
    assert np.all(np.isfinite(x))
    assert x.min() >= 0.0
    # exact: km*ln(x) + x = 1 - t, i.e. x = 1 - t up to O(km*|ln x|) before t = 1, ~0 after
    np.testing.assert_allclose(x, np.maximum(1.0 - t, 0.0), rtol=0, atol=1e-6)


@pytest.mark.parametrize("method", ["rosenbrock", "auto"])
def test_very_fast_decay_stays_nonnegative(scalar_spec, scalar_params, method):
    t = np.linspace(0.0, 1.0, 11)
    res = integrate(scalar_spec, [1.0], scalar_params(k=1e6), t, method=method, rtol=1e-6)
    assert res.status[0] == Status.OK
    assert res.y.min() >= 0.0
    assert res.y[0, 1:, 0].max() < 1e-8


@pytest.mark.parametrize("method", METHODS)
def test_blow_up_fails_alone(scalar_spec, scalar_params, method):
    # dx/dt = x^2, x0 = 1 blows up at t = 1; its neighbours are plain decay
    t = np.linspace(0.0, 2.0, 201)
    params = [scalar_params(k=0.5), scalar_params(b=1.0), scalar_params(k=0.5)]
    res = integrate(scalar_spec, [1.0], params, t, method=method, rtol=1e-8, atol=1e-10)
    assert res.y.shape == (3, t.size, 1)  # nothing dropped
    assert res.status[1] in (Status.NONFINITE, Status.STEP_UNDERFLOW)
    assert res.status[0] == Status.OK and res.status[2] == Status.OK
    assert sum(res.failures().values()) == 1
    for i in (0, 2):
        np.testing.assert_allclose(res.y[i, :, 0], np.exp(-0.5 * t), rtol=1e-6)
    before = t < 0.9
    np.testing.assert_allclose(res.y[1, before, 0], 1.0 / (1.0 - t[before]), rtol=1e-6)
    assert np.all(np.isnan(res.y[1, t > 1.0, 0]))  # no output past the singularity


@pytest.mark.parametrize("method", METHODS)
def test_step_budget_gives_max_steps(scalar_spec, scalar_params, method):
    t = np.linspace(0.0, 5.0, 51)
    params = [scalar_params(k=0.5), scalar_params(k=1.0)]
    res = integrate(scalar_spec, [1.0], params, t, method=method, max_steps=5)
    assert np.all(res.status == Status.MAX_STEPS)
    assert res.failures() == {"MAX_STEPS": 2}
    # outputs reached before the budget ran out are kept, the rest are NaN
    assert np.all(np.isfinite(res.y[:, :5]))
    assert np.all(np.isnan(res.y[:, -1]))
    # and a sufficient budget succeeds
    ok = integrate(scalar_spec, [1.0], params, t, method=method, max_steps=10_000)
    assert np.all(ok.status == Status.OK)


def _finite_then_nan(row: np.ndarray) -> bool:
    """A failed patient's outputs: finite up to some time, NaN from there on."""
    fin = np.isfinite(row)
    k = int(np.argmin(fin)) if not fin.all() else row.size
    return bool(fin[:k].all() and np.isnan(row[k:]).all())


@pytest.mark.parametrize("method", ["dopri5", "auto"])
def test_lane_solver_failures_are_nan_after_failure(scalar_spec, scalar_params, method):
    # the SIMD-lane path (dense=True) writes its outputs into uninitialised memory:
    # a failed patient must still read as its outputs so far, then NaN; 12 patients
    # so that lanes are refilled after a failure
    t = np.linspace(0.0, 2.0, 201)
    params = [scalar_params(k=0.5), scalar_params(b=1.0), scalar_params(k=0.5)] * 4
    res = integrate(scalar_spec, [1.0], params, t, method=method, rtol=1e-8, atol=1e-10, dense=True)
    for i in range(12):
        if i % 3 == 1:
            assert res.status[i] in (Status.NONFINITE, Status.STEP_UNDERFLOW)
            assert _finite_then_nan(res.y[i, :, 0])
            assert np.all(np.isnan(res.y[i, t > 1.0, 0]))
            assert np.all(np.isfinite(res.y[i, t < 0.9, 0]))
        else:
            assert res.status[i] == Status.OK
            np.testing.assert_allclose(res.y[i, :, 0], np.exp(-0.5 * t), rtol=1e-6)
    budget = integrate(scalar_spec, [1.0], params[:2], t, method=method, max_steps=3, dense=True)
    assert np.all(budget.status == Status.MAX_STEPS)
    for i in range(2):
        assert np.isfinite(budget.y[i, 0, 0]) and np.isnan(budget.y[i, -1, 0])
        assert _finite_then_nan(budget.y[i, :, 0])
