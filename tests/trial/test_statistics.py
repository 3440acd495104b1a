"""Validation of :mod:`gutskin.trial.statistics` and :mod:`~gutskin.trial.summaries` on synthetic
acne trials.

Every check is against an independent computation (numpy least squares, the
Wilson/Newcombe formulas, scipy's chi-square) or a known data-generating truth
(rate ratio, treatment difference), and the type-I error of each test is
checked by Monte Carlo under a null design.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gutskin.trial.statistics import (
    StatisticsError,
    compare,
    pool_rubin,
)
from gutskin.trial.summaries import describe, power_from_pvalues

VISITS = np.array([0.0, 4.0, 8.0, 12.0])
ARMS = {"arm": "active", "reference": "vehicle"}
N_NULL = 1000  # replicate trials for the type-I-error checks


# --------------------------------------------------------------------------------------
# synthetic trials
# --------------------------------------------------------------------------------------


def simulate_trial(
    rng: np.random.Generator,
    n_per_arm: int,
    *,
    rate_ratio: float = 1.0,
    dropout: float = 0.0,
    mar: bool = False,
    size: float = 4.0,
    base_mean: float = 25.0,
    sd_re: float = 0.4,
    decline: float = 0.03,
) -> pd.DataFrame:
    """Long table of an acne trial: NB lesion counts at weeks 0/4/8/12.

    Patient ``i`` has a log-normal frailty ``exp(u_i)``, ``u_i ~ N(0, sd_re²)``;
    the count at week ``w`` is NB2 with mean ``base_mean·exp(u_i)·exp(-decline·w)``
    multiplied by ``rate_ratio^(w/12)`` in the active arm and dispersion ``size``.
    Dropout is monotone: at each post-baseline visit a patient still in the trial
    leaves with probability ``dropout`` (MCAR) or, with ``mar=True``, with a
    probability rising with the previous count relative to baseline (lack of
    efficacy; MAR).  ``iga_success`` is a derived 0/1 endpoint (count ≤ 60 % of
    baseline), NaN at baseline.
    """
    n = 2 * n_per_arm
    arm = np.repeat(np.array(["active", "vehicle"]), n_per_arm)
    active = arm == "active"
    u = rng.normal(0.0, sd_re, n)
    mu = base_mean * np.exp(u)[:, None] * np.exp(-decline * VISITS)[None, :]
    mu = mu * np.where(active[:, None], rate_ratio ** (VISITS / VISITS[-1])[None, :], 1.0)
    y = rng.negative_binomial(size, size / (size + mu)).astype(float)
    observed = np.ones_like(y, dtype=bool)
    alive = np.ones(n, dtype=bool)
    for j in range(1, VISITS.size):
        if mar:
            rel = y[:, j - 1] / np.maximum(y[:, 0], 1.0)
            p = dropout * 2.0 / (1.0 + np.exp(-4.0 * (rel - 1.0)))
        else:
            p = np.full(n, dropout)
        alive &= rng.random(n) >= p
        observed[:, j] = alive
    success = np.where(VISITS[None, :] > 0, (y <= 0.6 * y[:, [0]]).astype(float), np.nan)
    k = VISITS.size
    return pd.DataFrame(
        {
            "patient": np.repeat(np.arange(n), k),
            "arm": np.repeat(arm, k),
            "visit_week": np.tile(VISITS, n),
            "observed": observed.ravel(),
            "sex": np.repeat(rng.choice(np.array(["F", "M"]), n), k),
            "age": np.repeat(rng.uniform(12.0, 40.0, n), k),
            "inflammatory": np.where(observed, y, np.nan).ravel(),
            "iga_success": np.where(observed, success, np.nan).ravel(),
        }
    )


def true_change_difference(
    rate_ratio: float, *, base_mean: float = 25.0, sd_re: float = 0.4, decline: float = 0.03
) -> float:
    """Population difference (active − vehicle) in mean change at week 12."""
    return base_mean * math.exp(sd_re**2 / 2) * math.exp(-decline * VISITS[-1]) * (rate_ratio - 1.0)


def two_visit_table(arm: list[str], base: list[float], week12: list[float], name: str):
    """Long table with baseline and week 12 of one endpoint (NaN = not observed)."""
    n = len(arm)
    w12 = np.asarray(week12, dtype=float)
    return pd.DataFrame(
        {
            "patient": np.repeat(np.arange(n), 2),
            "arm": np.repeat(arm, 2),
            "visit_week": np.tile([0.0, 12.0], n),
            "observed": np.column_stack([np.ones(n, bool), np.isfinite(w12)]).ravel(),
            name: np.column_stack([base, w12]).ravel(),
        }
    )


def mc_interval(n: int, p: float = 0.05, level: float = 0.99) -> tuple[float, float]:
    """Central binomial interval of an empirical rejection rate (scipy)."""
    lo, hi = stats.binom.interval(level, n, p)
    return lo / n, hi / n


@pytest.fixture(scope="module")
def null_trials() -> list[pd.DataFrame]:
    """N_NULL replicate trials, two identical arms, 50 patients each, no dropout."""
    rng = np.random.default_rng(20240611)
    return [simulate_trial(rng, 50) for _ in range(N_NULL)]


# --------------------------------------------------------------------------------------
# estimates against hand computations
# --------------------------------------------------------------------------------------

ANCOVA_ARM = ["active"] * 7 + ["vehicle"] * 6
ANCOVA_BASE = [22, 31, 18, 40, 27, 35, 25, 24, 30, 19, 38, 28, 33]
ANCOVA_W12 = [12, 20, 11, 26, 19, 21, np.nan, 20, 27, 15, 31, 26, 25]  # patient 6 dropped out


def _hand_ancova(extra_cols: np.ndarray | None = None):
    arm = np.array(ANCOVA_ARM)
    base = np.array(ANCOVA_BASE, float)
    y = np.array(ANCOVA_W12, float)
    ok = np.isfinite(y)
    x = np.column_stack([np.ones(ok.sum()), (arm[ok] == "active") * 1.0, base[ok]])
    if extra_cols is not None:
        x = np.column_stack([x, extra_cols[ok]])
    change = y[ok] - base[ok]
    beta, *_ = np.linalg.lstsq(x, change, rcond=None)
    resid = change - x @ beta
    df = x.shape[0] - x.shape[1]
    xtx_inv = np.linalg.inv(x.T @ x)
    se = math.sqrt(resid @ resid / df * xtx_inv[1, 1])
    # HC3 sandwich
    h = np.einsum("ij,jk,ik->i", x, xtx_inv, x)
    meat = x.T @ (x * (resid**2 / (1 - h) ** 2)[:, None])
    se_hc3 = math.sqrt((xtx_inv @ meat @ xtx_inv)[1, 1])
    return beta[1], se, se_hc3, df


def test_ancova_matches_numpy_lstsq() -> None:
    table = two_visit_table(ANCOVA_ARM, ANCOVA_BASE, ANCOVA_W12, "inflammatory")
    res = compare(table, endpoint="inflammatory", visit_week=12, method="ancova", **ARMS)
    est, se, se_hc3, df = _hand_ancova()
    t = stats.t.ppf(0.975, df)
    assert res["estimate"] == pytest.approx(est, rel=1e-10)
    assert res["ci_low"] == pytest.approx(est - t * se, rel=1e-10)
    assert res["ci_high"] == pytest.approx(est + t * se, rel=1e-10)
    assert res["p_value"] == pytest.approx(2 * stats.t.sf(abs(est) / se, df), rel=1e-8)
    assert (res["n_arm"], res["n_reference"]) == (6, 6)
    assert res["note"] is None

    robust = compare(
        table, endpoint="inflammatory", visit_week=12, method="ancova", cov_type="HC3", **ARMS
    )
    assert robust["estimate"] == pytest.approx(est, rel=1e-10)
    z = stats.norm.ppf(0.975)  # statsmodels uses normal quantiles with robust SEs
    assert robust["ci_high"] - robust["ci_low"] == pytest.approx(2 * z * se_hc3, rel=1e-8)

    # change and raw value as outcome give the same arm coefficient with baseline adjusted
    res90 = compare(
        table, endpoint="inflammatory", visit_week=12, method="ancova", alpha=0.1, **ARMS
    )
    t90 = stats.t.ppf(0.95, df)
    assert res90["ci_high"] == pytest.approx(est + t90 * se, rel=1e-10)


def test_ancova_covariates_are_dummy_coded() -> None:
    table = two_visit_table(ANCOVA_ARM, ANCOVA_BASE, ANCOVA_W12, "inflammatory")
    sex = np.array(list("FMFFMMFMFMFFM"))
    age = np.array([17, 22, 30, 15, 19, 25, 33, 16, 21, 28, 18, 24, 20], float)
    table["sex"] = np.repeat(sex, 2)
    table["age"] = np.repeat(age, 2)
    res = compare(
        table,
        endpoint="inflammatory",
        visit_week=12,
        method="ancova",
        covariates=("sex", "age"),
        **ARMS,
    )
    est, se, _, df = _hand_ancova(np.column_stack([(sex == "M") * 1.0, age]))
    assert res["estimate"] == pytest.approx(est, rel=1e-10)
    assert res["p_value"] == pytest.approx(2 * stats.t.sf(abs(est) / se, df), rel=1e-8)


def test_unobserved_values_are_ignored() -> None:
    table = two_visit_table(ANCOVA_ARM, ANCOVA_BASE, ANCOVA_W12, "inflammatory")
    poisoned = table.copy()
    poisoned.loc[~poisoned["observed"], "inflammatory"] = 999.0  # stale value, not observed
    a = compare(table, endpoint="inflammatory", visit_week=12, method="ancova", **ARMS)
    b = compare(poisoned, endpoint="inflammatory", visit_week=12, method="ancova", **ARMS)
    assert a == b


def test_negbin_recovers_known_rate_ratio() -> None:
    rng = np.random.default_rng(7)
    n, size, ratio = 1500, 3.0, 0.7
    active = np.repeat([1.0, 0.0], n)
    base = rng.negative_binomial(size, size / (size + 25.0), 2 * n).astype(float)
    mu = np.exp(0.4 + math.log(ratio) * active + 0.8 * np.log1p(base))
    y = rng.negative_binomial(size, size / (size + mu)).astype(float)
    arm = np.where(active == 1, "active", "vehicle").tolist()
    table = two_visit_table(arm, base.tolist(), y.tolist(), "inflammatory")
    res = compare(table, endpoint="inflammatory", visit_week=12, method="negbin", **ARMS)
    assert res["ci_low"] < ratio < res["ci_high"]
    assert res["estimate"] == pytest.approx(ratio, abs=0.04)
    assert res["ci_high"] / res["ci_low"] < 1.15  # ~±3.5 % on the log scale with n = 3000
    assert res["p_value"] < 1e-20

    # wiring of the two standard errors against a direct statsmodels fit
    from statsmodels.discrete.discrete_model import NegativeBinomial

    x = np.column_stack([np.ones(2 * n), active, np.log1p(base)])
    nb = NegativeBinomial(y, x, loglike_method="nb2")
    model = nb.fit(disp=0, maxiter=300)
    res_model = compare(
        table, endpoint="inflammatory", visit_week=12, method="negbin", negbin_se="model", **ARMS
    )
    assert math.log(res_model["estimate"]) == pytest.approx(model.params[1], rel=1e-5)
    lo, hi = np.exp(model.conf_int()[1])
    assert (res_model["ci_low"], res_model["ci_high"]) == pytest.approx((lo, hi), rel=1e-4)
    sandwich = nb.fit(disp=0, maxiter=300, cov_type="HC0").bse[1] * math.sqrt(2 * n / (2 * n - 4))
    t = stats.t.ppf(0.975, 2 * n - 4)
    assert math.log(res["ci_high"] / res["ci_low"]) / 2 == pytest.approx(t * sandwich, rel=1e-4)


def _wilson(x: int, n: int, z: float) -> tuple[float, float]:
    p = x / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half, centre + half


def test_responder_risk_difference_matches_hand_computation() -> None:
    # gags: responder = improvement ≥ 2 grades; active 18/30, vehicle 9/30 respond
    arm = ["active"] * 30 + ["vehicle"] * 30
    base = [20.0] * 60
    improvement = [3.0] * 18 + [1.0] * 12 + [2.0] * 9 + [0.0] * 21
    week12 = [b - d for b, d in zip(base, improvement, strict=True)]
    table = two_visit_table(arm, base, week12, "gags")
    res = compare(table, endpoint="gags", visit_week=12, method="responder", threshold=2, **ARMS)
    x1, x0, n1, n0 = 18, 9, 30, 30
    p1, p0 = x1 / n1, x0 / n0
    z = stats.norm.ppf(0.975)
    l1, u1 = _wilson(x1, n1, z)
    l0, u0 = _wilson(x0, n0, z)
    d = p1 - p0
    assert res["estimate"] == pytest.approx(0.3, abs=1e-12)
    # Newcombe (1998) method 10
    assert res["ci_low"] == pytest.approx(d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), rel=1e-9)
    assert res["ci_high"] == pytest.approx(d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2), rel=1e-9)
    # Miettinen–Nurminen score statistic = Pearson chi-square × (N − 1)/N
    chi2 = stats.chi2_contingency([[x1, n1 - x1], [x0, n0 - x0]], correction=False)[0]
    n_tot = n1 + n0
    assert res["p_value"] == pytest.approx(stats.chi2.sf(chi2 * (n_tot - 1) / n_tot, 1), rel=1e-8)

    # the same responders given as a 0/1 endpoint
    binary = table.assign(
        iga_success=np.where(
            table["visit_week"] > 0,
            (np.repeat(improvement, 2) >= 2) * 1.0,
            np.nan,
        )
    )
    res_bin = compare(binary, endpoint="iga_success", visit_week=12, method="responder", **ARMS)
    for key in ("estimate", "ci_low", "ci_high", "p_value"):
        assert res_bin[key] == pytest.approx(res[key], rel=1e-12)

    # percent threshold: 3/20 = 15 % ≥ 10 % responds, 2/20 = 10 % responds, 1/20 does not
    pct = compare(
        table,
        endpoint="gags",
        visit_week=12,
        method="responder",
        threshold=10,
        threshold_kind="percent",
        **ARMS,
    )
    assert pct["estimate"] == pytest.approx(0.3)


def test_responder_small_n_uses_fisher_exact() -> None:
    arm = ["active"] * 6 + ["vehicle"] * 6
    success = [1, 1, 1, 1, 0, 0] + [0] * 6
    table = two_visit_table(arm, [np.nan] * 12, success, "iga_success")
    res = compare(table, endpoint="iga_success", visit_week=12, method="responder", **ARMS)
    assert res["estimate"] == pytest.approx(4 / 6)
    assert res["p_value"] == pytest.approx(stats.fisher_exact([[4, 2], [0, 6]]).pvalue)
    assert "Fisher" in res["note"]


def test_mmrm_counts_patients_with_any_post_baseline_value() -> None:
    """Estimates are checked against R in test_statistics_against_r.py; here the counts."""
    rng = np.random.default_rng(3)
    d = simulate_trial(rng, 40, rate_ratio=0.6, dropout=0.1)
    res = compare(d, endpoint="inflammatory", visit_week=8, method="mmrm", **ARMS)
    post = d[(d.visit_week > 0) & d.observed & d.inflammatory.notna()]
    assert (res["n_arm"], res["n_reference"]) == (
        post.loc[post.arm == "active", "patient"].nunique(),
        post.loc[post.arm != "active", "patient"].nunique(),
    )
    assert res["note"] is None
    assert res["ci_low"] < res["estimate"] < res["ci_high"]


def test_mmrm_with_one_post_baseline_visit_is_ancova() -> None:
    table = two_visit_table(ANCOVA_ARM, ANCOVA_BASE, ANCOVA_W12, "inflammatory")
    a = compare(table, endpoint="inflammatory", visit_week=12, method="ancova", **ARMS)
    m = compare(table, endpoint="inflammatory", visit_week=12, method="mmrm", **ARMS)
    assert m["estimate"] == pytest.approx(a["estimate"])
    assert m["p_value"] == pytest.approx(a["p_value"])
    assert "reduces to ancova" in m["note"]


# --------------------------------------------------------------------------------------
# type-I error under a null design (two identical arms, 50 per arm)
# --------------------------------------------------------------------------------------


def _null_pvalues(trials: list[pd.DataFrame], **kwargs) -> list[float]:
    return [compare(d, visit_week=12, **ARMS, **kwargs)["p_value"] for d in trials]


def test_ancova_false_positive_rate_is_nominal(null_trials: list[pd.DataFrame]) -> None:
    p = _null_pvalues(null_trials, endpoint="inflammatory", method="ancova")
    power = power_from_pvalues(p)
    lo, hi = mc_interval(len(p))
    assert power["n_nan"] == 0
    assert lo <= power["power"] <= hi, power


def test_negbin_false_positive_rate_is_nominal(null_trials: list[pd.DataFrame]) -> None:
    p = _null_pvalues(null_trials, endpoint="inflammatory", method="negbin")
    power = power_from_pvalues(p)
    lo, hi = mc_interval(len(p))
    assert power["n_nan"] == 0
    assert lo <= power["power"] <= hi, power


def test_responder_false_positive_rate(null_trials: list[pd.DataFrame]) -> None:
    score = power_from_pvalues(
        _null_pvalues(null_trials, endpoint="iga_success", method="responder")
    )
    lo, hi = mc_interval(N_NULL)
    assert lo <= score["power"] <= hi, score
    # Fisher's exact test is conservative: only an upper bound is asserted
    fisher = power_from_pvalues(
        _null_pvalues(
            null_trials, endpoint="iga_success", method="responder", responder_test="fisher"
        )
    )
    assert fisher["power"] <= hi, fisher
    assert fisher["power"] <= score["power"]


@pytest.mark.slow
def test_mmrm_false_positive_rate_is_nominal(null_trials: list[pd.DataFrame]) -> None:
    """Unstructured REML MMRM with Satterthwaite df at nominal 5 % over the null trials."""
    trials = null_trials
    assert len(trials) >= 1000
    p = _null_pvalues(trials, endpoint="inflammatory", method="mmrm")
    power = power_from_pvalues(p)
    lo, hi = mc_interval(len(p))
    assert lo <= power["power"] <= hi, power


@pytest.mark.slow
def test_mi_false_positive_rate_with_dropout() -> None:
    rng = np.random.default_rng(99)
    trials = [simulate_trial(rng, 50, dropout=0.15, mar=True) for _ in range(400)]
    p = _null_pvalues(trials, endpoint="inflammatory", method="ancova", missing="mi")
    power = power_from_pvalues(p)
    lo, hi = mc_interval(len(p))
    assert lo <= power["power"] <= hi, power


# --------------------------------------------------------------------------------------
# power
# --------------------------------------------------------------------------------------


def _power(n_per_arm: int, rate_ratio: float, reps: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    p = [
        compare(
            simulate_trial(rng, n_per_arm, rate_ratio=rate_ratio),
            endpoint="inflammatory",
            visit_week=12,
            method="ancova",
            **ARMS,
        )["p_value"]
        for _ in range(reps)
    ]
    return power_from_pvalues(p)


def test_power_rises_with_sample_size() -> None:
    powers = [_power(n, 0.6, 200, seed=n) for n in (20, 40, 80)]
    values = [p["power"] for p in powers]
    assert values[0] < values[1] < values[2], powers
    assert powers[0]["ci_high"] < powers[2]["ci_low"]
    assert values[2] > 0.9


def test_power_rises_with_effect_size() -> None:
    powers = [_power(40, rr, 200, seed=1) for rr in (0.9, 0.75, 0.6)]
    values = [p["power"] for p in powers]
    assert values[0] < values[1] < values[2], powers
    assert powers[0]["ci_high"] < powers[2]["ci_low"]


def test_power_from_pvalues() -> None:
    from statsmodels.stats.proportion import proportion_confint

    res = power_from_pvalues([0.01, 0.2, 0.04, np.nan, 0.05], alpha=0.05, method="wilson")
    assert res["power"] == pytest.approx(2 / 5)  # NaN and p = alpha do not reject
    assert (res["n_replicates"], res["n_rejected"], res["n_nan"]) == (5, 2, 1)
    lo, hi = proportion_confint(2, 5, alpha=0.05, method="wilson")
    assert (res["ci_low"], res["ci_high"]) == pytest.approx((lo, hi))
    exact = power_from_pvalues([0.01] * 10)  # Clopper–Pearson by default
    assert exact["power"] == 1.0
    assert exact["ci_high"] == 1.0
    assert exact["ci_low"] == pytest.approx(0.025 ** (1 / 10))  # Clopper–Pearson
    with pytest.raises(StatisticsError, match="empty"):
        power_from_pvalues([])
    with pytest.raises(StatisticsError, match=r"\[0, 1\]"):
        power_from_pvalues([1.5])


# --------------------------------------------------------------------------------------
# missing data
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "endpoint"),
    [
        ("ancova", "inflammatory"),
        ("negbin", "inflammatory"),
        ("responder", "iga_success"),
        ("mmrm", "inflammatory"),
    ],
)
def test_locf_and_mi_equal_observed_without_missing_data(method: str, endpoint: str) -> None:
    d = simulate_trial(np.random.default_rng(5), 30, rate_ratio=0.7)
    kw = {"endpoint": endpoint, "visit_week": 12, "method": method, **ARMS}
    obs = compare(d, missing="observed", **kw)
    for missing in ("locf", "mi"):
        other = compare(d, missing=missing, **kw)
        for key in ("estimate", "ci_low", "ci_high", "p_value", "n_arm", "n_reference"):
            assert other[key] == pytest.approx(obs[key], rel=1e-12), (missing, key)


def test_rubin_pooling_of_identical_imputations_is_the_complete_data_result() -> None:
    est, se, _, df = _hand_ancova()
    pooled = pool_rubin([est] * 20, [se**2] * 20, df_complete=df)
    assert pooled["estimate"] == pytest.approx(est, rel=1e-12)
    assert pooled["se"] == pytest.approx(se, rel=1e-12)
    assert pooled["fmi"] == pytest.approx(0.0, abs=1e-12)
    # Barnard–Rubin df with no between-imputation variance: ν (ν + 1) / (ν + 3)
    nu = df * (df + 1) / (df + 3)
    assert pooled["df"] == pytest.approx(nu)
    t = stats.t.ppf(0.975, nu)
    assert pooled["ci_high"] == pytest.approx(est + t * se, rel=1e-10)
    assert pooled["p_value"] == pytest.approx(2 * stats.t.sf(abs(est) / se, nu), rel=1e-8)
    # z-based analyses pool to the complete-data z interval
    z_pooled = pool_rubin([est] * 5, [se**2] * 5)
    assert z_pooled["ci_low"] == pytest.approx(est - stats.norm.ppf(0.975) * se, rel=1e-10)
    # Rubin (1987): T = Ū + (1 + 1/m) B; df_old = (m − 1)/λ²
    q, u = [1.0, 2.0, 3.0], [0.5, 0.5, 0.5]
    pooled = pool_rubin(q, u)
    total = 0.5 + (1 + 1 / 3) * 1.0
    assert pooled["se"] ** 2 == pytest.approx(total)
    assert pooled["df"] == pytest.approx(2 / ((1 + 1 / 3) / total) ** 2)
    assert pool_rubin(q, u, df_complete=30)["df"] < pooled["df"]
    with pytest.raises(StatisticsError, match="at least 2"):
        pool_rubin([1.0], [0.1])


def test_locf_carries_last_observation_forward() -> None:
    d = simulate_trial(np.random.default_rng(8), 25, dropout=0.2)
    locf = compare(
        d, endpoint="inflammatory", visit_week=12, method="ancova", missing="locf", **ARMS
    )
    wide = d.pivot(index="patient", columns="visit_week", values="inflammatory").ffill(axis=1)
    arm = d.groupby("patient")["arm"].first()
    filled = two_visit_table(arm.tolist(), wide[0.0].tolist(), wide[12.0].tolist(), "inflammatory")
    ref = compare(filled, endpoint="inflammatory", visit_week=12, method="ancova", **ARMS)
    for key in ("estimate", "ci_low", "ci_high", "p_value"):
        assert locf[key] == pytest.approx(ref[key], rel=1e-12)
    assert (locf["n_arm"], locf["n_reference"]) == (25, 25)


def test_mi_with_dropout_is_seeded_and_differs_from_observed() -> None:
    d = simulate_trial(np.random.default_rng(4), 50, rate_ratio=0.7, dropout=0.15, mar=True)
    kw = {"endpoint": "inflammatory", "visit_week": 12, "method": "ancova", **ARMS}
    obs = compare(d, **kw)
    mi = compare(d, missing="mi", seed=1, **kw)
    assert mi == compare(d, missing="mi", seed=1, **kw)
    assert mi["estimate"] != compare(d, missing="mi", seed=2, **kw)["estimate"]
    assert mi["estimate"] != pytest.approx(obs["estimate"], rel=1e-6)
    assert (mi["n_arm"], mi["n_reference"]) == (50, 50)
    assert obs["n_arm"] + obs["n_reference"] < 100
    assert mi["note"].startswith("multiple imputation, m=20")
    # every method runs under MI
    for method, endpoint in (("negbin", "inflammatory"), ("responder", "iga_success")):
        r = compare(d, endpoint=endpoint, visit_week=12, method=method, missing="mi", **ARMS)
        assert np.isfinite(r["p_value"]) and r["ci_low"] < r["estimate"] < r["ci_high"]
    r = compare(d, missing="mi", n_imputations=4, **{**kw, "method": "mmrm"})
    assert np.isfinite(r["p_value"]) and r["ci_low"] < r["estimate"] < r["ci_high"]
    r = compare(
        d,
        endpoint="inflammatory",
        visit_week=12,
        method="responder",
        threshold=50,
        threshold_kind="percent",
        missing="mi",
        n_imputations=5,
        **ARMS,
    )
    assert np.isfinite(r["p_value"])


def _coverage(reps: int, n_imputations: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    delta = true_change_difference(0.7)
    out: dict[str, list] = {"observed": [], "locf": [], "mi": []}
    for _ in range(reps):
        d = simulate_trial(rng, 50, rate_ratio=0.7, dropout=0.15, mar=True)
        for missing in out:
            r = compare(
                d,
                endpoint="inflammatory",
                visit_week=12,
                method="ancova",
                missing=missing,
                n_imputations=n_imputations,
                **ARMS,
            )
            out[missing].append((r["estimate"], r["ci_low"] <= delta <= r["ci_high"]))
    return {k: np.array(v) for k, v in out.items()}


def _check_coverage(res: dict[str, np.ndarray], reps: int) -> None:
    delta = true_change_difference(0.7)
    est, covered = res["mi"][:, 0], res["mi"][:, 1]
    lo, _ = stats.binom.interval(0.99, reps, 0.95)
    assert covered.mean() >= lo / reps, covered.mean()
    # MI is unbiased for the full-population difference (MAR given baseline and
    # the previous visit) ...
    assert abs(est.mean() - delta) < 3 * est.std(ddof=1) / math.sqrt(reps)
    # ... while LOCF is biased towards the null (carried counts are higher than
    # the ones that would have been observed, more so in the active arm)
    diff = res["locf"][:, 0] - est
    assert stats.ttest_1samp(diff, 0.0).statistic > 3


def test_mi_coverage_under_mar_dropout() -> None:
    _check_coverage(_coverage(reps=100, n_imputations=10, seed=12), reps=100)


@pytest.mark.slow
def test_mi_coverage_under_mar_dropout_many_replicates() -> None:
    _check_coverage(_coverage(reps=500, n_imputations=20, seed=13), reps=500)


# --------------------------------------------------------------------------------------
# describe
# --------------------------------------------------------------------------------------


def test_describe_on_a_hand_made_table() -> None:
    arm = ["A"] * 4 + ["B"] * 2
    base = [10.0, 20.0, 0.0, 8.0, 4.0, 6.0]
    week12 = [6.0, 10.0, 3.0, np.nan, 4.0, 3.0]
    table = two_visit_table(arm, base, week12, "inflammatory")
    table.loc[~table["observed"], "inflammatory"] = 99.0  # not observed: must be ignored
    out = describe(table, ["inflammatory"]).set_index(["visit_week", "arm"])
    assert list(out.columns[:2]) == ["endpoint", "n"]

    a0 = out.loc[(0.0, "A")]
    assert a0["n"] == 4
    assert a0["mean"] == pytest.approx(9.5)
    assert a0["sd"] == pytest.approx(np.std([10, 20, 0, 8], ddof=1))
    assert a0["change_mean"] == 0 and a0["pct_change_mean"] == 0 and a0["n_pct"] == 3

    a12 = out.loc[(12.0, "A")]
    assert a12["n"] == 3
    assert a12["mean"] == pytest.approx(19 / 3)
    assert a12["sd"] == pytest.approx(np.std([6, 10, 3], ddof=1))
    assert a12["n_change"] == 3
    assert a12["change_mean"] == pytest.approx(-11 / 3)
    assert a12["change_sd"] == pytest.approx(np.std([-4, -10, 3], ddof=1))
    assert a12["n_pct"] == 2  # baseline 0 has no percent change
    assert a12["pct_change_mean"] == pytest.approx(-45.0)
    assert a12["pct_change_of_means"] == pytest.approx(100 * (19 / 3 - 9.5) / 9.5)

    b12 = out.loc[(12.0, "B")]
    assert (b12["n"], b12["mean"]) == (2, pytest.approx(3.5))
    assert b12["change_mean"] == pytest.approx(-1.5)
    assert b12["change_sd"] == pytest.approx(math.sqrt(4.5))
    assert b12["pct_change_mean"] == pytest.approx(-25.0)
    assert b12["pct_change_of_means"] == pytest.approx(-30.0)


def test_describe_binary_endpoint_has_no_change() -> None:
    d = simulate_trial(np.random.default_rng(0), 10)
    out = describe(d, "iga_success")
    assert set(out["endpoint"]) == {"iga_success"}
    assert len(out) == 2 * VISITS.size
    post = out[out.visit_week > 0]
    assert post["change_mean"].isna().all() and (post["n"] == 10).all()
    with pytest.raises(StatisticsError, match="endpoint 'acne'"):
        describe(d, ["acne"])


# --------------------------------------------------------------------------------------
# errors and degenerate data
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_trial() -> pd.DataFrame:
    return simulate_trial(np.random.default_rng(1), 10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"endpoint": "acne"}, r"endpoint 'acne'.*allowed: .*'inflammatory'"),
        ({"endpoint": "patient"}, r"endpoint 'patient'.*allowed"),
        ({"arm": "placebo"}, r"arm 'placebo'.*allowed: 'active', 'vehicle'"),
        ({"reference": "placebo"}, r"reference 'placebo'.*allowed"),
        ({"reference": "active"}, r"must differ"),
        ({"method": "ttest"}, r"method 'ttest'.*allowed: 'ancova', 'negbin'"),
        ({"missing": "bocf"}, r"missing 'bocf'.*allowed: 'observed', 'locf', 'mi'"),
        ({"visit_week": 6}, r"visit_week 6.*allowed: 4, 8, 12"),
        ({"visit_week": 0}, r"visit_week 0.*post-baseline"),
        ({"alpha": 1.5}, r"alpha"),
        ({"cov_type": "HC9"}, r"cov_type 'HC9'.*allowed"),
        ({"covariates": ("bmi",)}, r"covariate 'bmi'"),
        ({"method": "responder"}, r"'responder' needs a 0/1 endpoint.*threshold"),
        ({"method": "negbin", "endpoint": "age_x"}, r"count endpoint"),
        ({"endpoint": "iga_success"}, r"needs baseline"),
        ({"missing": "mi", "n_imputations": 1}, r"n_imputations"),
        ({"method": "negbin", "negbin_se": "HC3"}, r"negbin_se 'HC3'.*allowed: 'robust', 'model'"),
    ],
)
def test_invalid_input_raises(small_trial: pd.DataFrame, kwargs: dict, match: str) -> None:
    d = small_trial.assign(age_x=small_trial["age"] + 0.5)
    kw = {"endpoint": "inflammatory", "visit_week": 12, "method": "ancova", **ARMS, **kwargs}
    with pytest.raises(StatisticsError, match=match):
        compare(d, **kw)


def test_statistics_error_is_a_value_error() -> None:
    assert issubclass(StatisticsError, ValueError)


def test_too_few_patients_raise() -> None:
    table = two_visit_table(
        ["active", "active", "vehicle", "vehicle"], [10, 12, 9, 11], [8, np.nan, 9, 10], "total"
    )
    for method in ("ancova", "negbin", "mmrm"):
        with pytest.raises(StatisticsError, match=r"too few patients.*'active' has 1"):
            compare(table, endpoint="total", visit_week=12, method=method, **ARMS)


def test_malformed_table_raises(small_trial: pd.DataFrame) -> None:
    kw = {"endpoint": "inflammatory", "visit_week": 12, "method": "ancova", **ARMS}
    with pytest.raises(StatisticsError, match=r"lacks column.*'arm'"):
        compare(small_trial.drop(columns="arm"), **kw)
    with pytest.raises(StatisticsError, match="duplicate"):
        compare(pd.concat([small_trial, small_trial.iloc[:1]]), **kw)


def test_degenerate_data_give_nan_and_a_note() -> None:
    arm = ["active"] * 5 + ["vehicle"] * 5
    kw = {"visit_week": 12, **ARMS}
    flat = two_visit_table(arm, [10.0] * 10, [7.0] * 10, "total")
    for method in ("ancova", "mmrm"):
        r = compare(flat, endpoint="total", method=method, **kw)
        assert math.isnan(r["estimate"]) and math.isnan(r["p_value"]), r
        assert "variance" in r["note"]
        assert (r["n_arm"], r["n_reference"]) == (5, 5)

    zeros = two_visit_table(arm, [3.0] * 10, [0.0] * 10, "nodules")
    r = compare(zeros, endpoint="nodules", method="negbin", **kw)
    assert math.isnan(r["estimate"]) and math.isnan(r["p_value"]) and "zero" in r["note"]

    separated = two_visit_table(arm, [3.0] * 10, [0.0] * 5 + [2, 1, 4, 0, 3], "nodules")
    r = compare(separated, endpoint="nodules", method="negbin", **kw)
    assert math.isnan(r["estimate"]) and "separation" in r["note"]

    # the responder comparison stays defined: risk difference 0, Fisher p = 1
    none = two_visit_table(arm, [np.nan] * 10, [0.0] * 10, "iga_success")
    r = compare(none, endpoint="iga_success", method="responder", **kw)
    assert r["estimate"] == 0 and r["p_value"] == 1 and "no variation" in r["note"]
    allr = two_visit_table(arm, [np.nan] * 10, [1.0] * 5 + [0.0] * 5, "iga_success")
    r = compare(allr, endpoint="iga_success", method="responder", **kw)
    assert r["estimate"] == 1 and r["p_value"] < 0.01

    # MI with an arm that has no observation at the visit
    gone = two_visit_table(arm, [5.0] * 10, [4, 3, 6, 2, 5] + [np.nan] * 5, "total")
    gone.loc[gone["arm"] == "vehicle", "observed"] = gone["visit_week"] == 0
    r = compare(gone, endpoint="total", method="ancova", missing="mi", **kw)
    assert math.isnan(r["estimate"]) and "impute" in r["note"]


def test_batched_ancova_equals_one_fit_per_imputation() -> None:
    """_fit_ancova_many (one QR for all completed sets) is m calls of _fit_ancova."""
    from gutskin.trial.methods.ancova import _fit_ancova, _fit_ancova_many

    rng = np.random.default_rng(5)
    n, m = 60, 7
    base = rng.normal(30, 5, n)
    ind = (np.arange(n) % 2).astype(float)
    cov = rng.integers(0, 2, (n, 1)).astype(float)
    y = base[None, :] - 3 * ind[None, :] + rng.normal(0, 4, (m, n))
    many = _fit_ancova_many(y, base, ind, cov, ["sex[M]"], alpha=0.05, arm="T", reference="C")
    for i in range(m):
        one = _fit_ancova(
            y[i],
            base,
            ind,
            cov,
            ["sex[M]"],
            alpha=0.05,
            cov_type="nonrobust",
            arm="T",
            reference="C",
        )
        for key in ("estimate", "se", "df", "ci_low", "ci_high", "p_value"):
            assert getattr(many[i], key) == pytest.approx(getattr(one, key), rel=1e-10), key


def test_vectorised_imputation_handles_intermittent_gaps() -> None:
    """A visit missed between two observed ones still gets m completed copies."""
    from gutskin.trial.statistics import _impute_many

    rng = np.random.default_rng(2)
    n = 40
    values = np.column_stack([rng.normal(30, 5, n) for _ in range(4)]).round()
    values[3, 1] = np.nan  # intermittent: observed again at visits 2 and 3
    values[5:9, 2:] = np.nan  # monotone dropout
    ind = (np.arange(n) % 2).astype(float)
    out = _impute_many(values, ind, [1, 2, 3], True, rng, 6)
    assert out.shape == (6, n, 4) and np.isfinite(out).all()
    observed = np.isfinite(values)
    assert (out[:, observed] == values[observed]).all()
    # imputed values are observed values of the same visit (predictive mean matching)
    for j in (1, 2, 3):
        donors = set(values[np.isfinite(values[:, j]), j])
        assert set(out[:, ~observed[:, j], j].ravel()) <= donors
