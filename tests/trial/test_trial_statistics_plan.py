"""Issue 29: what a trial statistician checks in a simulated trial's analysis.

- the MMRM is fitted to the observed data whatever ``analysis.missing`` says;
- the binary endpoint under MI is imputed from a model with arm, baseline severity and
  the strata, and the method is the one ``docs/statistics.md`` names;
- no per-visit value of any column survives where the visit is not observed;
- randomization strata are covariates of the model-based analyses by default.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gutskin.trial.design import load_design
from gutskin.trial.run import run_trial
from gutskin.trial.statistics import compare

ID_COLUMNS = {"patient", "arm", "visit", "visit_week", "observed", "sex", "age"}


@pytest.fixture(scope="module")
def trial():
    design = load_design("probiotic12wk").model_copy(update={"sample_size": 120})
    design = design.model_copy(
        update={"dropout": design.dropout.model_copy(update={"rate_per_week": 0.04})}
    )
    return run_trial(design, seed=11)


def test_no_value_is_present_where_the_visit_is_not_observed(trial) -> None:
    ep = trial.endpoints
    unobserved = ~ep["observed"].to_numpy(dtype=bool)
    assert unobserved.sum() > 20  # the check has dropouts to look at
    for col in ep.columns:
        if col in ID_COLUMNS:
            continue
        present = ep.loc[unobserved, col].notna()
        assert not present.any(), f"{col} has {int(present.sum())} values after dropout"


def test_mmrm_is_the_observed_data_fit_under_mi(trial) -> None:
    comps = [c for c in trial.comparisons if c["method"] == "mmrm"]
    assert comps and trial.design.analysis.missing == "mi"
    for c in comps:
        assert c["missing"] == "observed"
        ref = compare(
            trial.endpoints,
            endpoint=c["endpoint"],
            visit_week=c["visit_week"],
            arm=c["arm"],
            reference=c["reference"],
            method="mmrm",
            missing="observed",
            covariates=c["covariates"],
        )
        assert c["estimate"] == pytest.approx(ref["estimate"], rel=1e-12)
        assert c["p_value"] == pytest.approx(ref["p_value"], rel=1e-12)
        # and not the ANCOVA under MI that it used to copy
        anc = next(
            x
            for x in trial.comparisons
            if x["method"] == "ancova" and x["endpoint"] == c["endpoint"]
        )
        assert abs(c["estimate"] - anc["estimate"]) > 1e-6


def test_strata_are_covariates_by_default_and_can_be_turned_off(trial) -> None:
    assert trial.design.randomization.strata == ["sex"]
    for c in trial.comparisons:
        assert c["covariates"] == ([] if c["method"] == "responder" else ["sex"])
    off = trial.design.model_copy(
        update={"analysis": trial.design.analysis.model_copy(update={"adjust_for_strata": False})}
    )
    assert off.analysis_covariates() == []
    sev = trial.design.model_copy(
        update={
            "randomization": trial.design.randomization.model_copy(
                update={"strata": ["sex", "severity"]}
            )
        }
    )
    assert sev.analysis_covariates() == ["sex", "baseline_iga"]


def test_severity_stratum_enters_as_baseline_iga(trial) -> None:
    from dataclasses import replace

    from gutskin.trial.analysis import analyse_trial

    design = trial.design.model_copy(
        update={
            "randomization": trial.design.randomization.model_copy(
                update={"strata": ["sex", "severity"]}
            )
        }
    )
    res = analyse_trial(replace(trial, design=design))
    anc = next(c for c in res.comparisons if c["method"] == "ancova")
    assert anc["covariates"] == ["sex", "baseline_iga"]
    assert anc["note"] is None or "dropped" not in anc["note"]


def _binary_data(n: int = 120, seed: int = 3) -> pd.DataFrame:
    """A trial-like table in which baseline severity predicts success and dropout."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n):
        arm = "T" if p % 2 else "C"
        sev = float(rng.integers(2, 5))
        for week in (0, 4, 8, 12):
            succ = np.nan
            if week:
                lin = -1.0 + 0.8 * (arm == "T") - 1.2 * (sev - 3) + 0.1 * week
                succ = float(rng.random() < 1 / (1 + np.exp(-lin)))
            gone = week >= 8 and sev >= 4 and p % 3 == 0
            rows.append(
                {
                    "patient": p,
                    "arm": arm,
                    "visit_week": float(week),
                    "observed": not gone,
                    "iga": sev,
                    "iga_success": succ,
                }
            )
    return pd.DataFrame(rows)


def test_binary_imputation_uses_the_baseline_severity() -> None:
    from gutskin.trial import statistics

    d = _binary_data()
    seen: list[np.ndarray | None] = []
    real = statistics._impute_many

    def spy(*args, **kw):  # type: ignore[no-untyped-def]
        seen.append(kw.get("extra"))
        assert kw.get("binary") is True
        return real(*args, **kw)

    statistics._impute_many = spy  # type: ignore[assignment]
    try:
        res = compare(
            d,
            endpoint="iga_success",
            visit_week=12,
            arm="T",
            reference="C",
            method="responder",
            missing="mi",
            n_imputations=5,
        )
    finally:
        statistics._impute_many = real  # type: ignore[assignment]
    assert res["missing"] == "mi" and "multiple imputation" in res["note"]
    base = d[d.visit_week == 0].sort_values("patient")["iga"].to_numpy()
    assert seen and seen[0] is not None
    np.testing.assert_array_equal(seen[0][:, 0], base)
    # the pooled interval is a t interval around the estimate
    assert res["ci_low"] < res["estimate"] < res["ci_high"]
