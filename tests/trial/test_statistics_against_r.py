"""gutskin's trial statistics against R (issue 21).

The fixtures in ``tests/reference/fixtures`` are written by
``tests/reference/make_r_fixtures.R`` (``make r-fixtures``): four synthetic data sets
(balanced, monotone dropout, heterogeneous visit variances with dropout, 8 patients
per arm) and R's results for each method (the R call is named in the script);
``make_mi_fixtures.py`` and ``make_r_mi_fixtures.R`` add the multiple-imputation
responder (R ``mice``) on the sets with dropout.
Tolerances: 1e-6 relative for closed forms, 1e-4 for iterative fits.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gutskin.trial.statistics import compare, pool_rubin

FIXTURES = Path(__file__).resolve().parents[1] / "reference" / "fixtures"
SCRIPT = FIXTURES.parent / "make_r_fixtures.R"
MI_SCRIPT = FIXTURES.parent / "make_r_mi_fixtures.R"
SETS = ("balanced", "dropout", "heterogeneous", "small")
R = json.loads((FIXTURES / "r_results.json").read_text())
ARMS = {"arm": "T", "reference": "C"}


def _data(name: str) -> pd.DataFrame:
    d = pd.read_csv(FIXTURES / f"{name}.csv")
    d["observed"] = True
    d["arm"] = d["arm"].astype(str)
    return d


def _close(got: float, want: float, rel: float, what: str) -> None:
    assert got == pytest.approx(want, rel=rel, abs=rel * 1e-2), f"{what}: {got} vs R {want}"


@pytest.mark.parametrize("name", SETS)
def test_ancova_against_r(name: str) -> None:
    ref = R[name]["ancova"]
    res = compare(_data(name), endpoint="y", visit_week=12, method="ancova", **ARMS)
    for key in ("estimate", "ci_low", "ci_high", "p_value"):
        _close(res[key], ref[key], 1e-6, f"{name} ancova {key}")


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("kind", ["model", "robust"])
def test_negbin_against_r(name: str, kind: str) -> None:
    ref = R[name]["negbin"]
    res = compare(
        _data(name), endpoint="count", visit_week=12, method="negbin", negbin_se=kind, **ARMS
    )
    _close(math.log(res["estimate"]), ref["log_rate_ratio"], 1e-4, f"{name} negbin estimate")
    for key in ("ci_low", "ci_high", "p_value"):
        _close(res[key], ref[kind][key], 1e-4, f"{name} negbin {kind} {key}")


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("week", [12, 8])
def test_mmrm_against_r(name: str, week: int) -> None:
    ref = R[name]["mmrm" if week == 12 else "mmrm_week8"]
    res = compare(_data(name), endpoint="y", visit_week=week, method="mmrm", **ARMS)
    assert res["note"] is None, res["note"]
    for key in ("estimate", "ci_low", "ci_high", "p_value"):
        _close(res[key], ref[key], 1e-4, f"{name} mmrm week {week} {key}")


@pytest.mark.parametrize("name", SETS)
def test_mmrm_covariance_and_df_against_r(name: str) -> None:
    from gutskin.trial import mmrm

    d = _data(name)
    wide = d.pivot(index="patient", columns="visit_week", values="y")
    arm = d.groupby("patient")["arm"].first().loc[wide.index].to_numpy() == "T"
    base = wide[0.0].to_numpy()
    change = wide[[4.0, 8.0, 12.0]].to_numpy() - base[:, None]
    fit = mmrm.fit(change, np.column_stack([np.ones(len(base)), arm, base]))
    ref = R[name]["mmrm"]
    np.testing.assert_allclose(fit.sigma, np.array(ref["sigma"]), rtol=1e-4)
    c = np.zeros(fit.beta.size)
    c[3 + 2] = 1.0
    est, se, df = fit.contrast(c)
    _close(est, ref["estimate"], 1e-4, f"{name} mmrm estimate")
    _close(se, ref["se"], 1e-4, f"{name} mmrm se")
    _close(df, ref["df"], 1e-4, f"{name} mmrm Satterthwaite df")


@pytest.mark.parametrize("name", SETS)
def test_responder_against_r(name: str) -> None:
    ref = R[name]["responder"]
    res = compare(
        _data(name),
        endpoint="resp",
        visit_week=12,
        method="responder",
        responder_test="score",
        **ARMS,
    )
    for key in ("estimate", "ci_low", "ci_high", "p_value"):
        _close(res[key], ref[key], 1e-6, f"{name} responder {key}")


MI_SETS = ("dropout", "heterogeneous")
RMI = json.loads((FIXTURES / "r_mi_results.json").read_text())


@pytest.mark.parametrize("name", MI_SETS)
def test_mmrm_under_mi_is_the_observed_data_mmrm_of_r(name: str) -> None:
    """Issue 29: with missing='mi' the MMRM is still fitted to the observed data (MAR)."""
    ref = R[name]["mmrm"]
    res = compare(_data(name), endpoint="y", visit_week=12, method="mmrm", missing="mi", **ARMS)
    assert res["missing"] == "observed"
    assert "observed data" in res["note"]
    for key in ("estimate", "ci_low", "ci_high", "p_value"):
        _close(res[key], ref[key], 1e-4, f"{name} mmrm (mi requested) {key}")


@pytest.mark.parametrize("name", MI_SETS)
@pytest.mark.parametrize("arm", ["C", "T"])
def test_logistic_imputation_model_against_mice(name: str, arm: str) -> None:
    """The imputation model of a 0/1 endpoint is R mice.impute.logreg's (augmented glm)."""
    from gutskin.trial.methods.missing import _logreg_model

    d = _data(name)
    base = d[(d.visit_week == 0) & (d.arm == arm)].set_index("patient")["y"].sort_index()
    wk = d[(d.visit_week == 4) & (d.arm == arm)].set_index("patient")["resp"]
    y = wk.reindex(base.index).to_numpy()
    x = base.to_numpy()[:, None]
    obs = np.isfinite(y)
    beta, cov, _ = _logreg_model(y, np.column_stack([np.ones(len(y)), x]))
    ref = RMI[name]["logreg"][arm]
    assert int((~obs).sum()) == ref["n_missing"]
    np.testing.assert_allclose(beta, ref["coefficients"], rtol=1e-6)
    np.testing.assert_allclose(cov, np.array(ref["cov_unscaled"]), rtol=1e-6)


@pytest.mark.parametrize("name", MI_SETS)
def test_mi_responder_pooled_against_mice(name: str) -> None:
    """Rubin's rules on the risk difference, as mice::pool.scalar on the same imputations.

    The fixture holds gutskin's own completed data sets (seeded); R computes each risk
    difference and Wald variance and pools them.  If this fails after a change to the
    imputation, regenerate the fixtures (``make r-fixtures``).
    """
    mi = pd.read_csv(FIXTURES / f"mi_responder_{name}.csv")
    res = compare(
        _data(name),
        endpoint="resp",
        visit_week=12,
        method="responder",
        missing="mi",
        severity="y",
        seed=20261207,
        n_imputations=int(mi["imputation"].max()),
        **ARMS,
    )
    ref = RMI[name]["pooled"]
    assert res["missing"] == "mi"
    for key in ("estimate", "ci_low", "ci_high", "p_value"):
        _close(res[key], ref[key], 1e-6, f"{name} MI responder {key}")


def test_rubin_pooling_against_r() -> None:
    ref = R["rubin"]
    got = pool_rubin(ref["estimates"], ref["variances"], df_complete=ref["df_complete"])
    for key in ("estimate", "se", "df", "ci_low", "ci_high", "p_value", "fmi"):
        _close(got[key], ref["pooled"][key], 1e-6, f"rubin {key}")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")
def test_r_fixtures_regenerate_unchanged(tmp_path: Path) -> None:
    """With R present, the committed fixtures are what the script writes."""
    subprocess.run(["Rscript", str(SCRIPT), str(tmp_path)], check=True, timeout=600)
    mi_py = FIXTURES.parent / "make_mi_fixtures.py"
    subprocess.run([sys.executable, str(mi_py), str(tmp_path)], check=True, timeout=600)
    subprocess.run(["Rscript", str(MI_SCRIPT), str(tmp_path)], check=True, timeout=600)
    for name in MI_SETS:
        pd.testing.assert_frame_equal(
            pd.read_csv(tmp_path / f"mi_responder_{name}.csv"),
            pd.read_csv(FIXTURES / f"mi_responder_{name}.csv"),
        )
    for name in SETS:
        pd.testing.assert_frame_equal(
            pd.read_csv(tmp_path / f"{name}.csv"), pd.read_csv(FIXTURES / f"{name}.csv")
        )
    new = json.loads((tmp_path / "r_results.json").read_text())
    new.pop("r_version")
    old = dict(R)
    old.pop("r_version")

    def flat(x: object, pre: str = "") -> dict[str, float]:
        if isinstance(x, dict):
            out: dict[str, float] = {}
            for k, v in x.items():
                out.update(flat(v, f"{pre}.{k}"))
            return out
        if isinstance(x, list):
            return {f"{pre}[{i}]": float(v) for i, v in enumerate(np.ravel(x))}
        return {pre: float(x)}  # type: ignore[arg-type]

    new_mi = json.loads((tmp_path / "r_mi_results.json").read_text())
    old_mi = dict(RMI)
    for dct in (new_mi, old_mi):
        dct.pop("r_version")
        dct.pop("mice_version")
    for a, b in ((flat(new), flat(old)), (flat(new_mi), flat(old_mi))):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-8, abs=1e-12), k
