"""Global fit of assumed parameters to the calibration targets.

Method
------
- Parameters are fitted in log10 space inside their ``parameters.csv`` bounds (a lower
  bound of 0 is replaced by ``upper / 100`` so the log is defined; stated in the output).
- Global stage: :func:`scipy.optimize.differential_evolution` (Latin-hypercube initial
  population, i.e. a multistart), seeded, no gradient polish; the table values are added to
  the initial population so the fit can only improve on them.
- Local stage: Nelder-Mead from the best point with the remaining evaluation budget.
- Uncertainty: a one-at-a-time objective slice through the optimum for each parameter
  (the other parameters fixed, i.e. a conditional likelihood slice; a full profile would
  re-optimise the others and is wider).  With ``J = -2 log L + const``, the approximate 95 %
  interval is where ``J - J_min <= 3.84``; a parameter is flagged *not identifiable* when
  the slice stays below 3.84 at both bounds, and *at bound* when the optimum lies within
  2 % (of the log range) of a bound.

The objective is deterministic for a seed (common random numbers), see
:mod:`gutskin.calibrate.objective`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import differential_evolution, minimize

from gutskin.calibrate.objective import DEFAULT_SEED, objective
from gutskin.calibrate.replicates import ReplicateObjective
from gutskin.calibrate.targets import TargetSet
from gutskin.engine.options import SolverOptions
from gutskin.engine.random import run_rng

__all__ = ["CHI2_95", "FitResult", "fit", "parameter_bounds"]

#: 95 % quantile of chi-square with 1 degree of freedom.
CHI2_95 = 3.841
_AT_BOUND = 0.02


class _Budget(Exception):
    pass


@dataclass
class _State:
    x: np.ndarray
    n: int = 0
    best: float = math.inf


@dataclass
class FitResult:
    """Outcome of :func:`fit`."""

    names: list[str]
    nominal: dict[str, float]
    fitted: dict[str, float]
    bounds: dict[str, tuple[float, float]]
    bound_notes: dict[str, str]
    j_nominal: float
    j_best: float
    n_evals: int
    history: list[tuple[int, float]]
    profiles: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    seconds: float = 0.0
    seed: int = DEFAULT_SEED

    def table(self) -> pd.DataFrame:
        """``fitted_parameters.csv``: name, value, lower, upper, at_bound, identifiable, ..."""
        rows = []
        for n in self.names:
            lo, hi = self.bounds[n]
            v = self.fitted[n]
            span = math.log10(hi) - math.log10(lo)
            pos = (math.log10(v) - math.log10(lo)) / span
            at_bound = pos < _AT_BOUND or pos > 1 - _AT_BOUND
            ci_lo, ci_hi, ident = self._interval(n)
            rows.append(
                {
                    "name": n,
                    "value": v,
                    "lower": lo,
                    "upper": hi,
                    "at_bound": bool(at_bound),
                    "identifiable": bool(ident),
                    "nominal": self.nominal[n],
                    "ci95_low": ci_lo,
                    "ci95_high": ci_hi,
                    "note": self.bound_notes.get(n, ""),
                }
            )
        return pd.DataFrame(rows)

    def _interval(self, name: str) -> tuple[float, float, bool]:
        """95 % slice interval (log-linear interpolation of J) and identifiability.

        Identifiable = the slice rises above ``J_min + 3.84`` on both sides inside the
        bounds; otherwise the open side of the interval is the bound.
        """
        prof = sorted(self.profiles.get(name, []))
        v = self.fitted[name]
        lo, hi = self.bounds[name]
        if not prof:
            return float("nan"), float("nan"), False
        xs = np.log10([x for x, _ in prof])
        dj = np.array([j for _, j in prof]) - self.j_best
        k = int(np.argmin(np.abs(xs - math.log10(v))))

        def cross(step: int) -> float | None:
            i = k
            while 0 <= i + step < len(xs):
                if dj[i + step] > CHI2_95:
                    a, b = dj[i], dj[i + step]
                    f = (CHI2_95 - a) / (b - a) if b != a else 1.0
                    return float(10 ** (xs[i] + f * (xs[i + step] - xs[i])))
                i += step
            return None

        c_lo, c_hi = cross(-1), cross(+1)
        return (
            c_lo if c_lo is not None else lo,
            c_hi if c_hi is not None else hi,
            c_lo is not None and c_hi is not None,
        )


def parameter_bounds(names: Sequence[str]) -> tuple[dict[str, tuple[float, float]], dict, dict]:
    """Table bounds (positive), nominal values and notes for ``names``."""
    from gutskin.model.acne import read_parameters

    table = {p.name: p for p in read_parameters()}
    bounds, nominal, notes = {}, {}, {}
    for n in names:
        p = table[n]
        lo = float(p.lower) if p.lower is not None else float(p.value) / 10
        hi = float(p.upper) if p.upper is not None else float(p.value) * 10
        if lo <= 0:
            lo = hi / 100.0
            notes[n] = f"table lower bound 0 replaced by {lo:g} (upper/100) for the log-space fit"
        bounds[n] = (lo, hi)
        nominal[n] = float(min(max(float(p.value), lo), hi))
    return bounds, nominal, notes


def fit(
    ts: TargetSet,
    names: Sequence[str] | None = None,
    *,
    budget: int = 60,
    seed: int = DEFAULT_SEED,
    profile_points: int = 2,
    progress: Callable[[int, int], None] | None = None,
    solver: SolverOptions | None = None,
    replicate_objective: ReplicateObjective | None = None,
) -> FitResult:
    """Fit ``names`` (default: the targets file's ``fit_parameters``) to the fitted targets.

    Parameters
    ----------
    ts : TargetSet
        Targets.
    names : sequence of str, optional
        Parameters to fit.
    budget : int
        Objective evaluations for the search (global + local); the slices add
        ``2 * profile_points`` evaluations per parameter.
    seed : int
        Seed of the common random numbers and of the optimizer.
    profile_points : int
        Slice points on each side of the optimum (0: no uncertainty analysis).
    progress : callable, optional
        ``progress(done, total)`` after each evaluation.
    solver : SolverOptions, optional
        Engine settings of every simulation (default: those of
        :func:`~gutskin.calibrate.objective.evaluate`); not used with
        ``replicate_objective``, whose trials use the default settings.
    replicate_objective : ReplicateObjective, optional
        Fit the means of replicate trials drawn from one virtual population per design
        (:class:`~gutskin.calibrate.replicates.ReplicateObjective`) instead of one large
        cohort per design.

    Returns
    -------
    FitResult
    """
    t0 = time.monotonic()
    names = list(names if names is not None else ts.fit_parameters)
    if not names:
        raise ValueError("no parameters to fit (fit_parameters is empty)")
    bounds, nominal, notes = parameter_bounds(names)
    lo = np.array([math.log10(bounds[n][0]) for n in names])
    hi = np.array([math.log10(bounds[n][1]) for n in names])
    total = budget + 2 * profile_points * len(names)
    history: list[tuple[int, float]] = []
    cache: dict[tuple[float, ...], float] = {}
    state = _State(x=np.array([]))

    def f(x: np.ndarray, *, force: bool = False) -> float:
        x = np.clip(np.asarray(x, float), lo, hi)
        key = tuple(np.round(x, 10))
        if key in cache:
            return cache[key]
        if state.n >= budget and not force:
            raise _Budget
        vals = {n: float(10**v) for n, v in zip(names, x, strict=True)}
        if replicate_objective is not None:
            j = replicate_objective(ts, vals, seed=seed)
        else:
            j = objective(ts, vals, seed=seed, solver=solver)
        cache[key] = j
        state.n += 1
        history.append((state.n, j))
        if j < state.best:
            state.best, state.x = j, x.copy()
        if progress:
            progress(state.n, total)
        return j

    x_nom = np.array([math.log10(nominal[n]) for n in names])
    j_nom = f(x_nom)
    d = len(names)
    popsize = max(2, min(5, (budget // 2) // (d * 2)))  # population popsize*d
    rng = run_rng(seed, "calibration_search")
    init = lo + (hi - lo) * _lhs(max(5, popsize * d), d, rng)
    init[0] = x_nom
    try:
        maxiter = max(1, int((budget * 0.6) // len(init)) - 1)
        differential_evolution(
            f,
            list(zip(lo, hi, strict=True)),
            init=init,
            maxiter=maxiter,
            seed=seed,
            polish=False,
            tol=0.0,
            updating="immediate",
        )
        minimize(
            f,
            state.x,
            method="Nelder-Mead",
            options={"maxfev": max(1, budget - state.n), "xatol": 1e-3, "fatol": 1e-3},
        )
    except _Budget:
        pass
    x_best = np.asarray(state.x)
    j_best = float(state.best)
    profiles: dict[str, list[tuple[float, float]]] = {}
    if profile_points > 0:
        for i, n in enumerate(names):
            pts = [(float(10 ** x_best[i]), j_best)]
            grid = np.concatenate(
                [
                    np.linspace(lo[i], x_best[i], profile_points + 1)[:-1],
                    np.linspace(x_best[i], hi[i], profile_points + 1)[1:],
                ]
            )
            for g in grid:
                if abs(g - x_best[i]) < 1e-9:
                    continue
                x = x_best.copy()
                x[i] = g
                pts.append((float(10**g), f(x, force=True)))
            profiles[n] = sorted(pts)
    # a slice point may improve on the search optimum: report the best point seen
    x_best = np.asarray(state.x)
    fitted = {n: float(10 ** x_best[i]) for i, n in enumerate(names)}
    return FitResult(
        names=names,
        nominal=nominal,
        fitted=fitted,
        bounds=bounds,
        bound_notes=notes,
        j_nominal=j_nom,
        j_best=float(state.best),
        n_evals=state.n,
        history=history,
        profiles=profiles,
        seconds=time.monotonic() - t0,
        seed=seed,
    )


def _lhs(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """Latin-hypercube sample of ``n`` points in the unit cube."""
    u = (rng.random((n, d)) + np.arange(n)[:, None]) / n
    for j in range(d):
        u[:, j] = u[rng.permutation(n), j]
    return u


def fitted_spec_values(result: FitResult) -> dict[str, Any]:
    """Fitted medians, for ``spec.with_parameters`` or ``sample_parameters(values=...)``."""
    return dict(result.fitted)


def write_outputs(result: FitResult, ts: TargetSet, out: Any, extra: dict[str, Any]) -> None:
    """Write the fit into folder ``out`` (see docs/calibration.md for the file list)."""
    import json
    from pathlib import Path

    from gutskin.calibrate.objective import evaluate, residuals
    from gutskin.model.acne import parameter_table

    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    tab = result.table()
    tab.to_csv(out / "fitted_parameters.csv", index=False)
    # candidate parameter table: the packaged table with the fitted medians (for review)
    full = parameter_table()
    if "name" in full.columns:
        full = full.set_index("name")
    for n, v in result.fitted.items():
        full.loc[n, "value"] = float(f"{v:.4g}")
    full.reset_index().to_csv(out / "candidate_parameters.csv", index=False)
    sim_nom = evaluate(ts, None, seed=result.seed, targets=ts.fitted())
    sim_fit = evaluate(ts, result.fitted, seed=result.seed, targets=ts.fitted())
    z_nom, z_fit = residuals(ts, sim_nom), residuals(ts, sim_fit)
    diag = {
        "objective_nominal": result.j_nominal,
        "objective_fitted": result.j_best,
        "n_evaluations": result.n_evals,
        "seconds": result.seconds,
        "seed": result.seed,
        "targets": [
            {
                "id": t.id,
                "observed": t.observed,
                "range": t.range,
                "sd": t.sd,
                "simulated_nominal": sim_nom.get(t.id),
                "simulated_fitted": sim_fit.get(t.id),
                "z_nominal": z_nom[t.id],
                "z_fitted": z_fit[t.id],
            }
            for t in ts.fitted()
        ],
        "history": result.history,
        "profiles": {k: v for k, v in result.profiles.items()},
        **extra,
    }
    (out / "fit_diagnostics.json").write_text(json.dumps(diag, indent=2, default=float) + "\n")
    _figures(result, ts, z_nom, z_fit, out / "figures")


def _figures(result: FitResult, ts: TargetSet, z_nom: dict, z_fit: dict, folder: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = list(z_fit)
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(ids) + 1.5))
    y = np.arange(len(ids))
    ax.barh(y - 0.2, [z_nom[i] for i in ids], 0.4, label="table values", color="0.7")
    ax.barh(y + 0.2, [z_fit[i] for i in ids], 0.4, label="fitted", color="C0")
    ax.axvline(-2, ls=":", c="k")
    ax.axvline(2, ls=":", c="k")
    ax.set_yticks(y, ids, fontsize=7)
    ax.set_xlabel("standardised residual z = (simulated - observed) / sd")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "residuals.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    h = np.array(result.history)
    ax.plot(h[:, 0], h[:, 1], ".", ms=3, c="0.5")
    ax.plot(h[:, 0], np.minimum.accumulate(h[:, 1]), c="C0")
    ax.set_yscale("log")
    ax.set_xlabel("objective evaluation")
    ax.set_ylabel("J = sum z^2")
    fig.tight_layout()
    fig.savefig(folder / "convergence.png", dpi=110)
    plt.close(fig)
    if result.profiles:
        k = len(result.profiles)
        fig, axes = plt.subplots(1, k, figsize=(2.6 * k, 2.6), squeeze=False)
        for ax, (n, pts) in zip(axes[0], result.profiles.items(), strict=True):
            xs, js = zip(*sorted(pts), strict=True)
            ax.plot(xs, np.array(js) - result.j_best, "o-", ms=3)
            ax.axhline(CHI2_95, ls=":", c="k")
            ax.axvline(result.fitted[n], c="C3", lw=0.8)
            ax.set_xscale("log")
            ax.set_title(n, fontsize=8)
            ax.set_xlabel("value", fontsize=7)
        axes[0][0].set_ylabel("J - J_min")
        fig.tight_layout()
        fig.savefig(folder / "profiles.png", dpi=110)
        plt.close(fig)
