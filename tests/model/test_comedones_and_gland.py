"""Comedones that respond to treatment, and a sebaceous gland with memory (issue 30).

Paired in-silico comparisons on the shared virtual population (``conftest.py``): every
arm runs on the same patients with the same disease-activity paths, so a difference is
caused by the treatment alone.
"""

from __future__ import annotations

import numpy as np
import pytest

WEEK8, WEEK12, WEEK16, WEEK24 = 56.0, 84.0, 112.0, 168.0
RINALDI_PRODUCT = ("LS03", "BR03", "LC03", "botanical")


def regimen(name, days, **kw):
    return [dict(intervention=name, start_day=0, stop_day=days, **kw)]


@pytest.fixture(scope="module")
def untreated(population):
    return population.run([], days=WEEK12, step=7.0)


TREATMENTS = {
    "topical_retinoid": regimen("topical_retinoid", WEEK12),
    "benzoyl_peroxide": regimen("benzoyl_peroxide", WEEK12),
    "oral_antibiotic": regimen("oral_antibiotic", WEEK12),
    "rinaldi_product": [r for s in RINALDI_PRODUCT for r in regimen(s, WEEK12)],
}


@pytest.mark.parametrize("name", sorted(TREATMENTS))
def test_noninflammatory_counts_fall_under_treatment(population, untreated, groups, name):
    """Comedone counts fall under a topical retinoid, BPO, an oral antibiotic and the
    Rinaldi 2022 product, as they do in trials (direction only: the active-arm results of
    antibiotic and BPO trials are held out from calibration). In patients with acne the arm
    mean is below its own baseline and below the untreated arm at week 8, and at least 5 %
    below both at week 12."""
    m = groups["with_acne"]
    arm = population.run(TREATMENTS[name], days=WEEK12, step=7.0)
    base = arm.at("noninflammatory_lesions", 0.0)[m].mean()
    for day, factor in ((WEEK8, 1.0), (WEEK12, 0.95)):
        treated = arm.at("noninflammatory_lesions", day)[m].mean()
        assert treated < factor * base, (name, day, treated, base)
        assert treated < factor * untreated.at("noninflammatory_lesions", day)[m].mean()


def test_cutting_the_inflammatory_loop_clears_plugs(population, untreated, groups):
    """The Rinaldi product lowers follicular IL-1alpha, and established plugs resolve
    faster (plug_clearance > 1). Without the IL-1alpha leg (plug_il1a_gain = 0) fewer
    comedones convert to papules and comedones do not fall: the leg is what makes them
    respond (docs/modelling-choices.md, comedogenesis)."""
    m = groups["with_acne"]
    regs = TREATMENTS["rinaldi_product"]
    arm = population.run(regs, days=WEEK8, step=7.0)
    assert arm.at("skin_IL1a", WEEK8)[m].mean() < 0.8 * untreated.at("skin_IL1a", WEEK8)[m].mean()
    assert (
        arm.at("plug_clearance", WEEK8)[m].mean()
        > 1.1 * untreated.at("plug_clearance", WEEK8)[m].mean()
    )
    off = {"plug_il1a_gain": 0.0}
    arm_off = population.run(regs, days=WEEK8, step=7.0, overrides=off)
    ref_off = population.run([], days=WEEK8, step=7.0, overrides=off)
    with_leg = (
        arm.at("noninflammatory_lesions", WEEK8)[m].mean()
        / untreated.at("noninflammatory_lesions", WEEK8)[m].mean()
    )
    without_leg = (
        arm_off.at("noninflammatory_lesions", WEEK8)[m].mean()
        / ref_off.at("noninflammatory_lesions", WEEK8)[m].mean()
    )
    assert without_leg > 0.95
    assert with_leg < without_leg - 0.1


def test_baseline_does_not_depend_on_the_gland_state(population):
    """Untreated, the gland stays at its own size (1): the new state moves no baseline."""
    base = population.baseline()
    np.testing.assert_allclose(base.at("sebaceous_gland", 0.0), 1.0, rtol=0, atol=1e-9)


@pytest.fixture(scope="module")
def isotretinoin_course(population):
    """A 16-week course at 1 mg/kg/day, then 8 weeks off treatment."""
    return population.run(regimen("isotretinoin", WEEK16, dose=1.0), days=WEEK24, step=7.0)


def test_isotretinoin_course_shrinks_the_gland_and_sebum_stays_low(
    population, groups, isotretinoin_course
):
    """Sebum falls about 70 % within 4 weeks and about 80-88 % by the end of a 16-week
    1 mg/kg/day course (Leyden & McGinley 1982; Goldstein 1982; Arch Dermatol
    1994;130:315), and is still below 50 % of baseline 8 weeks after stopping, because
    the glands have involuted and regrow over months (Stewart 1983; Goldstein 1982)."""
    m = groups["with_acne"]
    run = isotretinoin_course
    s0 = run.at("sebum", 0.0)[m].mean()
    assert 0.20 <= run.at("sebum", 28.0)[m].mean() / s0 <= 0.45
    assert 0.10 <= run.at("sebum", WEEK16)[m].mean() / s0 <= 0.22
    assert run.at("sebum", WEEK24)[m].mean() / s0 < 0.5
    gland = run.at("sebaceous_gland", WEEK16)[m]
    assert 0.35 <= gland.mean() <= 0.55
    assert run.at("sebaceous_gland", WEEK24)[m].mean() < 0.55


def test_no_lesion_rebound_within_8_weeks_of_stopping(groups, isotretinoin_course):
    """Lesions do not rebound in the 8 weeks after the course: every weekly mean of
    inflammatory and of total lesions stays within 1 lesion of the end-of-course mean."""
    m = groups["with_acne"]
    run = isotretinoin_course
    for name in ("inflammatory_lesions", "total_lesions"):
        end = run.at(name, WEEK16)[m].mean()
        after = [run.at(name, WEEK16 + 7.0 * k)[m].mean() for k in range(1, 9)]
        assert max(after) <= end + 1.0, (name, end, after)


def test_gland_regrows_over_months(population, groups):
    """A year after a 16-week course the gland is back to 55-75 % of its size: sustainable
    sebum excretion was still 36 % below baseline at one year (Arch Dermatol 1994;130:315)."""
    m = groups["with_acne"]
    run = population.run(
        regimen("isotretinoin", WEEK16, dose=1.0), days=WEEK16 + 365.0, step=7.0, noise=False
    )
    day = run.t[np.argmin(np.abs(run.t - (WEEK16 + 365.0)))]
    assert 0.55 <= run.at("sebaceous_gland", day)[m].mean() <= 0.75
