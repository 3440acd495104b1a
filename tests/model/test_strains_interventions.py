"""Strain library, intervention registry and regimen resolution."""

from __future__ import annotations

import pytest

from gutskin.engine import Exposure
from gutskin.model import (
    INTERVENTIONS,
    STRAIN_PROPERTIES,
    InterventionError,
    Regimen,
    StrainError,
    get_intervention,
    load_strains,
    resolve,
)

REQUIRED_STRAINS = [
    "LS03",
    "BR03",
    "LC03",
    "SP1",
    "generic_lactobacillus",
    "generic_bifidobacterium",
]


def test_library_has_required_strains_with_provenance():
    lib = load_strains()
    assert set(REQUIRED_STRAINS) <= set(lib)
    for s in lib.values():
        assert set(s.properties) == set(STRAIN_PROPERTIES)
        for prop in s.properties.values():
            assert prop.source and prop.confidence in ("H", "M", "L", "assumed")
    # evidence-based values
    assert lib["LS03"].value("bacteriocin") > 0 and 0.10 <= lib["LS03"].value("anti_il8") <= 0.25
    assert lib["SP1"].value("igf1_lowering") > lib["generic_lactobacillus"].value("igf1_lowering")


def test_user_file_merges_and_adds(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(
        "strains:\n"
        "  LS03:\n"
        "    properties: {anti_il8: 0.2}\n"
        "  my_strain:\n"
        "    name: Test strain\n"
        "    default_dose: 2e9\n"
        "    properties: {engraftment: 0.5, bacteriocin: 0, anti_il8: 0.1, scfa: 0,\n"
        "                 igf1_lowering: 0, barrier: 0, washout: 3}\n"
    )
    lib = load_strains(f)
    assert lib["LS03"].value("anti_il8") == 0.2
    assert lib["LS03"].value("bacteriocin") == load_strains()["LS03"].value("bacteriocin")
    assert lib["my_strain"].default_dose == 2e9
    assert lib["my_strain"].properties["washout"].confidence == "assumed"
    exps, over = resolve([dict(intervention="my_strain", start_day=0, stop_day=10)], strains=lib)
    assert over["pb1_engraftment"] == 0.5 and exps[0].input == "probiotic_dose_1"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("strains:\n  LS03:\n    properties: {anti_il8: 1.5}\n", "'LS03', property 'anti_il8'"),
        (
            "strains:\n  X:\n    properties: {anti_il8: 0.1}\n",
            "strain 'X', field 'properties': missing",
        ),
        ("strains:\n  LS03:\n    properties: {potency: 1}\n", "unknown property"),
        ("strains:\n  LS03:\n    default_dose: -5\n", "strain 'LS03', field 'default_dose'"),
        ("strains:\n  LS03:\n    colour: red\n", "unknown field(s) ['colour']"),
        ("strains:\n  LS03:\n    properties: {washout: {value: 4, confidence: X}}\n", "confidence"),
        ("strains:\n  LS03:\n    properties: {washout: abc}\n", "'LS03', property 'washout'"),
        ("nothing: here\n", "top-level mapping"),
    ],
)
def test_user_file_errors_name_strain_and_field(tmp_path, text, fragment):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(StrainError) as exc:
        load_strains(f)
    assert fragment in str(exc.value)


def test_registry_contents():
    needed = {
        "placebo", "prebiotic_fibre", "botanical", "oral_antibiotic", "benzoyl_peroxide",
        "topical_retinoid", "isotretinoin", "high_glycemic_diet", "skincare", *REQUIRED_STRAINS,
    }  # fmt: skip
    assert needed <= set(INTERVENTIONS)
    for iv in INTERVENTIONS.values():
        assert iv.description and iv.mechanism and iv.source and iv.dose_unit
        lo, hi = iv.dose_range
        assert lo <= iv.default_dose <= hi
    assert get_intervention("doxycycline").name == "oral_antibiotic"


def test_resolve_slots_and_exposures():
    regs = [
        dict(intervention="LS03", start_day=0, stop_day=56),
        dict(intervention="botanical", start_day=0, stop_day=56, pattern="continuous"),
        dict(intervention="BR03", dose=2e9, start_day=7, stop_day=56, adherence=0.8),
        Regimen(intervention="LS03", start_day=70, stop_day=84),  # same strain, same slot
        dict(intervention="placebo", start_day=0, stop_day=56),
    ]
    exps, over = resolve(regs, t0=10.0)
    assert [e.input for e in exps] == [
        "probiotic_dose_1", "botanical", "probiotic_dose_2", "probiotic_dose_1",
    ]  # fmt: skip
    assert exps[0] == Exposure("probiotic_dose_1", 1e9, 10.0, 66.0, "daily", 1.0)
    assert exps[2].level == 2e9 and exps[2].adherence == 0.8 and exps[2].start == 17.0
    lib = load_strains()
    assert over == {**lib["LS03"].slot_parameters(1), **lib["BR03"].slot_parameters(2)}


@pytest.mark.parametrize(
    ("reg", "fragment"),
    [
        (dict(intervention="LS03", dose=-1, start_day=0, stop_day=5), "regimen[0].dose"),
        (dict(intervention="nope", start_day=0, stop_day=5), "unknown name 'nope'"),
        (dict(intervention="isotretinoin", dose=3, start_day=0, stop_day=5), "allowed: 0 to 2"),
        (dict(intervention="LS03", start_day=5, stop_day=5), "regimen[0].stop_day"),
        (dict(intervention="LS03", start_day=0, stop_day=5, pattern="weekly"), "pattern"),
        (dict(intervention="LS03", start_day=0, stop_day=5, adherence=2), "adherence"),
        (dict(intervention="LS03", dose="lots", start_day=0, stop_day=5), "expected a number"),
        (dict(intervention="LS03", start_day=0), "stop_day: required"),
    ],
)
def test_resolve_errors(reg, fragment):
    with pytest.raises(InterventionError) as exc:
        resolve([reg])
    assert fragment in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_resolve_rejects_a_fourth_strain():
    regs = [dict(intervention=s, start_day=0, stop_day=5) for s in ["LS03", "BR03", "LC03", "SP1"]]
    with pytest.raises(InterventionError, match="at most 3"):
        resolve(regs)


def test_interventions_are_data_and_checked():
    """The non-probiotic library is read from model/data/interventions.yaml; every entry
    sets an input the model has, and a malformed entry is refused with its name."""
    import pytest as _pytest

    from gutskin.model import interventions as iv
    from gutskin.simulation import get_model

    inputs = set(get_model("acne").input_names)
    entries, aliases = iv._library()
    assert {e.name for e in entries} <= set(iv.INTERVENTIONS)
    for e in entries:
        assert e.kind == "placebo" or e.input in inputs, e.name
    assert aliases == iv.ALIASES and aliases["doxycycline"] == "oral_antibiotic"
    good = {
        "description": "d",
        "kind": "input",
        "input": "botanical",
        "dose_unit": "1",
        "default_dose": 1.0,
        "dose_range": [0.0, 2.0],
        "mechanism": "m",
        "source": "assumed",
    }
    assert iv._entry("x", good).dose_range == (0.0, 2.0)
    for bad, msg in (
        ({**good, "kind": "magic"}, "kind"),
        ({**good, "default_dose": 5.0}, "default_dose"),
        ({k: v for k, v in good.items() if k != "source"}, "missing"),
        ({**good, "input": None}, "input"),
    ):
        with _pytest.raises(iv.InterventionError, match=msg):
            iv._entry("x", bad)
