"""Spec validation: each malformed spec raises SpecError naming the field."""

from __future__ import annotations

import numpy as np
import pytest

from gutskin.engine import EngineError, Input, ModelSpec, Parameter, SpecError, State, integrate


def _make(**overrides) -> ModelSpec:
    kwargs = {
        "name": "v",
        "description": "",
        "states": [State("x", "1", "x", 1.0), State("y", "1", "y", 0.0)],
        "parameters": [Parameter("k", 0.5, "1/day", "rate")],
        "inputs": [Input("u", "1", "u")],
        "rates": {"x": "-k*x + u", "y": "k*x"},
    }
    kwargs.update(overrides)
    return ModelSpec(**kwargs)


def test_valid_spec_builds():
    spec = _make()
    assert spec.state_names == ["x", "y"]


def test_missing_rate():
    with pytest.raises(SpecError, match=r"rates: no rate expression for state\(s\) \['y'\]"):
        _make(rates={"x": "-k*x"})


def test_rate_for_unknown_state():
    with pytest.raises(SpecError, match=r"rates: .*unknown state\(s\) \['z'\]"):
        _make(rates={"x": "-k*x", "y": "k*x", "z": "1"})


def test_unknown_symbol():
    with pytest.raises(SpecError, match=r"rates\[y\]: unknown name\(s\) \['kk'\]"):
        _make(rates={"x": "-k*x", "y": "kk*x"})


@pytest.mark.parametrize("fn", ["sin", "cosh", "myfunc"])
def test_disallowed_function(fn):
    with pytest.raises(SpecError, match=rf"rates\[x\]: function '{fn}' is not allowed"):
        _make(rates={"x": f"-k*{fn}(x)", "y": "k*x"})


def test_duplicate_name():
    with pytest.raises(SpecError, match=r"name 'k' is used twice \(as state and parameter\)"):
        _make(
            states=[State("k", "1", "k", 1.0), State("y", "1", "y")],
            rates={"k": "-k", "y": "k"},
        )


def test_unparsable_expression():
    with pytest.raises(SpecError, match=r"rates\[x\]: cannot parse"):
        _make(rates={"x": "-k*(x", "y": "k*x"})


def test_bad_initial_expression():
    with pytest.raises(SpecError, match=r"states\[y\]\.initial: unknown name"):
        _make(states=[State("x", "1", "x", 1.0), State("y", "1", "y", "2*x")])


def test_integrate_argument_errors_name_the_argument():
    spec = _make()
    t = np.linspace(0, 1, 3)
    with pytest.raises(EngineError, match="method"):
        integrate(spec, [1.0, 0.0], [0.5], t, method="euler")  # type: ignore[arg-type]
    with pytest.raises(EngineError, match="y0"):
        integrate(spec, [1.0], [0.5], t)
    with pytest.raises(EngineError, match="t_eval"):
        integrate(spec, [1.0, 0.0], [0.5], [0.0, 1.0, 1.0])
    with pytest.raises(EngineError, match="rtol"):
        integrate(spec, [1.0, 0.0], [0.5], t, rtol=0.0)
