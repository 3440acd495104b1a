"""Driver of a sensitivity analysis: SALib sample → evaluate in chunks → indices.

- :func:`run_sensitivity` — sample the factors, evaluate any function in (cached)
  chunks, estimate the indices; :func:`analyse_function` on a plain function.
- :func:`execute` — run a :class:`~gutskin.sensitivity.plan.Plan` on its fixed cohort
  (:mod:`gutskin.sensitivity.cohort`, :mod:`gutskin.sensitivity.evaluator`);
  :func:`sensitivity` plans and executes in one call.

Evaluated chunks are cached in ``partial_dir`` (``.DIR.sensitivity-cache`` beside ``DIR``
from the CLI) and reused with ``resume=True``.

References
----------
Saltelli A, Ratto M, Andres T, et al. *Global Sensitivity Analysis. The Primer*. Wiley,
2008.
Saltelli A et al. Variance based sensitivity analysis of model output. Design and
estimator for the total sensitivity index. Comput Phys Commun 2010;181:259-270.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gutskin.engine.options import SolverOptions
from gutskin.engine.random import derived_seed
from gutskin.sensitivity.cohort import DEFAULT_COHORT, SensitivityError, build_cohort
from gutskin.sensitivity.evaluator import DEFAULT_CHUNK_ROWS, ModelEvaluator
from gutskin.sensitivity.factors import (
    Factor,
    FactorError,
    factor_table,
    salib_problem,
    to_physical,
)
from gutskin.sensitivity.methods import MethodError, SensitivityMethod, get_method
from gutskin.sensitivity.outcomes import Outcome, OutcomeError
from gutskin.sensitivity.plan import Plan, plan
from gutskin.trial.design import Design, DesignError

__all__ = [
    "USER_ERRORS",
    "SensitivityResult",
    "analyse_function",
    "execute",
    "run_sensitivity",
    "sensitivity",
]


def _derived_seed(seed: int, stream: int) -> int:
    # 32 bits: SALib seeds numpy's legacy global generator
    return derived_seed(seed, "sensitivity_sample", stream) & 0xFFFFFFFF


@dataclass
class SensitivityResult:
    """Samples, outcomes and indices of one analysis.

    Attributes
    ----------
    method : str
        Method name.
    factors : list of Factor
        Analysed factors.
    days : tuple of float
        Output days (columns of ``y``); ``(nan,)`` for a scalar function.
    x : array (n, D)
        Samples in sampling space (log10 for log-scale factors).
    x_physical : array (n, D)
        Physical factor values.
    y : array (n, T)
        Outcome values.
    indices : DataFrame
        ``day, factor, factor2, index, value, conf, ci_low, ci_high``.
    nominal : array (T,)
        Outcome at the factors' nominal values (NaN if not evaluated).
    info : dict
        Sample sizes, timings, failures, notes.
    """

    method: str
    factors: list[Factor]
    days: tuple[float, ...]
    x: NDArray[np.float64]
    x_physical: NDArray[np.float64]
    y: NDArray[np.float64]
    indices: pd.DataFrame
    nominal: NDArray[np.float64]
    info: dict[str, Any] = field(default_factory=dict)
    outcome: Outcome | None = None

    def main(self, day: float | None = None) -> pd.DataFrame:
        """Main index of each factor at ``day`` (default: the last day), sorted."""
        m = get_method(self.method).main_index
        df = self.indices[self.indices["index"] == m]
        d = self.days[-1] if day is None else day
        if not (isinstance(d, float) and math.isnan(d)):
            df = df[np.isclose(df["day"].to_numpy(dtype=float), d)]
        return df.sort_values("value", ascending=False).reset_index(drop=True)


def _evaluate(
    func: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    xp: NDArray[np.float64],
    *,
    chunk: int,
    partial_dir: Path | None,
    resume: bool,
    key: str,
    progress: Callable[[int], None] | None,
) -> NDArray[np.float64]:
    n = xp.shape[0]
    if partial_dir is not None:
        meta = partial_dir / "key.json"
        if resume and partial_dir.exists():
            old = json.loads(meta.read_text()).get("key") if meta.exists() else None
            if old is not None and old != key:
                raise SensitivityError(
                    f"--resume: the cached evaluations in {partial_dir} were made with other "
                    "settings (method, samples, seed, factors, outcome, design or cohort); "
                    "run without --resume to start afresh"
                )
        elif partial_dir.exists():
            if not meta.is_file():
                raise SensitivityError(
                    f"{partial_dir}: exists but is not a gutskin evaluation cache (no key.json); "
                    "move it away"
                )
            shutil.rmtree(partial_dir)
        partial_dir.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"key": key, "n": n}))
    parts: list[NDArray[np.float64]] = []
    done = 0
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        path = partial_dir / f"chunk_{start:08d}_{stop:08d}.npy" if partial_dir else None
        if path is not None and resume and path.exists():
            y = np.load(path)
        else:
            y = np.asarray(func(xp[start:stop]), dtype=float)
            if y.ndim == 1:
                y = y[:, None]
            if path is not None:
                tmp = path.with_suffix(".tmp.npy")
                np.save(tmp, y)
                tmp.replace(path)
        parts.append(y)
        done = stop
        if progress is not None:
            progress(done)
    return np.vstack(parts)


def run_sensitivity(
    func: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    factors: Sequence[Factor],
    *,
    method: str | SensitivityMethod,
    samples: int,
    seed: int = 0,
    second_order: bool = False,
    groups: bool = False,
    days: Sequence[float] | None = None,
    conf_level: float = 0.95,
    num_resamples: int = 100,
    chunk: int = 256,
    partial_dir: str | Path | None = None,
    resume: bool = False,
    fingerprint: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    nominal: bool = True,
) -> SensitivityResult:
    """Sample the factors with SALib, evaluate ``func`` in chunks, estimate the indices.

    Parameters
    ----------
    func : callable
        ``func(x_physical (n, D)) -> y`` of shape (n,) or (n, T).
    factors : sequence of Factor
        The factors (bounds, scale).
    method : str or SensitivityMethod
        ``"morris"``, ``"sobol"`` or ``"pawn"``.
    samples : int
        Method sample size (trajectories, base sample or evaluations; see
        :mod:`gutskin.sensitivity.methods`).
    seed : int
        Fixes the SALib sample (derived stream 2000) and the bootstrap (stream 2001).
    second_order : bool
        Sobol' second-order indices.
    groups : bool
        Use the factors' groups (Sobol' and Morris).
    days : sequence of float, optional
        Labels of the outcome columns.
    conf_level : float
        Confidence level of the intervals.
    num_resamples : int
        Bootstrap resamples.
    chunk : int
        Samples per call of ``func`` (and per cached chunk).
    partial_dir : path, optional
        Cache of evaluated chunks; with ``resume`` matching chunks are reused.
    resume : bool
        Reuse cached chunks made with the same settings.
    fingerprint : mapping, optional
        What else determines ``func``'s values (part of the cache key).
    progress : callable, optional
        Called with the number of evaluated samples.
    nominal : bool
        Also evaluate the factors' nominal values.

    Returns
    -------
    SensitivityResult
    """
    m = get_method(method) if isinstance(method, str) else method
    if groups and not m.supports_groups:
        raise MethodError(f"grouped factors are supported by sobol and morris, not {m.name}")
    problem = salib_problem(factors, groups=groups)
    n_groups = len(set(problem["groups"])) if groups else len(factors)
    m.check(samples, n_groups, second_order=second_order)
    if not 0 < conf_level < 1:
        raise MethodError(f"confidence level must be in (0, 1), got {conf_level}")
    t0 = time.monotonic()
    x = m.sample(problem, samples, _derived_seed(seed, 0), second_order=second_order)
    xp = to_physical(factors, x)
    key_doc = {
        "method": m.name,
        "samples": samples,
        "seed": seed,
        "second_order": second_order,
        "groups": groups,
        "factors": factor_table(factors),
        "x": hashlib.sha256(np.ascontiguousarray(xp).tobytes()).hexdigest(),
        "chunk": chunk,
        "func": dict(fingerprint or {}),
    }
    key = hashlib.sha256(json.dumps(key_doc, sort_keys=True, default=str).encode()).hexdigest()
    y = _evaluate(
        func,
        xp,
        chunk=max(1, int(chunk)),
        partial_dir=Path(partial_dir) if partial_dir is not None else None,
        resume=resume,
        key=key,
        progress=progress,
    )
    t_eval = time.monotonic() - t0
    labels = tuple(float(d) for d in days) if days is not None else (math.nan,) * y.shape[1]
    if len(labels) != y.shape[1]:
        raise ValueError(f"days has {len(labels)} labels but the outcome has {y.shape[1]} columns")
    nom = np.full(y.shape[1], np.nan)
    if nominal:
        xn = np.array([[f.nominal for f in factors]], dtype=float)
        if np.all(np.isfinite(xn)):
            nom = np.asarray(func(xn), dtype=float).reshape(-1)
    frames = []
    notes: list[str] = []
    for t, label in enumerate(labels):
        col = y[:, t]
        rows = m.analyze(
            problem,
            x,
            col,
            _derived_seed(seed, 1),
            conf_level=conf_level,
            num_resamples=num_resamples,
            second_order=second_order,
        )
        used = min((int(r.get("n_used", col.size)) for r in rows), default=col.size)
        if 0 < used < col.size:
            notes.append(
                f"day {label:g}: {col.size - used} of {col.size} evaluations left out "
                "(whole sampling blocks with a failed solve)"
            )
        finite = col[np.isfinite(col)]
        if finite.size and np.ptp(finite) <= 1e-12 * max(1.0, float(np.abs(finite).max())):
            notes.append(f"day {label:g}: the outcome does not vary over the samples")
        if finite.size < col.size:
            notes.append(f"day {label:g}: {col.size - finite.size} evaluations gave no value")
        df = pd.DataFrame(rows)
        df.insert(0, "day", label)
        frames.append(df)
    indices = pd.concat(frames, ignore_index=True)
    info = {
        "method": m.name,
        "samples": samples,
        "evaluations": int(x.shape[0]),
        "n_factors": len(factors),
        "n_groups": n_groups,
        "second_order": second_order,
        "grouped": groups,
        "conf_level": conf_level,
        "num_resamples": num_resamples,
        "seed": seed,
        "sample_seed": _derived_seed(seed, 0),
        "analysis_seed": _derived_seed(seed, 1),
        "evaluation_s": round(t_eval, 3),
        "total_s": round(time.monotonic() - t0, 3),
        "notes": notes,
    }
    return SensitivityResult(
        method=m.name,
        factors=list(factors),
        days=labels,
        x=x,
        x_physical=xp,
        y=y,
        indices=indices,
        nominal=nom,
        info=info,
    )


def analyse_function(
    func: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    bounds: Mapping[str, tuple[float, float]],
    *,
    method: str,
    samples: int,
    seed: int = 0,
    second_order: bool = False,
    conf_level: float = 0.95,
    num_resamples: int = 100,
) -> SensitivityResult:
    """Sensitivity indices of a plain function of independent uniform factors.

    Parameters
    ----------
    func : callable
        ``func(x (n, D)) -> y (n,)``.
    bounds : mapping
        Factor name -> (lower, upper), in column order.
    method, samples, seed, second_order, conf_level, num_resamples
        As in :func:`run_sensitivity`.

    Returns
    -------
    SensitivityResult

    Examples
    --------
    The Ishigami function (Ishigami & Homma 1990) on ``[-pi, pi]^3``:

    >>> import numpy as np
    >>> def f(x):
    ...     return np.sin(x[:, 0]) * (1 + 0.1 * x[:, 2] ** 4) + 7 * np.sin(x[:, 1]) ** 2
    >>> res = analyse_function(f, {k: (-np.pi, np.pi) for k in ("x1", "x2", "x3")},
    ...                        method="sobol", samples=1024, seed=1)
    >>> res.indices.query("index == 'ST'")[["factor", "value"]]  # doctest: +SKIP
    """
    factors = [
        Factor(name=k, lower=float(lo), upper=float(hi), log=False, kind="parameter", target=k)
        for k, (lo, hi) in bounds.items()
    ]
    return run_sensitivity(
        func,
        factors,
        method=method,
        samples=samples,
        seed=seed,
        second_order=second_order,
        conf_level=conf_level,
        num_resamples=num_resamples,
        chunk=1 << 30,
        nominal=False,
    )


def execute(
    p: Plan,
    *,
    partial_dir: str | Path | None = None,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> SensitivityResult:
    """Run a planned model sensitivity analysis.

    Parameters
    ----------
    p : Plan
        From :func:`plan`.
    partial_dir : path, optional
        Cache of evaluated chunks (``.DIR.sensitivity-cache`` beside ``DIR`` from the CLI).
    resume : bool
        Reuse cached chunks made with identical settings.
    progress : callable, optional
        Called with the number of evaluated factor samples.
    chunk_rows : int
        Samples × patients per engine call.

    Returns
    -------
    SensitivityResult
        ``info`` adds cohort, solves and failures; ``outcome`` is set.
    """
    t0 = time.monotonic()
    cohort = build_cohort(p.design, p.cohort, p.seed, solver=p.solver)
    t_cohort = time.monotonic() - t0
    ev = ModelEvaluator(
        cohort,
        arm=p.arm,
        outcome=p.outcome,
        factors=p.factors,
        reference=p.reference,
        solver=p.solver,
        chunk_rows=chunk_rows,
    )
    res = run_sensitivity(
        ev,
        p.factors,
        method=p.method,
        samples=p.samples,
        seed=p.seed,
        second_order=p.second_order,
        groups=p.groups,
        days=p.outcome.days,
        conf_level=p.conf_level,
        chunk=ev.samples_per_call,
        partial_dir=partial_dir,
        resume=resume,
        fingerprint=ev.fingerprint(),
        progress=progress,
    )
    res.outcome = p.outcome
    res.info.update(
        {
            "cohort_size": cohort.size,
            "cohort_patients": cohort.indices.tolist(),
            "cohort_s": round(t_cohort, 3),
            "per_sample_burn_in": ev.burn_varies,
            "arms_per_sample": ev.arms_per_sample,
            "patient_solves": ev.n_solves,
            "patient_solves_reused": ev.n_reused,
            "solver_failures": dict(ev.failures),
            "total_s": round(time.monotonic() - t0, 3),
        }
    )
    return res


def sensitivity(
    *,
    method: str,
    factors: str | Sequence[Factor],
    outcome: str,
    design: str | Design | None = None,
    arm: str | None = None,
    samples: int | None = None,
    seed: int = 0,
    second_order: bool = False,
    groups: bool = False,
    cohort: int = DEFAULT_COHORT,
    every: float = 7.0,
    solver: SolverOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> SensitivityResult:
    """Global sensitivity analysis of a trial-level outcome (one call: :func:`plan` + run).

    Arguments as in :func:`plan`; ``solver`` (a
    :class:`~gutskin.engine.options.SolverOptions`) sets the method and tolerances of
    every integration.

    Examples
    --------
    >>> res = sensitivity(method="sobol", factors="strain",            # doctest: +SKIP
    ...                   outcome="pct_diff:inflammatory_lesions@56",
    ...                   design="rinaldi2022:probiotics", samples=128, cohort=16)
    >>> res.main()[["factor", "value", "ci_low", "ci_high"]]           # doctest: +SKIP
    """
    p = plan(
        method=method,
        factors=factors,
        outcome=outcome,
        design=design,
        arm=arm,
        samples=samples,
        seed=seed,
        second_order=second_order,
        groups=groups,
        cohort=cohort,
        every=every,
        solver=solver,
    )
    return execute(p, progress=progress)


#: Exceptions that mean bad user input (the CLI turns them into one-line errors).
USER_ERRORS: tuple[type[Exception], ...] = (
    SensitivityError,
    FactorError,
    OutcomeError,
    MethodError,
    DesignError,
)
