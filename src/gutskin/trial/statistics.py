"""Statistics of in-silico randomized acne trials.

The trial runner produces a long-format table ``endpoints`` with one row per
patient × visit (``patient``, ``arm``, ``visit_week`` with 0 = baseline,
``observed``, covariates ``sex`` and ``age`` and one column per endpoint, NaN
where not observed).  This module compares two arms at one visit with the
analyses used in acne trials:

``ancova``
    OLS of the change from baseline on an arm indicator and the baseline value
    (FDA 2018 acne guidance; EMA 2015 guideline on baseline covariates).
``negbin``
    Negative-binomial (NB2) regression of the lesion count at the visit on the
    arm indicator and ``log(baseline + 1)``; the estimate is a rate ratio
    (sandwich standard error by default).
``responder``
    Risk difference of a binary responder endpoint (e.g. IGA success, or a
    derived "≥ *threshold* improvement" responder) with a Newcombe interval and
    a score (Miettinen–Nurminen) or Fisher exact test.
``mmrm``
    Mixed model for repeated measures of the change from baseline over all
    post-baseline visits: visit, arm × visit and baseline × visit fixed
    effects, unstructured within-patient covariance, REML, Satterthwaite
    degrees of freedom (:mod:`gutskin.trial.mmrm`).

Missing data are handled by observed cases, last observation carried forward
or multiple imputation (predictive mean matching, Rubin's rules).  Every
distribution, test and interval comes from :mod:`scipy.stats` or
:mod:`statsmodels`, the MMRM from :mod:`gutskin.trial.mmrm` (numpy/scipy).
Degenerate data (zero variance, all-zero counts, separation, non-convergence)
give NaN estimates and a ``note`` rather than an exception, so that a power run of
many replicate trials never stops; invalid requests raise :class:`StatisticsError`.

The table is checked and pivoted to patients × visits in :mod:`gutskin.trial.wide`;
descriptive statistics per arm (:func:`~gutskin.trial.summaries.describe`) and the
power of replicate trials (:func:`~gutskin.trial.summaries.power_from_pvalues`) are in
:mod:`gutskin.trial.summaries`.

Validation: every method is held to R on fixed synthetic data sets
(``tests/trial/test_statistics_against_r.py``, fixtures written by
``tests/reference/make_r_fixtures.R``; ``docs/statistics.md``).  In
``tests/trial/test_statistics.py`` estimates agree with numpy least squares and the
Newcombe/Wilson formulas;
under a null design with 50 patients per arm the false-positive rates of
ancova, negbin (robust SE), mmrm and the responder score test over 1000 synthetic
trials lie inside the 99 % binomial interval around 5 %; Fisher's exact test
is conservative; multiple imputation is unbiased with nominal coverage under
MAR dropout, LOCF is biased towards the null.

References
----------
.. [FDA2018] U.S. Food and Drug Administration (2018). *Acne Vulgaris:
   Establishing Effectiveness of Drugs Intended for Treatment. Guidance for
   Industry* (draft). Recommends co-primary endpoints (absolute change in
   inflammatory and non-inflammatory lesion counts, and IGA success) analysed
   with baseline as covariate.
.. [EMA2015] European Medicines Agency (2015). *Guideline on adjustment for
   baseline covariates in clinical trials*, EMA/CHMP/295050/2013.
.. [Rubin1987] Rubin, D. B. (1987). *Multiple Imputation for Nonresponse in
   Surveys*. Wiley.
.. [BR1999] Barnard, J. & Rubin, D. B. (1999). Small-sample degrees of freedom
   with multiple imputation. *Biometrika* 86, 948–955.
.. [vB2018] van Buuren, S. (2018). *Flexible Imputation of Missing Data*, 2nd
   ed., §3.4 (predictive mean matching). CRC Press.
.. [MN1985] Miettinen, O. & Nurminen, M. (1985). Comparative analysis of two
   rates. *Stat. Med.* 4, 213–226.
.. [Newcombe1998] Newcombe, R. G. (1998). Interval estimation for the
   difference between independent proportions. *Stat. Med.* 17, 873–890.
.. [Mallinckrodt2008] Mallinckrodt, C. H. et al. (2008). Recommendations for
   the primary analysis of continuous endpoints in longitudinal clinical
   trials. *Drug Inf. J.* 42, 303–319.
.. [Lawless1987] Lawless, J. F. (1987). Negative binomial and mixed Poisson
   regression. *Can. J. Stat.* 15, 209–225.
.. [SahaPaul2005] Saha, K. & Paul, S. (2005). Bias-corrected maximum likelihood
   estimator of the negative binomial dispersion parameter. *Biometrics* 61,
   179–185.
.. [MacKinnonWhite1985] MacKinnon, J. G. & White, H. (1985). Some
   heteroskedasticity-consistent covariance matrix estimators with improved
   finite sample properties. *J. Econometrics* 29, 305–325.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from gutskin.engine.random import run_rng
from gutskin.trial.endpoints import REGISTRY as ENDPOINT_REGISTRY
from gutskin.trial.endpoints import names_of_kind
from gutskin.trial.methods import REGISTRY
from gutskin.trial.methods.core import (
    _TOL,
    MethodInput,
    StatisticsError,
    _check_n,
    _Degenerate,
    _Est,
    _fmt_allowed,
    _join_notes,
)
from gutskin.trial.methods.missing import _impute_many, _locf, pool_rubin
from gutskin.trial.wide import _wide

__all__ = [
    "BINARY_ENDPOINTS",
    "CONTINUOUS_ENDPOINTS",
    "COUNT_ENDPOINTS",
    "ENDPOINTS",
    "METHODS",
    "MISSING_POLICIES",
    "ORDINAL_ENDPOINTS",
    "StatisticsError",
    "compare",
    "pool_rubin",
]

COUNT_ENDPOINTS: tuple[str, ...] = names_of_kind("count")
"""Lesion-count endpoints (non-negative integers stored as float)."""
ORDINAL_ENDPOINTS: tuple[str, ...] = names_of_kind("ordinal")
"""Ordinal endpoints: IGA grade 0–4 and GAGS score 0–44."""
BINARY_ENDPOINTS: tuple[str, ...] = names_of_kind("binary")
"""Binary endpoints (0/1; defined against baseline, so NaN at baseline)."""
CONTINUOUS_ENDPOINTS: tuple[str, ...] = names_of_kind("continuous")
"""Continuous endpoints."""
ENDPOINTS: tuple[str, ...] = (
    COUNT_ENDPOINTS + ORDINAL_ENDPOINTS + BINARY_ENDPOINTS + CONTINUOUS_ENDPOINTS
)
"""Every endpoint the trial runner writes (derived numeric columns are accepted too)."""
METHODS: tuple[str, ...] = tuple(REGISTRY)
"""Comparison methods understood by :func:`compare` (the registry's names)."""
MISSING_POLICIES: tuple[str, ...] = ("observed", "locf", "mi")
"""Missing-data policies understood by :func:`compare`."""


_COV_TYPES: tuple[str, ...] = ("nonrobust", "HC0", "HC1", "HC2", "HC3")
_RESPONDER_TESTS: tuple[str, ...] = ("auto", "score", "fisher")
_THRESHOLD_KINDS: tuple[str, ...] = ("absolute", "percent")
_NEGBIN_SE: tuple[str, ...] = ("robust", "model")

Method = Literal["ancova", "negbin", "responder", "mmrm"]
MissingPolicy = Literal["observed", "locf", "mi"]


def _fmt_weeks(weeks: Iterable[float]) -> str:
    return ", ".join(f"{w:g}" for w in weeks)


def _severity_of(endpoint: str) -> str | None:
    """The registry's severity scale of a binary endpoint (None for other columns)."""
    rec = ENDPOINT_REGISTRY.get(endpoint)
    return rec.severity if rec is not None else None


def compare(
    endpoints: pd.DataFrame,
    *,
    endpoint: str,
    visit_week: float,
    arm: str,
    reference: str,
    method: Method | str,
    missing: MissingPolicy | str = "observed",
    seed: int = 0,
    alpha: float = 0.05,
    n_imputations: int = 20,
    threshold: float | None = None,
    threshold_kind: Literal["absolute", "percent"] | str = "absolute",
    covariates: Sequence[str] = (),
    severity: str | None = None,
    cov_type: str = "nonrobust",
    responder_test: Literal["auto", "score", "fisher"] | str = "auto",
    negbin_se: Literal["robust", "model"] | str = "robust",
) -> dict[str, Any]:
    """Compare ``arm`` with ``reference`` on one endpoint at one visit.

    Parameters
    ----------
    endpoints
        Long table, one row per patient × visit (module docstring).  Rows with
        ``observed == False`` count as missing whatever their value.
    endpoint
        Endpoint column (any numeric non-identifier column is accepted, so a
        derived responder column works too).
    visit_week
        Post-baseline visit at which the arms are compared.
    arm, reference
        Labels in the ``arm`` column; estimates are ``arm − reference`` (or
        ``arm / reference`` for the rate ratio).
    method
        ``'ancova'``
            OLS of the change from baseline on arm and baseline value
            ([FDA2018]_, [EMA2015]_).  Estimate: adjusted difference in mean
            change; *t* interval and test (classical SEs by default, see
            ``cov_type``).
        ``'negbin'``
            NB2 regression (statsmodels ``NegativeBinomial``, dispersion
            ``alpha`` estimated by maximum likelihood jointly with the means,
            [Lawless1987]_) of the count at the visit on arm and
            ``log(baseline + 1)``.  Estimate: rate ratio ``exp(β_arm)`` with a
            Wald interval and test on the log scale, by default with a
            sandwich (HC1) standard error and a *t* reference with ``n − k``
            degrees of freedom (``k`` parameters including ``alpha``); see
            ``negbin_se``.
        ``'responder'``
            Risk difference of a 0/1 endpoint, or of the derived responder
            "improvement from baseline ≥ ``threshold``" (improvement =
            decrease, as for every acne severity endpoint).  Newcombe hybrid
            score interval [Newcombe1998]_ (statsmodels
            ``confint_proportions_2indep``); p-value from the Miettinen–Nurminen
            score test [MN1985]_ (``test_proportions_2indep``) or, when an
            expected cell count is below 5 (or ``responder_test='fisher'``),
            Fisher's exact test, which is conservative.
        ``'mmrm'``
            Mixed model for repeated measures [Mallinckrodt2008]_ of the change
            from baseline at all post-baseline visits (visits observed in both
            arms): fixed effects for visit, arm × visit and baseline × visit (plus
            ``covariates``), unstructured within-patient covariance across
            visits, REML (:func:`gutskin.trial.mmrm.fit`; the model of SAS
            ``PROC MIXED TYPE=UN`` and R ``nlme::gls`` with ``corSymm`` +
            ``varIdent``).  Estimate: the least-squares mean difference at
            ``visit_week``; *t* interval and test with Satterthwaite degrees of
            freedom.  Valid under MAR dropout.  When the unstructured fit does not
            converge, heterogeneous compound symmetry is used and ``note`` says so.
    missing
        Applies to ``ancova``, ``negbin`` and ``responder``.  ``mmrm`` is always
        fitted to the observed data (its likelihood is valid under MAR; fitting it to
        imputed data would reduce it to per-visit least squares): with ``'locf'`` or
        ``'mi'`` it is still fitted to the observed data, ``missing`` in the result
        says ``'observed'`` and ``note`` says why.

        ``'observed'``
            Observed cases at the visit (all observed visits for ``mmrm``).
        ``'locf'``
            Last observation carried forward within patient, baseline
            included (a patient with no post-baseline value keeps the
            baseline, i.e. zero change).  Single imputation: intervals are
            too narrow and the estimate is biased unless the missing values
            are truly flat; reported for comparison with older trials.
        ``'mi'``
            Multiple imputation [Rubin1987]_: ``n_imputations`` completed data
            sets, each arm imputed separately, visit by visit up to
            ``visit_week``.  Continuous and count endpoints (and the endpoint a
            threshold responder is derived from): Bayesian linear regression on
            baseline, the previous visit and ``covariates`` with predictive mean
            matching (5 donors; [vB2018]_), so counts stay integers.  0/1
            endpoints: Bayesian logistic regression (R ``mice.impute.logreg``,
            with its augmentation against perfect prediction) on the baseline
            value of ``severity``, the previous visit and ``covariates``.
            Estimates (log rate ratio for ``negbin``, risk difference with its
            Wald variance for ``responder``) are combined with Rubin's rules and
            Barnard–Rubin degrees of freedom (:func:`pool_rubin`; infinite
            complete-data df for the risk difference, as R
            ``mice::pool.scalar(n = Inf)``); interval and test are then Student
            *t* with the pooled df.  Valid under MAR given arm, baseline, the
            previous visit and the covariates.  When nothing needs imputing the
            observed-case result is returned.  Seeded by ``seed``.
    seed
        Seed of the imputation random generator (only ``missing='mi'``).
    alpha
        Two-sided significance level; the interval has level ``1 − alpha``.
    n_imputations
        Number of imputations for ``missing='mi'`` (≥ 2).
    threshold, threshold_kind
        For ``responder`` on a non-binary endpoint: a patient responds when
        ``x_0 − x_t ≥ threshold`` (``'absolute'``) or
        ``100 (x_0 − x_t) / x_0 ≥ threshold`` (``'percent'``; patients with
        ``x_0 = 0`` are left out).
    covariates
        Extra patient-level covariates (e.g. ``('sex', 'age')``, text columns
        dummy coded) for ``ancova``, ``negbin`` and ``mmrm``, and predictors of
        every imputation model.  The risk difference of ``responder`` is
        unadjusted.  Patients with a missing covariate are not analysed.
    severity
        Column whose baseline (visit 0) value is a predictor of the imputation
        model of a 0/1 endpoint under ``missing='mi'``; by default the endpoint's
        severity scale in the registry (``iga`` for ``iga_success``, ``gags`` for
        ``gags_improved``), none for other columns.
    cov_type
        ``ancova`` standard errors: ``'nonrobust'`` (default) or ``'HC0'`` …
        ``'HC3'`` heteroscedasticity-consistent.
    responder_test
        ``'auto'`` (score test, Fisher exact when an expected count is < 5),
        ``'score'`` or ``'fisher'``.
    negbin_se
        ``'robust'`` (default): HC0 sandwich of the NB2 likelihood
        (statsmodels ``cov_type='HC0'``) times ``√(n / (n − k))`` (HC1) and
        Student *t* with n − k df; valid when the NB variance function is wrong
        (e.g. patient frailty), and close to nominal at 20–50 patients per
        arm.  ``'model'``: model-based Wald *z* as reported by statsmodels,
        R ``MASS::glm.nb`` or SAS GENMOD — anti-conservative at small *n*
        (about 6–7 % at nominal 5 % with 50 per arm in this package's
        validation, because the dispersion MLE is biased downwards;
        [SahaPaul2005]_).  HC1: [MacKinnonWhite1985]_.

    Returns
    -------
    dict
        ``endpoint, visit_week, arm, reference, method, missing, covariates,
        estimate, ci_low, ci_high, p_value, n_arm, n_reference, note``
        (``missing`` is the handling actually used, ``covariates`` the adjustment
        covariates of the model, empty for ``responder``).  ``note`` is
        ``None`` or a short remark; degenerate data (zero variance, all-zero
        counts, separation, non-convergence) give NaN ``estimate``/CI/
        ``p_value`` and the reason in ``note`` instead of raising.

    Raises
    ------
    StatisticsError
        Unknown endpoint, arm, visit, method, missing policy or option; an
        endpoint unsuitable for the method; fewer than 2 analysable patients
        in an arm.
    """
    if method not in METHODS:
        raise StatisticsError(f"method {method!r} is unknown; allowed: {_fmt_allowed(METHODS)}")
    spec = REGISTRY[method]
    if missing not in MISSING_POLICIES:
        raise StatisticsError(
            f"missing {missing!r} is unknown; allowed: {_fmt_allowed(MISSING_POLICIES)}"
        )
    if not (isinstance(alpha, float | int) and 0.0 < float(alpha) < 1.0):
        raise StatisticsError(f"alpha must be in (0, 1), got {alpha!r}")
    if cov_type not in _COV_TYPES:
        raise StatisticsError(
            f"cov_type {cov_type!r} is unknown; allowed: {_fmt_allowed(_COV_TYPES)}"
        )
    if responder_test not in _RESPONDER_TESTS:
        raise StatisticsError(
            f"responder_test {responder_test!r} is unknown; allowed: "
            f"{_fmt_allowed(_RESPONDER_TESTS)}"
        )
    if negbin_se not in _NEGBIN_SE:
        raise StatisticsError(
            f"negbin_se {negbin_se!r} is unknown; allowed: {_fmt_allowed(_NEGBIN_SE)}"
        )
    if threshold_kind not in _THRESHOLD_KINDS:
        raise StatisticsError(
            f"threshold_kind {threshold_kind!r} is unknown; allowed: "
            f"{_fmt_allowed(_THRESHOLD_KINDS)}"
        )
    if missing == "mi" and (not isinstance(n_imputations, int) or n_imputations < 2):
        raise StatisticsError(f"n_imputations must be an integer ≥ 2, got {n_imputations!r}")
    if isinstance(covariates, str):
        covariates = (covariates,)
    alpha = float(alpha)

    wide = _wide(endpoints, endpoint, covariates)
    arms = sorted({str(x) for x in wide.arm})
    for field, label in (("arm", arm), ("reference", reference)):
        if label not in arms:
            raise StatisticsError(
                f"{field} {label!r} is not in the data; allowed: {_fmt_allowed(arms)}"
            )
    if arm == reference:
        raise StatisticsError(f"arm and reference must differ, both are {arm!r}")
    post_weeks = [float(w) for w in wide.visits if w > _TOL]
    hit = np.flatnonzero(np.abs(wide.visits - float(visit_week)) <= _TOL)
    if hit.size == 0 or wide.visits[hit[0]] <= _TOL:
        raise StatisticsError(
            f"visit_week {visit_week!r} is not a post-baseline visit of the data; allowed: "
            f"{_fmt_weeks(post_weeks)}"
        )
    target_col = int(hit[0])

    sel = (wide.arm == arm) | (wide.arm == reference)
    values = wide.values[sel]
    ind = (wide.arm[sel] == arm).astype(float)
    cov = wide.covariates[sel]
    mmrm_note = None
    if spec.observed_only and missing != "observed":
        mmrm_note = (
            f"{method} is fitted to the observed data (likelihood-based, valid under MAR); "
            f"missing={missing!r} applies to the other methods"
        )
        missing = "observed"
    binary = spec.binary_outcome({"threshold": threshold})
    binary_mi = binary and missing == "mi"
    sev_base: np.ndarray | None = None
    sev_name = severity if severity is not None else _severity_of(endpoint)
    if (
        binary_mi
        and sev_name is not None
        and (severity is not None or sev_name in endpoints.columns)
    ):
        sw = _wide(endpoints, sev_name)
        if abs(sw.visits[0]) > _TOL:
            raise StatisticsError(f"severity {sev_name!r} has no baseline (visit_week 0) values")
        sev_base = sw.values[sel, 0]
    if cov.shape[1]:  # patients with a missing covariate cannot be analysed
        fin = np.all(np.isfinite(cov), axis=1)
        values, ind, cov = values[fin], ind[fin], cov[fin]
        sev_base = None if sev_base is None else sev_base[fin]
    has_baseline = bool(abs(wide.visits[0]) <= _TOL and np.isfinite(values[:, 0]).any())
    is_binary = bool(np.all(np.isin(values[np.isfinite(values)], (0.0, 1.0))))
    if binary and not is_binary:
        raise StatisticsError(
            f"method {method!r} needs a 0/1 endpoint; {endpoint!r} is not binary: pass "
            f"threshold= (improvement from baseline, threshold_kind 'absolute' or 'percent') "
            f"or use a binary endpoint such as {_fmt_allowed(BINARY_ENDPOINTS)}"
        )
    needs_baseline = spec.needs_baseline({"threshold": threshold})
    if needs_baseline and not has_baseline:
        raise StatisticsError(
            f"method {method!r} needs baseline (visit_week 0) values of endpoint {endpoint!r}, "
            f"which has none"
        )
    if needs_baseline:  # patients without a baseline value cannot be analysed
        keep = np.isfinite(values[:, 0])
        values, ind, cov = values[keep], ind[keep], cov[keep]
        sev_base = None if sev_base is None else sev_base[keep]
    if sev_base is not None and not np.isfinite(sev_base).all():
        # a missing baseline severity enters the imputation model at the mean
        sev_base = np.where(np.isfinite(sev_base), sev_base, np.nanmean(sev_base))
    aux = [cov] if cov.shape[1] else []
    if sev_base is not None and np.isfinite(sev_base).all():
        aux.insert(0, sev_base[:, None])
    extra = np.column_stack(aux) if aux else None

    first_post = 1 if abs(wide.visits[0]) <= _TOL else 0
    post_cols = list(range(first_post, values.shape[1]))
    impute_cols = [j for j in post_cols if j <= target_col]

    data = MethodInput(
        values=values,
        ind=ind,
        cov=cov,
        cov_names=wide.covariate_names,
        has_baseline=has_baseline,
        target_col=target_col,
        post_cols=tuple(post_cols),
        arm=arm,
        reference=reference,
        endpoint=endpoint,
        alpha=alpha,
        options={
            "cov_type": cov_type,
            "negbin_se": negbin_se,
            "responder_test": responder_test,
            "threshold": threshold,
            "threshold_kind": threshold_kind,
        },
    )

    def analyse(vals: np.ndarray, need_df: bool = True, warm: dict[str, Any] | None = None) -> _Est:
        return spec.analyse(data.with_values(vals), need_df=need_df, warm=warm)

    result: dict[str, Any] = {
        "endpoint": endpoint,
        "visit_week": float(wide.visits[target_col]),
        "arm": arm,
        "reference": reference,
        "method": method,
        "missing": missing,
        "covariates": list(covariates) if spec.adjusted else [],
    }
    n_arm_all, n_ref_all = int(ind.sum()), int((1 - ind).sum())
    try:
        if missing == "locf":
            est = analyse(_locf(values))
        elif missing == "mi" and np.isnan(values[:, target_col]).any():
            _check_n(n_arm_all, n_ref_all, arm, reference, method)
            rng = run_rng(seed, "imputation")
            completed = _impute_many(
                values,
                ind,
                impute_cols,
                has_baseline,
                rng,
                n_imputations,
                extra=extra,
                binary=binary_mi,
            )
            ys = completed[:, :, target_col]
            many = spec.analyse_many(ys, data) if spec.analyse_many is not None else None
            if many is not None:
                fits = many
            else:
                # only the first fit's complete-data df enters Rubin's rules
                warm: dict[str, Any] = {}
                fits = [
                    analyse(completed[i], need_df=i == 0, warm=warm) for i in range(n_imputations)
                ]
            pooled = pool_rubin(
                [f.estimate for f in fits],
                [f.se**2 for f in fits],
                df_complete=fits[0].df,
                alpha=alpha,
            )
            note = f"multiple imputation, m={n_imputations}, fmi={pooled['fmi']:.2f}"
            if not math.isfinite(pooled["p_value"]):
                note += "; zero total variance"
            fit_notes = {f.note for f in fits if f.note}
            est = _Est(
                estimate=pooled["estimate"],
                se=pooled["se"],
                df=pooled["df"],
                ci_low=pooled["ci_low"],
                ci_high=pooled["ci_high"],
                p_value=pooled["p_value"],
                n_arm=fits[0].n_arm,
                n_ref=fits[0].n_ref,
                note=_join_notes(note, *sorted(fit_notes)),
                log_scale=fits[0].log_scale,
            )
        else:
            est = analyse(values)
            if missing == "mi":
                est = replace(
                    est, note=_join_notes(est.note, "nothing to impute: observed-case analysis")
                )
        if mmrm_note:
            est = replace(est, note=_join_notes(mmrm_note, est.note))
    except _Degenerate as exc:
        result.update(
            estimate=math.nan,
            ci_low=math.nan,
            ci_high=math.nan,
            p_value=math.nan,
            n_arm=n_arm_all,
            n_reference=n_ref_all,
            note=_join_notes(mmrm_note, str(exc)),
        )
        return result
    f = math.exp if est.log_scale else float
    result.update(
        estimate=f(est.estimate),
        ci_low=f(est.ci_low),
        ci_high=f(est.ci_high),
        p_value=est.p_value,
        n_arm=est.n_arm,
        n_reference=est.n_ref,
        note=est.note,
    )
    return result
