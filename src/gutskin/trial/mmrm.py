"""Mixed model for repeated measures (MMRM) with an unstructured covariance, by REML.

The model, as sponsors and regulators use the word (SAS ``PROC MIXED`` with
``TYPE=UN``, R ``mmrm``, ``nlme::gls`` with ``corSymm`` + ``varIdent``)
[Mallinckrodt2008]_:

.. math::

    y_{ij} = \\mu_j + \\tau_j a_i + \\gamma_j b_i + w_i^\\top \\delta + e_{ij},
    \\qquad e_i \\sim N(0, \\Sigma_{O_i O_i}),

for patient ``i`` at post-baseline visit ``j`` (``y`` the change from baseline,
``a`` the arm indicator, ``b`` the baseline value, ``w`` further patient-level
covariates), ``O_i`` the visits observed in patient ``i`` and ``Σ`` an
unstructured ``k × k`` covariance.  Observations missing at random are simply
left out (likelihood-based analysis of all observed data).

Estimation: restricted maximum likelihood [Patterson1971]_.  ``Σ = L Lᵀ`` with
``L`` lower triangular and its diagonal on the log scale (the parametrisation of
R ``mmrm``), minimised by BFGS with the analytic gradient of the REML criterion
(patients grouped by missingness pattern, so one Cholesky factor per pattern).
Inference on a contrast ``cᵀβ``: variance ``cᵀ(Xᵀ V⁻¹ X)⁻¹c`` and Satterthwaite
degrees of freedom [Satterthwaite1946]_ ``2 φ² / (gᵀ A g)``, ``φ`` that variance,
``g`` its gradient in the covariance parameters (central differences) and ``A`` the
inverse of half the Hessian of the REML criterion (central differences of the
analytic gradient) — the construction of Christensen's ``lmerTest`` and R ``mmrm``.

When the unstructured model does not converge or is not positive definite,
:func:`fit` can fall back to heterogeneous compound symmetry (``csh``: one variance
per visit, one correlation), reported in :attr:`MMRMFit.structure`.

References
----------
.. [Mallinckrodt2008] Mallinckrodt, C. H. et al. (2008). Recommendations for the
   primary analysis of continuous endpoints in longitudinal clinical trials.
   *Drug Inf. J.* 42, 303–319.
.. [Patterson1971] Patterson, H. D. & Thompson, R. (1971). Recovery of inter-block
   information when block sizes are unequal. *Biometrika* 58, 545–554.
.. [Satterthwaite1946] Satterthwaite, F. E. (1946). An approximate distribution of
   estimates of variance components. *Biometrics Bulletin* 2, 110–114.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import linalg, optimize

__all__ = ["STRUCTURES", "MMRMError", "MMRMFit", "design_columns", "fit"]

Structure = Literal["un", "csh"]
STRUCTURES: dict[str, str] = {
    "un": "unstructured",
    "csh": "heterogeneous compound symmetry",
}


class MMRMError(ValueError):
    """The data cannot be fitted (rank-deficient design, too few observations)."""


@dataclass(frozen=True)
class MMRMFit:
    """Result of :func:`fit`.

    Attributes
    ----------
    beta : (p,) fixed effects, in the column order of :func:`design_columns`.
    cov_beta : (p, p) their covariance ``(Xᵀ V⁻¹ X)⁻¹`` at the REML estimate.
    sigma : (k, k) within-patient covariance across visits.
    structure : ``"un"`` or ``"csh"`` (the structure actually fitted).
    converged : whether the optimiser reported convergence.
    reml_criterion : ``-2`` times the restricted log-likelihood (with its constant).
    n_iter : optimiser iterations.
    theta : covariance parameters at the optimum.
    """

    beta: NDArray[np.float64]
    cov_beta: NDArray[np.float64]
    sigma: NDArray[np.float64]
    structure: str
    converged: bool
    reml_criterion: float
    n_iter: int
    theta: NDArray[np.float64]
    _problem: _Problem

    def contrast(self, c: NDArray[np.float64], *, df: bool = True) -> tuple[float, float, float]:
        """Estimate, standard error and Satterthwaite degrees of freedom of ``cᵀβ``.

        ``df=False`` skips the degrees of freedom (NaN), which cost a numerical Hessian.
        """
        c = np.asarray(c, dtype=np.float64)
        est = float(c @ self.beta)
        var = float(c @ self.cov_beta @ c)
        nu = self._problem.satterthwaite(self.theta, c, var) if df else math.nan
        return est, math.sqrt(max(var, 0.0)), nu


def design_columns(k: int, n_between: int, n_extra: int) -> list[str]:
    """Names of the fixed effects: per visit ``j``, the ``n_between`` interacted terms,
    then the ``n_extra`` main-effect covariates."""
    names = [f"z{a}:visit{j}" for a in range(n_between) for j in range(k)]
    return names + [f"w{c}" for c in range(n_extra)]


class _Problem:
    """The REML criterion of one data set, patients grouped by missingness pattern."""

    def __init__(
        self, y: NDArray[np.float64], z: NDArray[np.float64], w: NDArray[np.float64]
    ) -> None:
        n, k = y.shape
        a, c = z.shape[1], w.shape[1]
        self.k, self.p = k, k * a + c
        # full design per patient and visit: (n, k, p)
        x = np.zeros((n, k, self.p))
        for j in range(k):
            x[:, j, j : k * a : k] = z
        if c:
            x[:, :, k * a :] = w[:, None, :]
        obs = np.isfinite(y)
        keys = obs @ (1 << np.arange(k))
        self.groups: list[tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]] = []
        for key in np.unique(keys):
            rows = np.flatnonzero(keys == key)
            cols = np.flatnonzero(obs[rows[0]])
            if cols.size == 0:
                continue
            self.groups.append((cols, x[np.ix_(rows, cols)], y[np.ix_(rows, cols)]))
        self.n_obs = int(obs.sum())
        if self.n_obs <= self.p:
            raise MMRMError(f"{self.n_obs} observations for {self.p} fixed effects")
        xx = sum(np.einsum("nmp,nmq->pq", xg, xg) for _, xg, _ in self.groups)
        if np.linalg.matrix_rank(xx) < self.p:
            raise MMRMError("mmrm design matrix is rank deficient")
        self.structure: Structure = "un"
        self.tril = np.tril_indices(k)
        self.diag_pos = np.flatnonzero(self.tril[0] == self.tril[1])

    # -- covariance parametrisations --------------------------------------------------
    def n_theta(self) -> int:
        return self.k * (self.k + 1) // 2 if self.structure == "un" else self.k + 1

    def _cholesky_factor(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """``L`` of ``Σ = L Lᵀ`` (structure ``un``): ``theta`` is its lower triangle, the
        diagonal on the log scale."""
        k = self.k
        lo = np.zeros((k, k))
        lo[self.tril] = theta
        d = np.arange(k)
        lo[d, d] = np.exp(theta[self.diag_pos])
        return lo

    def _csh(self, theta: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
        """Standard deviations and common correlation (structure ``csh``)."""
        return np.exp(theta[: self.k]), math.tanh(float(theta[self.k]))

    def sigma(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.structure == "un":
            lo = self._cholesky_factor(theta)
            return lo @ lo.T
        sd, rho = self._csh(theta)
        corr = np.full((self.k, self.k), rho)
        np.fill_diagonal(corr, 1.0)
        return corr * np.outer(sd, sd)

    def _chain(self, theta: NDArray[np.float64], g: NDArray[np.float64]) -> NDArray[np.float64]:
        """Gradient in ``theta`` from ``g = ∂f/∂Σ`` (entries treated as free)."""
        k = self.k
        if self.structure == "un":
            lo = self._cholesky_factor(theta)
            gl = (g + g.T) @ lo  # ∂f/∂L for Σ = L Lᵀ
            out = gl[self.tril]
            d = np.arange(k)
            out[self.diag_pos] *= lo[d, d]
            return out
        sd, rho = self._csh(theta)
        s = self.sigma(theta)
        gs = g + g.T
        out = np.empty(k + 1)
        # ∂Σ_ab/∂log sd_a = Σ_ab (1 + [a == b]) / ... : row and column scaling
        out[:k] = (gs * s).sum(axis=1)
        off = np.outer(sd, sd)
        np.fill_diagonal(off, 0.0)
        out[k] = 0.5 * float((gs * off).sum()) * (1.0 - rho * rho)
        return out

    # -- criterion ----------------------------------------------------------------------
    def _whitened(self, sig: NDArray[np.float64]) -> tuple[list, NDArray, NDArray, float, float]:
        p = self.p
        xtx = np.zeros((p, p))
        xty = np.zeros(p)
        yty = 0.0
        logdet = 0.0
        parts = []
        for cols, xg, yg in self.groups:
            s = sig[np.ix_(cols, cols)]
            chol = linalg.cholesky(s, lower=True, check_finite=False)
            n_g, m = yg.shape
            xt = linalg.solve_triangular(
                chol, xg.transpose(1, 0, 2).reshape(m, -1), lower=True, check_finite=False
            ).reshape(m, n_g, p)
            yt = linalg.solve_triangular(chol, yg.T, lower=True, check_finite=False)
            xtx += np.einsum("mnp,mnq->pq", xt, xt)
            xty += np.einsum("mnp,mn->p", xt, yt)
            yty += float(np.sum(yt * yt))
            logdet += 2.0 * n_g * float(np.sum(np.log(np.diag(chol))))
            parts.append((chol, xt, yt))
        return parts, xtx, xty, yty, logdet

    def criterion(
        self, theta: NDArray[np.float64], grad: bool = True
    ) -> tuple[float, NDArray[np.float64]] | float:
        """``-2`` restricted log-likelihood (and its gradient in ``theta``)."""
        try:
            sig = self.sigma(theta)
            parts, xtx, xty, yty, logdet = self._whitened(sig)
            cx = linalg.cho_factor(xtx, lower=True, check_finite=False)
        except (linalg.LinAlgError, ValueError):
            return (math.inf, np.zeros_like(theta)) if grad else math.inf
        beta = linalg.cho_solve(cx, xty, check_finite=False)
        quad = yty - float(xty @ beta)
        logdet_x = 2.0 * float(np.sum(np.log(np.diag(cx[0]))))
        f = logdet + logdet_x + quad + (self.n_obs - self.p) * math.log(2.0 * math.pi)
        if not math.isfinite(f):
            return (math.inf, np.zeros_like(theta)) if grad else math.inf
        if not grad:
            return f
        cbeta = linalg.cho_solve(cx, np.eye(self.p), check_finite=False)
        g = np.zeros((self.k, self.k))
        for (cols, _, _), (chol, xt, yt) in zip(self.groups, parts, strict=True):
            m = cols.size
            n_g = yt.shape[1]
            rt = yt - np.einsum("mnp,p->mn", xt, beta)  # whitened residuals L⁻¹ r
            # M = Σ_i (L⁻¹X_i C X_iᵀL⁻ᵀ + L⁻¹ r_i r_iᵀ L⁻ᵀ)
            xc = np.einsum("mnp,pq->mnq", xt, cbeta)
            mm = np.einsum("mnq,lnq->ml", xc, xt) + rt @ rt.T
            # ∂f/∂S = n_g S⁻¹ - S⁻¹ (Σ_i X C Xᵀ + r rᵀ) S⁻¹ = L⁻ᵀ (n_g I - M) L⁻¹
            inner = n_g * np.eye(m) - mm
            half = linalg.solve_triangular(chol, inner, lower=True, trans="T", check_finite=False)
            gs = linalg.solve_triangular(chol, half.T, lower=True, trans="T", check_finite=False)
            g[np.ix_(cols, cols)] += 0.5 * (gs + gs.T)
        return f, self._chain(theta, g)

    def cov_beta(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        return self.gls(theta)[1]

    def gls(self, theta: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Generalised least squares at ``theta``: ``β`` and its covariance ``(XᵀV⁻¹X)⁻¹``."""
        _, xtx, xty, _, _ = self._whitened(self.sigma(theta))
        beta = linalg.solve(xtx, xty, assume_a="pos", check_finite=False)
        return np.asarray(beta), np.asarray(linalg.inv(xtx, check_finite=False))

    def hessian(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """Hessian of the criterion by central differences of its analytic gradient."""
        m = theta.size
        h = np.empty((m, m))
        for i in range(m):
            step = 1e-4 * max(1.0, abs(float(theta[i])))
            tp, tm = theta.copy(), theta.copy()
            tp[i] += step
            tm[i] -= step
            gp = self.criterion(tp)[1]  # type: ignore[index]
            gm = self.criterion(tm)[1]  # type: ignore[index]
            h[:, i] = (gp - gm) / (2.0 * step)
        return 0.5 * (h + h.T)

    def satterthwaite(
        self, theta: NDArray[np.float64], c: NDArray[np.float64], var: float
    ) -> float:
        m = theta.size
        grad = np.empty(m)
        for i in range(m):
            step = 1e-4 * max(1.0, abs(float(theta[i])))
            tp, tm = theta.copy(), theta.copy()
            tp[i] += step
            tm[i] -= step
            grad[i] = (c @ self.cov_beta(tp) @ c - c @ self.cov_beta(tm) @ c) / (2.0 * step)
        hess = self.hessian(theta)
        try:
            acov = 2.0 * np.linalg.inv(hess)  # covariance of theta-hat: (H/2)^-1
        except np.linalg.LinAlgError:
            return math.nan
        denom = float(grad @ acov @ grad)
        if not (denom > 0 and math.isfinite(denom)):
            return math.nan
        return 2.0 * var * var / denom

    # -- starting values ---------------------------------------------------------------
    def start(self) -> NDArray[np.float64]:
        """Start at the per-visit variances of OLS residuals with zero correlation."""
        k, p = self.k, self.p
        xtx = np.zeros((p, p))
        xty = np.zeros(p)
        for _, xg, yg in self.groups:
            xtx += np.einsum("nmp,nmq->pq", xg, xg)
            xty += np.einsum("nmp,nm->p", xg, yg)
        b = np.linalg.solve(xtx, xty)
        ss = np.zeros(k)
        cnt = np.zeros(k)
        for cols, xg, yg in self.groups:
            r = yg - xg @ b
            ss[cols] += np.sum(r * r, axis=0)
            cnt[cols] += r.shape[0]
        var = np.where(cnt > 0, ss / np.maximum(cnt, 1), 1.0)
        var = np.maximum(var, 1e-8 * max(float(var.max()), 1e-300))
        if self.structure == "un":
            theta = np.zeros(self.n_theta())
            theta[self.diag_pos] = 0.5 * np.log(var)
            return theta
        return np.concatenate([0.5 * np.log(var), [0.3]])


def fit(
    y: NDArray[np.float64],
    z: NDArray[np.float64],
    w: NDArray[np.float64] | None = None,
    *,
    structure: Structure = "un",
    fallback: bool = True,
    gtol: float = 1e-6,
    max_iter: int = 500,
    start: NDArray[np.float64] | None = None,
) -> MMRMFit:
    """Fit an MMRM by REML.

    Parameters
    ----------
    y : array (n, k)
        Response of ``n`` patients at ``k`` post-baseline visits, NaN where missing.
    z : array (n, a)
        Patient-level terms interacted with visit (e.g. ``[1, arm, baseline]``); the
        fixed effects are one coefficient per term and visit.
    w : array (n, c), optional
        Patient-level covariates with one coefficient each (not interacted).
    structure : {"un", "csh"}
        Within-patient covariance: unstructured, or heterogeneous compound symmetry.
    fallback : bool
        With ``structure="un"``, refit with ``"csh"`` when the unstructured fit fails
        to converge or its covariance is not positive definite.
    gtol : float
        Gradient tolerance of BFGS on the REML criterion.
    max_iter : int
        Iteration limit of BFGS.
    start : array, optional
        Starting covariance parameters for ``structure`` (e.g. the ``theta`` of a fit
        to a similar data set, such as the previous imputation); default: per-visit
        OLS residual variances, no correlation.  The optimum does not depend on it
        beyond the optimiser's tolerance.

    Returns
    -------
    MMRMFit

    Raises
    ------
    MMRMError
        Rank-deficient design or too few observations.
    """
    y = np.asarray(y, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    w = np.zeros((y.shape[0], 0)) if w is None else np.asarray(w, dtype=np.float64)
    if y.ndim != 2 or z.ndim != 2 or w.ndim != 2 or not (y.shape[0] == z.shape[0] == w.shape[0]):
        raise MMRMError("y, z and w must be 2-D with one row per patient")
    if not (np.all(np.isfinite(z)) and np.all(np.isfinite(w))):
        raise MMRMError("z and w must be finite")
    prob = _Problem(y, z, w)
    order: list[Structure] = [structure]
    if structure == "un" and fallback:
        order.append("csh")
    last: MMRMFit | None = None
    for st in order:
        prob.structure = st
        x0 = prob.start()
        if st == structure and start is not None and np.shape(start) == x0.shape:
            x0 = np.asarray(start, dtype=np.float64)
        res = optimize.minimize(
            prob.criterion,
            x0,
            jac=True,
            method="BFGS",
            options={"gtol": gtol, "maxiter": max_iter},
        )
        theta = np.asarray(res.x, dtype=np.float64)
        f = float(res.fun)
        sig = prob.sigma(theta)
        pd_ok = bool(
            np.all(np.linalg.eigvalsh(sig) > 1e-10 * max(float(np.max(np.diag(sig))), 1e-300))
        )
        grad_norm = float(np.max(np.abs(res.jac))) if res.jac is not None else math.inf
        # BFGS may stop on a line-search precision loss at the optimum: accept a small gradient
        converged = bool(res.success) or grad_norm < 1e-3
        beta, cov_beta = prob.gls(theta)
        last = MMRMFit(
            beta=beta,
            cov_beta=cov_beta,
            sigma=sig,
            structure=st,
            converged=converged and math.isfinite(f) and pd_ok,
            reml_criterion=f,
            n_iter=int(res.nit),
            theta=theta,
            _problem=prob,
        )
        if last.converged:
            return last
    assert last is not None
    return last
