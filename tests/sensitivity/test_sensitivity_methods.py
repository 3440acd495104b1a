"""The sensitivity methods against analytic indices (Ishigami & Homma 1990; Sobol' G).

Analytic values:

* Ishigami ``f = sin x1 + a sin² x2 + b x3⁴ sin x1`` on ``[-π, π]³`` (a = 7, b = 0.1):
  ``V = a²/8 + bπ⁴/5 + b²π⁸/18 + 1/2``, ``V1 = (1 + bπ⁴/5)²/2``, ``V2 = a²/8``,
  ``V13 = b²π⁸ (1/18 − 1/50)``; ``S1 = V1/V``, ``S2 = V2/V``, ``S3 = 0``,
  ``ST1 = (V1 + V13)/V``, ``ST3 = V13/V`` (Sobol' & Levitan 1999).
* Sobol' G ``f = Π (|4x_i − 2| + a_i)/(1 + a_i)`` on ``[0, 1]^D``:
  ``V_i = 1/(3(1 + a_i)²)``, ``V = Π(1 + V_i) − 1``, ``S_i = V_i/V``,
  ``ST_i = V_i Π_{j≠i}(1 + V_j)/V`` (Saltelli et al. 2010).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gutskin.sensitivity import METHODS, MethodError, analyse_function, get_method

A, B = 7.0, 0.1


def ishigami(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0]) + A * np.sin(x[:, 1]) ** 2 + B * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_analytic() -> dict[str, float]:
    pi = math.pi
    v = A**2 / 8 + B * pi**4 / 5 + B**2 * pi**8 / 18 + 0.5
    v1 = 0.5 * (1 + B * pi**4 / 5) ** 2
    v2 = A**2 / 8
    v13 = B**2 * pi**8 * (1 / 18 - 1 / 50)
    return {
        "S1_x1": v1 / v,
        "S1_x2": v2 / v,
        "S1_x3": 0.0,
        "ST_x1": (v1 + v13) / v,
        "ST_x2": v2 / v,
        "ST_x3": v13 / v,
        "S2_x1_x3": v13 / v,
        "S2_x1_x2": 0.0,
        "S2_x2_x3": 0.0,
    }


G_A = np.array([0.0, 1.0, 4.5, 9.0, 99.0, 99.0])


def sobol_g(x: np.ndarray) -> np.ndarray:
    return np.prod((np.abs(4 * x - 2) + G_A) / (1 + G_A), axis=1)


def sobol_g_analytic() -> tuple[np.ndarray, np.ndarray]:
    vi = 1.0 / (3.0 * (1.0 + G_A) ** 2)
    v = np.prod(1 + vi) - 1
    st = np.array([vi[i] * np.prod(np.delete(1 + vi, i)) for i in range(G_A.size)]) / v
    return vi / v, st


def _get(res, index: str, factor: str, factor2: str = "") -> dict:
    df = res.indices
    row = df[(df["index"] == index) & (df["factor"] == factor) & (df["factor2"] == factor2)]
    assert len(row) == 1
    return row.iloc[0].to_dict()


def _within(row: dict, truth: float) -> bool:
    return row["ci_low"] <= truth <= row["ci_high"]


@pytest.fixture(scope="module")
def ishigami_sobol():
    bounds = {k: (-math.pi, math.pi) for k in ("x1", "x2", "x3", "dummy")}
    return analyse_function(
        lambda x: ishigami(x[:, :3]),
        bounds,
        method="sobol",
        samples=2048,
        seed=3,
        second_order=True,
    )


def test_ishigami_sobol_first_and_total_match_analytic(ishigami_sobol):
    truth = ishigami_analytic()
    for key in ("S1_x1", "S1_x2", "S1_x3", "ST_x1", "ST_x2", "ST_x3"):
        index, factor = key.split("_")
        row = _get(ishigami_sobol, index, factor)
        assert _within(row, truth[key]), (key, row, truth[key])
        assert row["conf"] < 0.1  # the CI is informative, not vacuous


def test_ishigami_sobol_second_order_matches_analytic(ishigami_sobol):
    truth = ishigami_analytic()
    for key in ("S2_x1_x3", "S2_x1_x2", "S2_x2_x3"):
        _, f1, f2 = key.split("_")
        row = _get(ishigami_sobol, "S2", f1, f2)
        assert _within(row, truth[key]), (key, row, truth[key])
    assert _get(ishigami_sobol, "S2", "x1", "x3")["ci_low"] > 0.05  # the interaction is found


def test_dummy_factor_has_zero_total_index(ishigami_sobol):
    row = _get(ishigami_sobol, "ST", "dummy")
    assert _within(row, 0.0) and abs(row["value"]) < 1e-12


def test_sobol_g_matches_analytic():
    bounds = {f"x{i + 1}": (0.0, 1.0) for i in range(G_A.size)}
    res = analyse_function(sobol_g, bounds, method="sobol", samples=4096, seed=5)
    s1, st = sobol_g_analytic()
    for i, name in enumerate(bounds):
        assert _within(_get(res, "S1", name), s1[i]), (name, "S1", s1[i])
        assert _within(_get(res, "ST", name), st[i]), (name, "ST", st[i])


def test_morris_ranks_sobol_g_factors_by_importance():
    bounds = {f"x{i + 1}": (0.0, 1.0) for i in range(G_A.size)}
    res = analyse_function(sobol_g, bounds, method="morris", samples=40, seed=2)
    mu = res.indices[res.indices["index"] == "mu_star"].set_index("factor")["value"]
    # a = 0, 1, 4.5, 9 are strictly ordered; a = 99 factors are (nearly) inert
    assert mu["x1"] > mu["x2"] > mu["x3"] > mu["x4"] > max(mu["x5"], mu["x6"])
    assert max(mu["x5"], mu["x6"]) < 0.05 * mu["x1"]


def test_pawn_ranks_ishigami_and_flags_the_dummy():
    bounds = {k: (-math.pi, math.pi) for k in ("x1", "x2", "x3", "dummy")}
    res = analyse_function(lambda x: ishigami(x[:, :3]), bounds, method="pawn", samples=600, seed=1)
    main = res.indices[res.indices["index"] == "pawn"].set_index("factor")
    assert main.loc["x2", "value"] > main.loc["x1", "value"] > main.loc["dummy", "value"]
    assert main.loc["x3", "value"] > main.loc["dummy", "value"]
    # the influential factors are separated from the dummy by their CIs
    for f in ("x1", "x2"):
        assert main.loc[f, "ci_low"] > main.loc["dummy", "ci_high"]
    assert (main["ci_low"] <= main["value"]).all() and (main["value"] <= main["ci_high"]).all()


def test_registry_and_sample_size_checks():
    assert set(METHODS) == {"morris", "sobol", "pawn"}
    with pytest.raises(MethodError, match="unknown method 'fast'"):
        get_method("fast")
    with pytest.raises(MethodError, match="power of two"):
        get_method("sobol").check(100, 3)
    with pytest.raises(MethodError, match="too small"):
        get_method("sobol").check(8, 3)
    with pytest.raises(MethodError, match="too small"):
        get_method("morris").check(2, 3)
    with pytest.raises(MethodError, match="too small"):
        get_method("pawn").check(50, 3)
    with pytest.raises(MethodError, match="second-order"):
        get_method("morris").check(10, 3, second_order=True)
    assert get_method("sobol").n_evaluations(64, 5) == 64 * 7
    assert get_method("sobol").n_evaluations(64, 5, second_order=True) == 64 * 12
    assert get_method("morris").n_evaluations(10, 5) == 60


def test_failed_evaluations_drop_whole_blocks():
    """NaN outcomes (failed solves) leave out their Saltelli block / Morris trajectory."""
    bounds = {k: (-math.pi, math.pi) for k in ("x1", "x2", "x3")}

    def flaky(x):
        y = ishigami(x)
        y[::97] = np.nan  # ~1 % of evaluations fail
        return y

    res = analyse_function(flaky, bounds, method="sobol", samples=1024, seed=3)
    truth = ishigami_analytic()
    used = int(res.indices["n_used"].iloc[0])
    assert 0 < used < 1024 * 5 and used % 5 == 0
    for key in ("ST_x1", "ST_x2", "ST_x3"):
        index, factor = key.split("_")
        assert _within(_get(res, index, factor), truth[key]), key
    assert any("left out" in n for n in res.info["notes"])
    mo = analyse_function(flaky, bounds, method="morris", samples=30, seed=3)
    mu = mo.indices[mo.indices["index"] == "mu_star"]
    assert mu["value"].notna().all() and (mu["n_used"] % 4 == 0).all()
