"""The targets file validates, with one-line errors naming the entry and field."""

from __future__ import annotations

import pytest

from gutskin.calibrate.targets import TargetError, load_targets


def test_packaged_targets_load():
    ts = load_targets()
    ids = {t.id for t in ts.targets}
    for arm in ("placebo", "probiotics_botanicals", "botanicals", "probiotics"):
        assert f"rinaldi2022_{arm}" in ids
    assert all(t.citation for t in ts.targets)
    # every quantitative target carries its uncertainty and an acceptance band
    for t in ts.targets:
        if t.quantitative and t.simulator != "not_represented":
            assert t.sd is not None and t.band() is not None, t.id
        if t.simulator == "not_represented":
            assert t.reason, t.id
    assert ts.fitted() and ts.fit_parameters


def test_observed_values_match_publications():
    ts = load_targets()
    assert ts.by_id("rinaldi2022_probiotics_botanicals").observed == pytest.approx(-56.67)
    assert ts.by_id("rinaldi2022_placebo").observed == pytest.approx(-10.0)
    assert ts.by_id("lamel2015_vehicle_inflammatory").sd == pytest.approx(22.7)
    assert ts.by_id("fabbrocini2016_skin_igf1").observed == pytest.approx(-32.0)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ('citation: "Rinaldi F et al. Dermatol Ther (Heidelb) 2022;12:577"', 'citation: ""'),
            "tiny_trial).citation",
        ),
        (("simulator: cohort", "simulator: magic"), "simulator: 'magic'"),
        (("  sd: 2.0\n", ""), "tiny_sebum).sd"),
        (("arm: botanicals", "arm: nosuch"), "arm 'nosuch'"),
        (("visit_week: 8", "visit_week: 9"), "visit_week"),
        (("fit_parameters: [iso_ed50]", "fit_parameters: [nope]"), "unknown parameter"),
        (("sd: 5.0", "sd: -1"), "must be > 0"),
        (("schema_version: 1", "schema_version: 1\n  : ["), "not valid YAML"),
    ],
)
def test_bad_targets_file(tiny_targets, edit, message):
    text = tiny_targets.read_text()
    assert edit[0] in text
    tiny_targets.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(TargetError) as info:
        load_targets(tiny_targets)
    msg = str(info.value)
    assert message in msg
    assert "\n" not in msg
    assert str(tiny_targets) in msg


def test_missing_file(tmp_path):
    with pytest.raises(TargetError, match="cannot read"):
        load_targets(tmp_path / "nope.yaml")
