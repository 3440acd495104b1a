"""The targets file validates, with one-line errors naming the entry and field."""

from __future__ import annotations

import math

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
        (("schema_version: 1", "schema_version: 1\n  : ["), "malformed YAML"),
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


def test_ratio_interval_recovers_the_reported_p_value():
    """Outside truth: the derived pooled SD put back into scipy's t test gives the p."""
    from scipy.stats import ttest_ind_from_stats

    from gutskin.calibrate.targets import ratio_interval_from_p

    ma, mc, p, na, nc = 0.89, 2.84, 0.004, 31, 31
    ratio, lo, hi, sd = ratio_interval_from_p(ma, mc, p, na, nc)
    assert ratio == pytest.approx(ma / mc)
    assert lo < ratio < hi
    # the log-scale interval is symmetric around the log ratio
    assert math.log(ratio) - math.log(lo) == pytest.approx(math.log(hi) - math.log(ratio))
    se_log = sd / ratio
    z = math.log(hi / ratio) / se_log
    assert z == pytest.approx(1.959964, rel=1e-5)
    # recover the pooled SD from se_log and check the t test reproduces p
    s = se_log / math.sqrt(1 / (na * ma**2) + 1 / (nc * mc**2))
    assert ttest_ind_from_stats(ma, s, na, mc, s, nc).pvalue == pytest.approx(p, rel=1e-6)
    # a smaller p gives a narrower interval
    _, lo2, hi2, _ = ratio_interval_from_p(ma, mc, 1e-4, na, nc)
    assert hi2 - lo2 < hi - lo
    with pytest.raises(ValueError, match="p must be"):
        ratio_interval_from_p(ma, mc, 1.5, na, nc)
    with pytest.raises(ValueError, match="equal group means"):
        ratio_interval_from_p(ma, ma, 0.5, na, nc)


def test_packaged_yan_targets_are_derived_from_p_and_n():
    ts = load_targets()
    t = ts.by_id("yan2018_actinobacteria_ratio")
    assert t.observed == pytest.approx(0.89 / 2.84)
    assert t.range is not None and t.range[0] < 0.31 < t.range[1]
    assert t.options["cases"] == {"inflammatory_min": 20}


POP = """
- id: tiny_pop
  group: observational
  citation: "Yan HM et al. J Dermatol 2018;45:1166"
  simulator: population
  output: gut_bifido
  statistic: ratio_of_means
  reported: {mean_cases: 0.89, mean_controls: 2.84, p: 0.004, n_cases: 31, n_controls: 31}
  cases: {inflammatory_min: 20}
  n: 20
"""


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("p: 0.004", "p: 2"), "tiny_pop).reported: p must be in (0, 1)"),
        (("n_controls: 31", "n_ctrl: 31"), "tiny_pop).reported: expected exactly the keys"),
        (("  n: 20\n", "  n: 20\n  sd: 0.1\n"), "give 'reported' or 'range'/'sd'"),
        (
            ("cases: {inflammatory_min: 20}", "cases: {inflammatory_min: -2}"),
            "cases.inflammatory_min",
        ),
        (("cases: {inflammatory_min: 20}", "controls: {min: 2}"), "tiny_pop).controls"),
    ],
)
def test_bad_population_target(tiny_targets, edit, message):
    text = tiny_targets.read_text() + POP
    assert edit[0] in text
    tiny_targets.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(TargetError) as info:
        load_targets(tiny_targets)
    assert message in str(info.value)


def test_population_target_without_edits_loads(tiny_targets):
    tiny_targets.write_text(tiny_targets.read_text() + POP)
    t = load_targets(tiny_targets).by_id("tiny_pop")
    assert t.band() == t.range and t.sd is not None and t.sd > 0
