"""Shared test models for the engine suite.

Each spec is compiled once per machine (numba disk cache); keep the number of
distinct specs small, because a first compile costs 10-25 s.
"""

from __future__ import annotations

import pytest

from gutskin.engine import Input, ModelSpec, Parameter, State


def _free(name: str, initial: float = 0.0) -> State:
    return State(name, "1", name, initial, nonnegative=False)


@pytest.fixture(scope="session")
def scalar_spec() -> ModelSpec:
    """dx/dt = u - k x + b x^2 - vmax x / (km + x) + w t.

    Covers exponential decay (k), logistic growth (k = -r, b = -r/K), blow-up
    (b = 1), Michaelis-Menten consumption (vmax, km), a scheduled input u and
    explicit time dependence (w).
    """
    return ModelSpec(
        name="test_scalar",
        description="one-state test model",
        states=[State("x", "1", "x", 1.0)],
        parameters=[
            Parameter("k", 0.5, "1/day", "linear loss"),
            Parameter("b", 0.0, "1/day", "quadratic term"),
            Parameter("vmax", 0.0, "1/day", "saturable loss"),
            Parameter("km", 1.0, "1", "half-saturation"),
            Parameter("w", 0.0, "1/day^2", "explicit time trend"),
        ],
        inputs=[Input("u", "1/day", "zero-order input", 0.0)],
        rates={"x": "u - k*x + b*x**2 - vmax*x/(km + x) + w*t"},
    )


def _scalar_params(k=0.0, b=0.0, vmax=0.0, km=1.0, w=0.0) -> list[float]:
    return [k, b, vmax, km, w]


@pytest.fixture(scope="session")
def scalar_params():
    """Parameter vector of ``scalar_spec`` by keyword (all terms off by default)."""
    return _scalar_params


@pytest.fixture(scope="session")
def linear3_spec() -> ModelSpec:
    """y' = A y with the 3x3 matrix A given as parameters a{i}{j}."""
    names = [f"a{i}{j}" for i in range(3) for j in range(3)]
    rates = {f"y{i}": " + ".join(f"a{i}{j}*y{j}" for j in range(3)) for i in range(3)}
    return ModelSpec(
        name="test_linear3",
        description="linear constant-coefficient system",
        states=[_free(f"y{i}") for i in range(3)],
        parameters=[Parameter(n, 0.0, "1/day", n) for n in names],
        rates=rates,
    )


@pytest.fixture(scope="session")
def kepler_spec() -> ModelSpec:
    """Planar Kepler problem (gravitational parameter ``gm``)."""
    r3 = "(q1**2 + q2**2)**1.5"
    return ModelSpec(
        name="test_kepler",
        description="two-body problem",
        states=[_free(n) for n in ("q1", "q2", "p1", "p2")],
        parameters=[Parameter("gm", 1.0, "1", "gravitational parameter")],
        rates={"q1": "p1", "q2": "p2", "p1": f"-gm*q1/{r3}", "p2": f"-gm*q2/{r3}"},
    )


@pytest.fixture(scope="session")
def robertson_spec() -> ModelSpec:
    """Robertson's chemical kinetics (Hairer & Wanner II, §IV.1)."""
    return ModelSpec(
        name="test_robertson",
        description="stiff chemical kinetics",
        states=[State("y1", "1", "", 1.0), State("y2", "1", "", 0.0), State("y3", "1", "", 0.0)],
        parameters=[
            Parameter("k1", 0.04, "1/s", ""),
            Parameter("k2", 3e7, "1/s", ""),
            Parameter("k3", 1e4, "1/s", ""),
        ],
        rates={
            "y1": "-k1*y1 + k3*y2*y3",
            "y2": "k1*y1 - k3*y2*y3 - k2*y2**2",
            "y3": "k2*y2**2",
        },
    )


@pytest.fixture(scope="session")
def vdp_spec() -> ModelSpec:
    """Van der Pol oscillator x'' - mu (1 - x^2) x' + x = 0."""
    return ModelSpec(
        name="test_vdp",
        description="van der Pol oscillator",
        states=[_free("x", 2.0), _free("v", 0.0)],
        parameters=[Parameter("mu", 1000.0, "1", "stiffness")],
        rates={"x": "v", "v": "mu*(1 - x**2)*v - x"},
    )
