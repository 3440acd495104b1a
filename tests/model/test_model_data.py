"""The model as data: structure, contract names, parameter provenance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gutskin.model import acne_model, parameter_table
from gutskin.model.acne import CONFIDENCE_CODES, PARAMETER_COLUMNS

REQUIRED_OBSERVABLES = [
    "inflammatory_lesions",
    "noninflammatory_lesions",
    "nodules",
    "total_lesions",
    "erythema",
    "sebum",
    "skin_rel_C_acnes",
    "skin_rel_S_epidermidis",
    "skin_rel_S_aureus",
    "gut_shannon",
    "plasma_IL8_rel",
    "skin_IGF1_rel",
]
REQUIRED_INPUTS = [
    "probiotic_dose_1",
    "probiotic_dose_2",
    "probiotic_dose_3",
    "prebiotic",
    "botanical",
    "antibiotic_oral",
    "bpo_topical",
    "retinoid_topical",
    "isotretinoin",
    "diet_glycemic",
    "skincare",
    "flare_noise",
    "disease_activity",
]
SLOT_PROPERTIES = [
    "engraftment",
    "bacteriocin",
    "anti_il8",
    "scfa",
    "igf1_lowering",
    "barrier",
    "washout",
]


def test_acne_model_is_cached_and_valid():
    spec = acne_model()
    assert spec is acne_model()
    assert spec.time_unit == "day"
    assert 15 <= len(spec.states) <= 30


def test_contract_names_present():
    spec = acne_model()
    assert set(REQUIRED_OBSERVABLES) <= set(spec.assignment_names)
    assert spec.input_names == REQUIRED_INPUTS
    for k in (1, 2, 3):
        for prop in SLOT_PROPERTIES:
            assert f"pb{k}_{prop}" in spec.parameter_names
    for k in (1, 2, 3):
        assert f"pb_load_{k}" in spec.state_names


def test_inputs_default_to_zero():
    # schedules are combined by addition, so every default must be 0
    assert all(u.default == 0.0 for u in acne_model().inputs)


def test_every_parameter_has_a_complete_row():
    table = parameter_table()
    spec = acne_model()
    assert list(table.columns) == list(PARAMETER_COLUMNS)
    assert list(table["name"]) == spec.parameter_names
    assert table["name"].is_unique
    for row in table.itertuples():
        assert row.confidence in CONFIDENCE_CODES, row.name
        assert row.source.strip() and row.description.strip(), row.name
        assert row.unit.strip(), row.name
        assert row.lower <= row.value <= row.upper, row.name
        assert row.cv >= 0
        if row.confidence == "assumed":
            assert row.note.strip(), f"{row.name}: assumed without rationale"


def test_assumed_parameters_have_calibratable_ranges():
    """An assumed parameter must have room to move: upper/lower >= 3, a zero lower
    bound, or - for a fraction near 1 - (1 - lower)/(1 - upper) >= 3."""
    table = parameter_table()
    fixed = {"neutrophils_ref_conversion"}  # a normalisation constant, not a free parameter
    slot = tuple(f"pb{k}_" for k in (1, 2, 3))
    for row in table.itertuples():
        if row.confidence != "assumed" or row.name in fixed or row.name.startswith(slot):
            continue
        if row.lower > 0:
            room = row.upper / row.lower
            if row.upper < 1:
                room = max(room, (1 - row.lower) / (1 - row.upper))
            assert room >= 3 - 1e-9, row.name


def test_every_parameter_is_used():
    spec = acne_model()
    used = set(spec.metadata["noise_parameters"])
    used |= set(spec.metadata["population_parameters"])
    used |= set(spec.metadata["observation_parameters"])
    for e in list(spec.sympy_rates.values()) + list(spec.sympy_assignments.values()):
        used |= {str(s) for s in e.free_symbols}
    assert set(spec.parameter_names) <= used


def test_descriptions_and_units_everywhere():
    spec = acne_model()
    for item in list(spec.states) + list(spec.assignments) + list(spec.inputs):
        assert item.description.strip() and item.unit.strip(), item.name
    comps = spec.metadata["compartments"]
    assert all(comps[s] for s in spec.state_names)


def test_equations_render_to_latex():
    latex = acne_model().latex()
    assert set(acne_model().state_names) <= set(latex)


def test_probiotic_slots_inert_by_default():
    """With default slot parameters a dose does nothing but fill the gut load."""
    from gutskin.engine import Exposure, build_schedule, integrate

    spec = acne_model()
    p = np.array([q.value for q in spec.parameters])
    y0 = spec.initial_values()
    sched = build_schedule(
        spec.input_names, [0.0] * len(spec.inputs), [Exposure("probiotic_dose_1", 1e9, 0, 30)], 1, 0
    )
    on = integrate(spec, y0, p, [0.0, 30.0], sched)
    off = integrate(spec, y0, p, [0.0, 30.0])
    load = spec.state_names.index("pb_load_1")
    # near its steady state engraftment * D / (D + pb_ed50) after 30 days
    names = spec.parameter_names
    steady = p[names.index("pb1_engraftment")] * 1e9 / (1e9 + p[names.index("pb_ed50")])
    assert on.y[0, -1, load] > 0.85 * steady > 0.2
    mask = np.ones(len(spec.state_names), bool)
    mask[load] = False
    np.testing.assert_allclose(on.y[0, -1, mask], off.y[0, -1, mask], rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("method", ["dopri5", "rosenbrock"])
def test_model_is_mildly_stiff_and_solver_independent(method):
    """DOPRI5 at rtol 1e-6 integrates a perturbed nominal patient for a year in few steps
    (eigenvalues span ~-0.9 to -0.04 per day); DOPRI5 and Rosenbrock agree."""
    from gutskin.engine import Exposure, build_schedule, integrate

    spec = acne_model()
    p = np.array([q.value for q in spec.parameters])
    y0 = spec.initial_values()
    sched = build_schedule(
        spec.input_names, [0.0] * len(spec.inputs),
        [Exposure("isotretinoin", 0.5, 0, 60), Exposure("probiotic_dose_1", 1e9, 30, 90)], 1, 0,
    )  # fmt: skip
    res = integrate(spec, y0, p, [0.0, 365.0], sched, method="dopri5")
    assert res.ok[0] and res.n_accepted[0] < 1000
    ref = integrate(spec, y0, p, [0.0, 365.0], sched, method=method, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(res.y[0, -1], ref.y[0, -1], rtol=1e-4, atol=1e-7)
    assert all(math.isfinite(v) for v in res.observables[0, -1])
