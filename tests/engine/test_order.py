"""Observed convergence order of each method at fixed step size.

Without dense output (``dense=False``) the solvers clamp every step to the next
output time.  With tolerances so
loose that no step is ever rejected and an output grid of N equal intervals,
each solver therefore takes exactly N equal steps (asserted), which gives a
clean fixed-step convergence study without a test-only code path.
"""

from __future__ import annotations

import numpy as np
import pytest

from gutskin.engine import Status, integrate

ECC = 0.5
T_END = 3.0


def _kepler_exact(t: float) -> np.ndarray:
    """Kepler orbit (a = 1, GM = 1, eccentricity ECC, periapsis at t = 0) via Kepler's equation."""
    ea = t
    for _ in range(60):
        ea -= (ea - ECC * np.sin(ea) - t) / (1.0 - ECC * np.cos(ea))
    d = 1.0 - ECC * np.cos(ea)
    s = np.sqrt(1.0 - ECC**2)
    return np.array([np.cos(ea) - ECC, s * np.sin(ea), -np.sin(ea) / d, s * np.cos(ea) / d])


@pytest.mark.parametrize(
    ("method", "order", "steps"),
    [
        ("dopri5", 5, [100, 141, 200, 283, 400, 566]),
        ("rosenbrock", 4, [400, 566, 800, 1131, 1600, 2263]),
    ],
)
def test_observed_order(kepler_spec, method, order, steps):
    y0 = _kepler_exact(0.0)
    exact = _kepler_exact(T_END)
    errors = []
    for n in steps:
        res = integrate(
            kepler_spec, y0, [1.0], np.linspace(0.0, T_END, n + 1), method=method,
            rtol=1e6, atol=1e6, first_step=T_END, dense=False,
        )  # fmt: skip
        assert res.status[0] == Status.OK
        assert res.n_accepted[0] == n and res.n_rejected[0] == 0  # really fixed steps
        errors.append(np.abs(res.y[0, -1] - exact).max())
    errors = np.array(errors)
    assert errors.min() > 1e-13  # still well above round-off
    slope = np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert abs(slope + order) < 0.5, (slope, errors)
