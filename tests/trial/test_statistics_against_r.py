"""gutskin's trial statistics against R (issue 21).

The fixtures in ``tests/reference/fixtures`` are written by
``tests/reference/make_r_fixtures.R`` (``make r-fixtures``): four synthetic data sets
(balanced, monotone dropout, heterogeneous visit variances with dropout, 8 patients
per arm) and R's results for each method (the R call is named in the script).
Tolerances: 1e-6 relative for closed forms, 1e-4 for iterative fits.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gutskin.trial.statistics import compare, pool_rubin

FIXTURES = Path(__file__).resolve().parents[1] / "reference" / "fixtures"
SCRIPT = FIXTURES.parent / "make_r_fixtures.R"
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

    a, b = flat(new), flat(old)
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-8, abs=1e-12), k
