"""Sensitivity factors that the analysis cannot vary per sample are refused."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("name", "word"), [("care_seeking", "screened"), ("iga_cut_2", "IGA")])
def test_parameters_fixed_per_analysis_are_refused(name, word):
    """Screening and grading parameters act once on the fixed cohort: refused as factors."""
    from gutskin.model import acne_model
    from gutskin.sensitivity.factors import FactorError, make_factor

    with pytest.raises(FactorError, match=word) as info:
        make_factor(name, acne_model())
    assert name in str(info.value)


def test_default_factors_leave_out_the_fixed_parameters():
    from gutskin.model import acne_model
    from gutskin.sensitivity.factor_sets import default_factors

    names = {f.name for f in default_factors(acne_model())}
    assert "care_seeking" not in names and "iga_cut_2" not in names
    assert "gut_skin_gain" in names
