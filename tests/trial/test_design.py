"""Design files: validation messages name the field; the doc covers every field."""

from pathlib import Path

import pytest
import yaml

from gutskin.trial.design import Design, DesignError, builtin_designs, load_design, parse_design

DOC = Path(__file__).resolve().parents[2] / "docs" / "design-file.md"


def _base() -> dict:
    return yaml.safe_load(builtin_designs()["rinaldi2022"].read_text())


def test_builtin_designs_validate():
    names = builtin_designs()
    assert {"rinaldi2022", "probiotic12wk"} <= set(names)
    for n in names:
        d = load_design(n)
        assert d.sample_size >= 2 * len(d.arms)


def test_rinaldi_design_matches_publication():
    d = load_design("rinaldi2022")
    assert d.sample_size == 114 and d.duration_weeks == 8 and len(d.arms) == 4
    assert d.reference_arm == "placebo"


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d["arms"][1]["regimens"][0].update(dose=-1), "arms.1.regimens.0.dose"),
        (lambda d: d.update(visits_weeks=[0, 4, 12]), "after the end"),
        (lambda d: d.update(sample_size=1), "sample_size"),
        (lambda d: d.update(sample_size=5), "at least 2 patients per arm"),
        (lambda d: d.update(visits_weeks=[0, 8, 4]), "strictly increasing"),
        (lambda d: d["arms"].append(dict(d["arms"][0])), "unique"),
        (lambda d: d.update(bogus=1), "bogus"),
        (lambda d: d["analysis"].update(reference_arm="nope"), "reference_arm"),
        (
            lambda d: d["analysis"]["comparisons"].append(
                {"endpoint": "iga_success", "method": "ancova"}
            ),
            "does not apply",
        ),
        (
            lambda d: d["analysis"]["comparisons"].append({"endpoint": "acne", "method": "ancova"}),
            "unknown endpoint",
        ),
        (
            lambda d: d["population"]["inclusion"].update(inflammatory={"min": 9, "max": 3}),
            "must not exceed",
        ),
    ],
)
def test_bad_designs_name_the_field(mutate, needle):
    d = _base()
    mutate(d)
    with pytest.raises(DesignError, match=needle):
        parse_design(d)


def test_malformed_yaml(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\narms: [unclosed\n")
    with pytest.raises(DesignError, match=r"malformed YAML: line [23]"):
        load_design(p)


def test_missing_design():
    with pytest.raises(DesignError, match="neither a file nor a built-in design"):
        load_design("no-such-design")


def _fields(model, prefix=""):
    out = []
    for name, f in model.model_fields.items():
        out.append(name)
        ann = f.annotation
        for sub in getattr(ann, "__args__", ()) or (ann,):
            if isinstance(sub, type) and hasattr(sub, "model_fields"):
                out.extend(_fields(sub))
    return out


def test_every_schema_field_is_documented():
    text = DOC.read_text()
    missing = sorted({f for f in _fields(Design) if f"`{f}`" not in text})
    assert not missing, f"fields not described in docs/design-file.md: {missing}"
