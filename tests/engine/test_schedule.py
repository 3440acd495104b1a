"""Piecewise-constant inputs: exact restarts at breakpoints and per-patient adherence."""

from __future__ import annotations

import numpy as np
import pytest

from gutskin.engine import Exposure, Status, build_schedule, integrate

METHODS = ("dopri5", "rosenbrock", "auto")

K = 0.5


def _piecewise_decay(schedule, x0, t_eval, k=K):
    """Exact solution of dx/dt = u(t) - k x for piecewise-constant u (one patient)."""
    out = np.empty((schedule.n_patients, t_eval.size))
    for i in range(schedule.n_patients):
        for j, t in enumerate(t_eval):
            x, s = x0, schedule.times[0]
            for kseg in range(schedule.values.shape[1]):
                a, b = schedule.times[kseg], schedule.times[kseg + 1]
                if a >= t:
                    break
                u = schedule.values[i, kseg, 0]
                dt = min(b, t) - s
                x = u / k + (x - u / k) * np.exp(-k * dt)
                s = min(b, t)
            out[i, j] = x
    return out


@pytest.mark.parametrize("method", METHODS)
def test_on_off_input_matches_piecewise_solution(scalar_spec, scalar_params, method):
    sched = build_schedule(["u"], [0.0], [Exposure("u", 2.0, start=2.5, stop=4.0)], 1, t0=0.0)
    np.testing.assert_array_equal(sched.times, [0.0, 2.5, 4.0, np.inf])
    t = np.linspace(0.0, 8.0, 33)
    res = integrate(
        scalar_spec, [1.0], scalar_params(k=K), t, sched, method=method, rtol=1e-10, atol=1e-12
    )
    assert res.status[0] == Status.OK
    x = res.y[0, :, 0]
    # closed form by hand, as a check on the helper too
    x25 = np.exp(-K * 2.5)
    x4 = 4.0 + (x25 - 4.0) * np.exp(-K * 1.5)
    exact = np.where(
        t < 2.5,
        np.exp(-K * t),
        np.where(t < 4.0, 4.0 + (x25 - 4.0) * np.exp(-K * (t - 2.5)), x4 * np.exp(-K * (t - 4.0))),
    )
    np.testing.assert_allclose(_piecewise_decay(sched, 1.0, t)[0], exact, rtol=1e-13)
    assert np.abs(x - exact).max() < 1e-8


def _daily(n, seed, indices=None):
    idx = range(n) if indices is None else indices
    return build_schedule(
        ["u"], [0.0], [Exposure("u", 1.0, start=0.0, stop=10.0, pattern="daily", adherence=0.6)],
        len(idx), t0=0.0, seed=seed, indices=np.asarray(idx),
    )  # fmt: skip


def test_daily_adherence_uses_patient_streams(scalar_spec, scalar_params):
    n = 200
    a, b = _daily(n, seed=7), _daily(n, seed=7)
    np.testing.assert_array_equal(a.times, [*np.arange(11.0).tolist(), np.inf])
    np.testing.assert_array_equal(a.values, b.values)  # reproducible
    assert not np.array_equal(a.values, _daily(n, seed=8).values)  # seed matters
    # patient i's doses do not depend on who else is in the batch
    sub = _daily(3, seed=7, indices=[5, 17, 150])
    np.testing.assert_array_equal(sub.values, a.values[[5, 17, 150]])
    doses = a.values[:, :10, 0]
    assert set(np.unique(doses)) <= {0.0, 1.0}
    assert np.all(a.values[:, 10:, 0] == 0.0)
    assert abs(doses.mean() - 0.6) < 0.05  # 2000 Bernoulli(0.6) draws: sd 0.011
    assert len({tuple(r) for r in doses}) > 150  # patients differ

    t = np.linspace(0.0, 12.0, 25)
    y0 = np.ones((n, 1))
    r1 = integrate(scalar_spec, y0, scalar_params(k=K), t, a, rtol=1e-10, atol=1e-12)
    r2 = integrate(scalar_spec, y0, scalar_params(k=K), t, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(r1.y, r2.y)
    assert np.all(r1.status == Status.OK)
    exact = _piecewise_decay(a, 1.0, t)
    assert np.abs(r1.y[:, :, 0] - exact).max() < 1e-8
