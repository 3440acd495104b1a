"""Nominal-parameter plausibility against published observations (before calibration).

Each test states its target, source and tolerance.  Populations: the untreated virtual
population of ``conftest.py`` (400 patients, lognormal parameters, flare noise, 1-year
burn-in).  "acne" = >= 20 inflammatory lesions, "healthy" = <= 2 inflammatory and <= 10
non-inflammatory lesions (expected counts).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import mannwhitneyu, spearmanr

from gutskin.engine import integrate


def _geo_mean(x: np.ndarray) -> float:
    return float(np.exp(np.mean(np.log(x))))


def _show(label: str, value: object) -> None:
    """Print a plausibility number (visible with ``pytest -s``)."""
    print(f"\n[plausibility] {label}: {value}")


def test_population_spans_healthy_to_severe(groups):
    # enough patients in each group for the comparisons below
    assert groups["healthy"].sum() >= 30
    assert groups["acne"].sum() >= 30
    assert groups["eligible"].sum() >= 20


def test_c_acnes_density_acne_vs_healthy(population, baseline, groups):
    """Leyden 1975: 85,800 vs 588 CFU/cm^2 (ratio ~146) at age 16-20; require >= 10."""
    cac = baseline.at("C_acnes", 0) * 1e4  # CFU/cm^2
    ratio = _geo_mean(cac[groups["acne"]]) / _geo_mean(cac[groups["healthy"]])
    _show("C. acnes acne/healthy geometric-mean ratio (Leyden ~146)", round(ratio, 1))
    _show("C. acnes acne geometric mean, CFU/cm^2", f"{_geo_mean(cac[groups['acne']]):.3g}")
    assert ratio >= 10, ratio
    # acne densities on the Leyden scale (geometric mean 8.6e4-1.1e5): within 1 log
    assert 1e4 <= _geo_mean(cac[groups["acne"]]) <= 1e6


def test_plasma_il8_acne_vs_healthy(baseline, groups):
    """Plasma IL-8 154 vs 102 pg/mL (ratio 1.52, n = 264/264); accept 1.2-2.0."""
    il8 = baseline.at("plasma_IL8_rel", 0)
    ratio = il8[groups["acne"]].mean() / il8[groups["healthy"]].mean()
    _show("plasma IL-8 acne/healthy (1.52)", round(ratio, 3))
    assert 1.2 <= ratio <= 2.0, ratio


def test_gut_shannon_lower_in_acne(baseline, groups):
    """Deng 2018: lower Shannon in acne (p = 0.009); require a lower mean, a one-sided
    Mann-Whitney p < 0.05 and a negative rank correlation with inflammatory counts."""
    sh = baseline.at("gut_shannon", 0)
    acne, healthy = sh[groups["acne"]], sh[groups["healthy"]]
    p = mannwhitneyu(acne, healthy, alternative="less").pvalue
    rho = spearmanr(sh, baseline.at("inflammatory_lesions", 0))
    _show(
        "gut Shannon acne vs healthy (lower in acne)",
        f"{acne.mean():.4f} vs {healthy.mean():.4f}, MW p={p:.2g}, "
        f"Spearman rho={rho.statistic:.3f} (p={rho.pvalue:.2g})",
    )
    assert acne.mean() < healthy.mean()
    assert p < 0.05
    assert rho.statistic < 0 and rho.pvalue < 0.01


def test_gut_composition_directions_in_acne(baseline, groups):
    """Deng 2018 / Yan 2018 directions: butyrate producers and Bifidobacterium lower,
    Bacteroidetes and Proteobacteria higher in acne (fractions of the community)."""
    total = baseline.at("gut_total", 0)

    def frac(name: str) -> np.ndarray:
        return baseline.at(name, 0) / total

    a, h = groups["acne"], groups["healthy"]
    assert frac("gut_butyrate")[a].mean() < frac("gut_butyrate")[h].mean()
    assert frac("gut_bifido")[a].mean() < frac("gut_bifido")[h].mean()
    assert frac("gut_bacteroidetes")[a].mean() > frac("gut_bacteroidetes")[h].mean()
    assert frac("gut_proteo")[a].mean() > frac("gut_proteo")[h].mean()


def test_trial_eligible_baseline_counts(baseline, groups):
    """Huang 2023 (221 RCTs): median baseline 27 inflammatory, 44 non-inflammatory.
    Patients meeting a 20-50 / 25-100 / <= 2 nodule entry window: medians within +-30%."""
    e = groups["eligible"]
    inf = np.median(baseline.at("inflammatory_lesions", 0)[e])
    non = np.median(baseline.at("noninflammatory_lesions", 0)[e])
    _show("eligible medians inflammatory / non-inflammatory (27 / 44)", f"{inf:.1f} / {non:.1f}")
    _show("eligible fraction of untreated population", round(float(e.mean()), 3))
    assert abs(inf / 27 - 1) <= 0.30, inf
    assert abs(non / 44 - 1) <= 0.30, non


def test_origin_of_inflammatory_lesions(baseline, groups):
    """Do 2008: 54% of inflammatory lesions arise from comedones; accept 0.40-0.68."""
    frac = np.median(baseline.at("papules_from_comedones", 0)[groups["acne"]])
    _show("share of new inflamed lesions from comedones (Do 2008: 0.54)", round(float(frac), 3))
    assert 0.40 <= frac <= 0.68, frac


def test_lesion_mix(baseline, groups):
    """Pustules a minority of inflammatory lesions, and nodules rare in eligible patients
    (entry usually <= 2)."""
    e = groups["eligible"]
    pus = baseline.at("pustules", 0)[e] / baseline.at("inflammatory_lesions", 0)[e]
    assert 0.05 <= np.median(pus) <= 0.4
    assert np.median(baseline.at("nodules", 0)[e]) <= 2


def test_skin_relative_abundance_in_acne(baseline, groups):
    """Face 16S table (shared data): C. acnes ~85%, Staphylococcus ~4% of reads in a
    sebaceous face.  Acne patients: C. acnes 60-98%, S. epidermidis 0.5-15%."""
    a = groups["acne"]
    assert 0.6 <= np.median(baseline.at("skin_rel_C_acnes", 0)[a]) <= 0.98
    assert 0.005 <= np.median(baseline.at("skin_rel_S_epidermidis", 0)[a]) <= 0.15


def test_fabbrocini_skin_igf1_under_sp1(population):
    """Fabbrocini 2016: L. rhamnosus SP1 3e9 CFU/day for 12 weeks lowers skin IGF1
    expression by 32%; accept a 20-45% fall."""
    run = population.run([dict(intervention="SP1", dose=3e9, start_day=0, stop_day=84)], days=84)
    fall = 1 - run.at("skin_IGF1_rel", 84) / run.at("skin_IGF1_rel", 0)
    _show("skin IGF-1 fall under SP1 3e9 CFU/day, 12 wk (0.32)", round(float(np.median(fall)), 3))
    assert 0.20 <= np.median(fall) <= 0.45, np.median(fall)
    ctrl = population.run([], days=84)
    assert np.allclose(ctrl.at("skin_IGF1_rel", 84), ctrl.at("skin_IGF1_rel", 0))


def test_sebum_suppression_relation(population, groups):
    """Janiczek-Dolphin 2010: lesion % reduction ~ 1.0-1.7 x sebum % reduction at 3-4
    months.  Low-dose isotretinoin in trial-eligible patients, 16 weeks, vs untreated:
    accept a slope of 0.8-2.2 for inflammatory and 0.5-2.2 for total lesions."""
    e = groups["eligible"]
    trt = population.run(
        [dict(intervention="isotretinoin", dose=0.05, start_day=0, stop_day=112)],
        days=112,
        mask=e,
    )
    ctrl = population.run([], days=112, mask=e)
    seb = 1 - trt.at("sebum", 112).mean() / ctrl.at("sebum", 112).mean()
    assert 0.15 <= seb <= 0.6, seb
    for name, lo in (("inflammatory_lesions", 0.8), ("total_lesions", 0.5)):
        red = 1 - trt.at(name, 112).mean() / ctrl.at(name, 112).mean()
        _show(f"Janiczek-Dolphin slope, {name} (1.0-1.7)", f"{red / seb:.2f} (sebum -{seb:.0%})")
        assert lo <= red / seb <= 2.2, (name, red, seb)


def test_initial_state_is_nominal_steady_state(spec):
    """The YAML initial values are the untreated steady state of the nominal patient."""
    p = np.array([q.value for q in spec.parameters])
    y0 = np.array(spec.initial_values())
    res = integrate(spec, y0, p, [0.0, 400.0], method="dopri5")
    np.testing.assert_allclose(res.y[0, -1], y0, rtol=2e-3, atol=1e-6)


def test_probiotic_washout_half_life(population):
    """Evidence §3.7: probiotic load ~90% gone 1.5-2.5 weeks after stopping."""
    run = population.run([dict(intervention="LS03", start_day=0, stop_day=28)], days=56, step=1.0)
    load = run["pb_load_1"][0]
    on = load[28]
    assert on > 0.3  # near engraftment x D/(D + pb_ed50) at 1e9 CFU/day
    assert load[28 + 7] / on < 0.4  # more than half gone after a week
    assert load[28 + 14] / on < 0.15  # ~90% gone by two weeks
    assert load[56] / on < 0.02


def test_no_hysteresis_in_sampled_patients(spec, population):
    """The amplifying loop stays monostable: from a 'clear' and a 'severe' start every
    sampled patient reaches the same untreated steady state (no acne switch)."""
    names = spec.state_names
    hi = np.array(spec.initial_values())
    lo = hi.copy()
    for name, severe, clear in (
        ("occlusion", 0.9, 0.0),
        ("C_acnes", 50.0, 1e-3),
        ("sebum_level", 400.0, 50.0),
        ("neutrophils", 20.0, 1.0),
    ):
        hi[names.index(name)] = severe
        lo[names.index(name)] = clear
    p = population.params[:200]
    a = integrate(spec, hi, p, [0.0, 1500.0]).y[:, -1]
    b = integrate(spec, lo, p, [0.0, 1500.0]).y[:, -1]
    j = names.index("occlusion")
    assert np.max(np.abs(a[:, j] - b[:, j])) < 1e-4
