"""SBML export: libSBML consistency and agreement with libRoadRunner.

Agreement metric: for every state, ``max over output times of
|roadrunner - gutskin| / max(|gutskin|, FLOOR)`` with ``FLOOR = 1e-6``
(an absolute floor so states passing near zero are compared absolutely);
both solvers run at rtol=1e-10, atol=1e-12 and must agree within 1e-5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import libsbml
import numpy as np
import pytest
from numpy.typing import NDArray

from gutskin.engine.integrate import integrate
from gutskin.engine.schedule import Exposure, Schedule, build_schedule
from gutskin.engine.spec import Assignment, Input, ModelSpec, Parameter, State
from gutskin.io.sbml import GUTSKIN_NS, SBMLExportError, check_sbml, to_sbml, write_sbml
from gutskin.io.units import UnitParseError, parse_unit

roadrunner = pytest.importorskip("roadrunner")

RTOL, ATOL = 1e-10, 1e-12
FLOOR = 1e-6
TOLERANCE = 1e-5
N_PATIENTS = 20


# ----------------------------------------------------------------- fixtures
def toy_spec() -> ModelSpec:
    """Four coupled states exercising Max/Min, tanh, exp, log, sqrt, Abs, powers, t and an input."""
    return ModelSpec(
        name="toy-gut-skin",
        description="Toy model for exporter tests <with & markup>",
        states=[
            State("B", "log10 CFU/cm^2", "skin bacterial load", 3.0),
            State("G", "CFU/day", "gut signal", "g0"),
            State("C", "pg/mL", "cytokine", "2*c0"),
            State("L", "count", "lesion count", 5.0),
        ],
        parameters=[
            Parameter("r", 0.8, "1/day", "growth rate", 0.1, 3.0, 0.3, "doi:10.0/x", "M", "note"),
            Parameter("K", 6.0, "log10 CFU/cm^2", "capacity", cv=0.1, source="assumed"),
            Parameter("g0", 1.2, "CFU/day", "gut baseline", cv=0.2),
            Parameter("kg", 0.5, "1/day", "gut relaxation", cv=0.2),
            Parameter("c0", 1.5, "pg/mL", "cytokine baseline", cv=0.2),
            Parameter("kc", 0.9, "1/day", "cytokine turnover", cv=0.2),
            Parameter("kl", 0.4, "count/day", "lesion formation", cv=0.3),
            Parameter("dl", 0.15, "1/day", "lesion resolution", cv=0.2),
            Parameter("kp", 0.3, "day/g", "probiotic potency", cv=0.3),
            Parameter("n_h", 2.0, "1", "Hill exponent", cv=0.1),
        ],
        inputs=[Input("dose", "g/day", "probiotic dose", 0.0)],
        assignments=[
            Assignment("inh", "Min(0.9, kp*dose)", "1", "probiotic inhibition"),
            Assignment("infl", "C**n_h/(c0**n_h + C**n_h)", "1", "inflammatory drive"),
            Assignment(
                "drive",
                "Max(B - 2, 0)*(1 + tanh(C/c0 - 1))/2 + 0.05*log(1 + G/g0)",
                "1",
                "lesion drive",
            ),
        ],
        rates={
            "B": "r*B*(1 - B/K) - 0.5*inh*B",
            "G": "kg*(g0*(1 - inh) - G) + 0.1*g0*sqrt(Abs(B))*exp(-t/40)",
            "C": "kc*(c0*(1 + 2*infl*drive) - C)",
            "L": "kl*drive - dl*L + 0.01*L**2/(1 + L**2)",
        },
    )


def lognormal_params(
    spec: ModelSpec, n: int, seed: int, skip_zero_cv: bool = True
) -> NDArray[np.float64]:
    """(n, P) parameter draws: median = nominal value, lognormal with each parameter's cv,
    clipped to [lower, upper] where given."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, len(spec.parameters)))
    for j, p in enumerate(spec.parameters):
        sigma = math.sqrt(math.log1p(p.cv**2)) if p.cv > 0 else 0.0
        v = p.value * np.exp(sigma * rng.standard_normal(n))
        lo = -np.inf if p.lower is None else p.lower
        hi = np.inf if p.upper is None else p.upper
        out[:, j] = np.clip(v, lo, hi) if p.value != 0 else p.value
    return out


def max_rel_diff(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """max over all entries of |a - b| / max(|b|, FLOOR)."""
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), FLOOR)))


def roadrunner_run(sbml: str, t_eval: NDArray[np.float64], names: Sequence[str]) -> NDArray:
    rr = roadrunner.RoadRunner(sbml)
    rr.integrator.relative_tolerance = RTOL
    rr.integrator.absolute_tolerance = ATOL
    rr.integrator.maximum_num_steps = 1_000_000
    res = rr.simulate(times=list(t_eval), selections=["time", *names])
    arr = np.asarray(res)
    np.testing.assert_allclose(arr[:, 0], t_eval, rtol=0, atol=1e-9)
    return arr[:, 1:]


def compare_batch(
    spec: ModelSpec,
    params: NDArray[np.float64],
    t_eval: NDArray[np.float64],
    schedule: Schedule | None,
    observables: bool = False,
    input_mode: str = "events",
) -> float:
    """Max relative state (and optionally observable) difference gutskin vs roadrunner."""
    n = params.shape[0]
    y0 = np.array(
        [spec.initial_values(dict(zip(spec.parameter_names, p, strict=True))) for p in params]
    )
    res = integrate(spec, y0, params, t_eval, schedule, rtol=RTOL, atol=ATOL)
    assert np.all(res.ok), res.failures()
    worst = 0.0
    names = spec.state_names + (spec.assignment_names if observables else [])
    for i in range(n):
        kwargs: dict = {"params": dict(zip(spec.parameter_names, params[i], strict=True))}
        if i % 2:  # half the patients via explicit y0, half via initial assignments
            kwargs["y0"] = y0[i]
        if schedule is not None:
            kwargs["schedule"] = schedule
            kwargs["patient"] = i
        sbml = to_sbml(spec, input_mode=input_mode, **kwargs)  # type: ignore[arg-type]
        rr = roadrunner_run(sbml, t_eval, names)
        ref = res.y[i]
        if observables:
            ref = np.concatenate([ref, res.observables[i]], axis=1)
        worst = max(worst, max_rel_diff(rr, ref))
    return worst


# ------------------------------------------------------------------- units
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1/day", [("second", -1.0, 0, 86400.0)]),
        ("ug/cm^2", [("gram", 1.0, -6, 1.0), ("metre", -2.0, -2, 1.0)]),
        (
            "mg/kg/day",
            [("gram", 1.0, -3, 1.0), ("gram", -1.0, 3, 1.0), ("second", -1.0, 0, 86400.0)],
        ),
        ("pg/mL", [("gram", 1.0, -12, 1.0), ("litre", -1.0, -3, 1.0)]),
        ("CFU/day", [("item", 1.0, 0, 1.0), ("second", -1.0, 0, 86400.0)]),
        ("count", [("item", 1.0, 0, 1.0)]),
        ("1", []),
        ("", []),
        ("log10 CFU/cm^2", []),
        ("1/(h*cm^2)", [("second", -1.0, 0, 3600.0), ("metre", -2.0, -2, 1.0)]),
        ("day^-1", [("second", -1.0, 0, 86400.0)]),
        ("%", [("dimensionless", 1.0, 0, 0.01)]),
        ("nat", []),
        (
            "mg per kg per day",
            [("gram", 1.0, -3, 1.0), ("gram", -1.0, 3, 1.0), ("second", -1.0, 0, 86400.0)],
        ),
        (
            "1/day per 1e4 CFU/cm^2",
            [
                ("second", -1.0, 0, 86400.0),
                ("dimensionless", -1.0, 0, 1e4),
                ("item", -1.0, 0, 1.0),
                ("metre", 2.0, -2, 1.0),
            ],
        ),
    ],
)
def test_parse_unit(text: str, expected: list) -> None:
    got = [(f.kind, f.exponent, f.scale, f.multiplier) for f in parse_unit(text).factors]
    assert got == expected


def test_parse_unit_flags_and_errors() -> None:
    assert parse_unit("log10 CFU/cm^2").logarithmic
    assert parse_unit("CFU/day").counted == ("CFU",)
    assert parse_unit("widgets/day").unknown == ("widgets",)
    assert parse_unit("1/day").exact
    with pytest.raises(UnitParseError, match="widgets"):
        parse_unit("widgets/day", strict=True)
    with pytest.raises(UnitParseError, match="parenthes"):
        parse_unit("1/(day")
    with pytest.raises(UnitParseError, match="exponent"):
        parse_unit("cm^x")


# -------------------------------------------------------------- consistency
def _schedules(spec: ModelSpec, n: int) -> dict[str, Schedule | None]:
    names = spec.input_names
    defaults = [u.default for u in spec.inputs]
    return {
        "none": None,
        "on10_off30": build_schedule(names, defaults, [Exposure("dose", 2.0, 10.0, 30.0)], n, 0.0),
        "daily": build_schedule(
            names,
            defaults,
            [Exposure("dose", 1.5, 5.0, 45.0, "daily", 0.7)],
            n,
            0.0,
            seed=7,
            indices=np.arange(n),
        ),
    }


def test_consistency_no_errors() -> None:
    spec = toy_spec()
    for name, sched in _schedules(spec, 1).items():
        for mode in ("events", "piecewise"):
            sbml = to_sbml(spec, schedule=sched, input_mode=mode)
            errors, warnings = check_sbml(sbml)
            assert errors == [], (name, mode, errors)
            # unit warnings are expected (literal numbers carry no units) but never errors
            assert all(w.startswith("[") for w in warnings)


def test_document_contents(tmp_path) -> None:
    spec = toy_spec()
    path = write_sbml(spec, tmp_path / "sub" / "toy.xml", params={"r": 1.1})
    doc = libsbml.readSBMLFromFile(str(path))
    model = doc.getModel()
    assert model.getTimeUnits() == "day"
    assert model.getUnitDefinition("day").getUnit(0).getMultiplier() == 86400
    r = model.getParameter("r")
    assert r.getConstant() and r.getValue() == 1.1 and r.getSBOTermID() == "SBO:0000002"
    assert "growth rate" in r.getNotesString()
    ann = r.getAnnotationString()
    assert GUTSKIN_NS in ann and 'source="doi:10.0/x"' in ann and 'nominal="0.8"' in ann
    assert 'lower="0.1"' in ann and 'upper="3.0"' in ann and 'cv="0.3"' in ann
    b = model.getParameter("B")
    assert not b.getConstant() and b.getUnits() == "dimensionless"
    assert 'unit="log10 CFU/cm^2"' in b.getAnnotationString()
    assert model.getRateRuleByVariable("B") is not None
    assert model.getInitialAssignmentBySymbol("C") is not None
    assert [model.getRule(i).getVariable() for i in range(3)] == ["inh", "infl", "drive"]
    formula = libsbml.formulaToL3String(model.getAssignmentRuleByVariable("drive").getMath())
    assert "max(" in formula and "tanh(" in formula and "ln(" in formula
    assert model.getNumEvents() == 0


def test_export_errors() -> None:
    spec = toy_spec()
    with pytest.raises(SBMLExportError, match="unknown parameter"):
        to_sbml(spec, params={"nope": 1.0})
    with pytest.raises(SBMLExportError, match="y0"):
        to_sbml(spec, y0=[1.0])
    with pytest.raises(SBMLExportError, match="schedule"):
        to_sbml(spec, schedule_times=[0.0, np.inf], schedule_values=[[1.0], [2.0]])


def test_events_only_where_inputs_change() -> None:
    spec = toy_spec()
    sbml = to_sbml(
        spec, schedule_times=[0, 10, 20, 30, np.inf], schedule_values=[[0.0], [2.0], [2.0], [0.0]]
    )
    model = libsbml.readSBMLFromString(sbml).getModel()
    assert model.getNumEvents() == 2
    assert model.getParameter("dose").getValue() == 0.0


# ------------------------------------------------------ roadrunner agreement
@pytest.mark.parametrize("scenario", ["none", "on10_off30", "daily"])
def test_roadrunner_matches_toy(scenario: str) -> None:
    spec = toy_spec()
    params = lognormal_params(spec, N_PATIENTS, seed=11)
    sched = _schedules(spec, N_PATIENTS)[scenario]
    t_eval = np.linspace(0.0, 60.0, 241)
    if sched is not None:  # the schedule must matter, or the comparison proves nothing
        y0 = [spec.initial_values(dict(zip(spec.parameter_names, p, strict=True))) for p in params]
        off = integrate(spec, y0, params, t_eval, None, rtol=RTOL, atol=ATOL).y
        on = integrate(spec, y0, params, t_eval, sched, rtol=RTOL, atol=ATOL).y
        assert max_rel_diff(on, off) > 1e-2
    worst = compare_batch(spec, params, t_eval, sched)
    print(f"toy/{scenario}: max relative difference vs roadrunner {worst:.3g}")
    assert worst < TOLERANCE, f"{scenario}: max relative difference {worst:.3g}"


def test_roadrunner_matches_observables_and_piecewise_mode() -> None:
    spec = toy_spec()
    params = lognormal_params(spec, 4, seed=5)
    sched = _schedules(spec, 4)["on10_off30"]
    t_eval = np.linspace(0.0, 50.0, 101) + 0.25  # observables away from breakpoints
    t_eval = np.concatenate([[0.0], t_eval])
    for mode in ("events", "piecewise"):
        worst = compare_batch(spec, params, t_eval, sched, observables=True, input_mode=mode)
        print(f"toy/observables/{mode}: max relative difference vs roadrunner {worst:.3g}")
        assert worst < TOLERANCE, f"{mode}: max relative difference {worst:.3g}"


# -------------------------------------------------------------- acne model
def _acne_spec() -> ModelSpec:
    try:
        from gutskin.model import acne_model  # type: ignore[attr-defined]
    except ImportError as exc:
        pytest.skip(f"gutskin.model.acne_model is not available yet ({exc})")
    return acne_model()


def _intervention_input(spec: ModelSpec) -> str | None:
    for name in ("probiotic_dose_1", *spec.input_names):
        if name in spec.input_names and "probiotic" in name:
            return name
    return spec.input_names[0] if spec.input_names else None


def _typical_level(spec: ModelSpec, name: str) -> float:
    unit = next(u.unit for u in spec.inputs if u.name == name)
    return 1e9 if "CFU" in unit else 1.0


def test_acne_model_consistency() -> None:
    spec = _acne_spec()
    errors, _ = check_sbml(to_sbml(spec))
    assert errors == []


@pytest.mark.parametrize("with_intervention", [False, True])
def test_roadrunner_matches_acne_model(with_intervention: bool) -> None:
    """20 lognormal virtual patients, untreated and on probiotic from day 0 to 56.

    The treated arm also gets a per-patient daily ``flare_noise`` path (when the
    model has that input), so each exported document carries ~85 input events.
    """
    spec = _acne_spec()
    params = lognormal_params(spec, N_PATIENTS, seed=2024)
    t_eval = np.linspace(0.0, 84.0, 85)
    sched = None
    if with_intervention:
        name = _intervention_input(spec)
        if name is None:
            pytest.skip("the acne model declares no inputs")
        defaults = [u.default for u in spec.inputs]
        exposure = Exposure(name, _typical_level(spec, name), 0.0, 56.0)
        sched = build_schedule(spec.input_names, defaults, [exposure], N_PATIENTS, 0.0)
        if "flare_noise" in spec.input_names:
            grid = np.append(np.arange(0.0, 85.0), np.inf)
            noise = np.zeros((N_PATIENTS, grid.size - 1, len(spec.inputs)))
            rng = np.random.default_rng(99)
            noise[:, :, spec.input_names.index("flare_noise")] = 0.3 * rng.standard_normal(
                (N_PATIENTS, grid.size - 1)
            )
            sched = sched + Schedule(times=grid, values=noise)
        errors, _ = check_sbml(to_sbml(spec, schedule=sched))
        assert errors == []
        # the intervention must change the trajectories, or the comparison proves little:
        # patients 0-1 treated next to the same two patients untreated, in one call
        base = np.broadcast_to(np.asarray(defaults), (2, sched.times.size - 1, len(defaults)))
        both = Schedule(sched.times, np.concatenate([sched.values[:2], base]))
        p4 = np.concatenate([params[:2], params[:2]])
        y0 = [spec.initial_values(dict(zip(spec.parameter_names, p, strict=True))) for p in p4]
        y = integrate(spec, y0, p4, t_eval, both, rtol=1e-8, atol=1e-10).y
        assert max_rel_diff(y[:2], y[2:]) > 1e-2
    worst = compare_batch(spec, params, t_eval, sched)
    print(f"acne/intervention={with_intervention}: max relative difference {worst:.3g}")
    assert worst < TOLERANCE, f"max relative difference {worst:.3g}"
