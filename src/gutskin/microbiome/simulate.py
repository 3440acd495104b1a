"""Simulate every sample of a microbiome table as a virtual patient, treated and untreated.

:func:`simulate_samples` burns each patient in to its own baseline, applies the sample
(:class:`~gutskin.microbiome.population.TablePopulation`), and runs the regimen and no
treatment; :class:`SampleSimulation` holds the per-visit summary and per-patient table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gutskin.microbiome.population import TablePopulation
from gutskin.microbiome.profile import _bounds, _spec

__all__ = ["SIM_OUTPUTS", "SampleSimulation", "simulate_samples"]

#: Simulation outputs (column name → model state or observable), named as the trial endpoints.
SIM_OUTPUTS: dict[str, str] = {
    "inflammatory": "inflammatory_lesions",
    "noninflammatory": "noninflammatory_lesions",
    "total": "total_lesions",
    "nodules": "nodules",
    "erythema": "erythema",
    "sebum": "sebum",
    "rel_c_acnes": "skin_rel_C_acnes",
    "rel_s_epidermidis": "skin_rel_S_epidermidis",
    "rel_s_aureus": "skin_rel_S_aureus",
    "gut_shannon": "gut_shannon",
    "gut_inflammation": "gut_inflammation",
    "plasma_il8": "plasma_IL8_rel",
}


# ------------------------------------------------------------------------------ simulation
@dataclass(frozen=True)
class SampleSimulation:
    """Each sample simulated as a virtual patient under a regimen and untreated.

    Attributes
    ----------
    visits : DataFrame
        One row per sample × condition × visit: ``sample_id``, ``kind``, ``condition``
        (the arm name or ``untreated``), ``visit_week``, ``day``, ``n_ok`` and every
        :data:`SIM_OUTPUTS` column (mean over replicates; ``_p5``/``_p95`` with > 1
        replicate), plus ``inflammatory_change_pct`` from day 0.
    days : ndarray
        Daily output times.
    inflammatory : dict
        Condition → array (samples × days) of mean expected inflammatory lesions.
    patients : DataFrame
        Per simulated patient: sample, replicate, solver status, personalised parameters.
    """

    visits: pd.DataFrame
    days: NDArray[np.float64]
    inflammatory: dict[str, NDArray[np.float64]]
    patients: pd.DataFrame


def simulate_samples(
    pop: TablePopulation,
    *,
    regimens: Sequence[Mapping[str, Any]],
    arm: str,
    days: float,
    visit_weeks: Sequence[float],
    burn_in_days: float = 240.0,
    replicates: int = 0,
    adherence: float = 1.0,
    seed: int = 0,
    spec: Any | None = None,
    solver: Any | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SampleSimulation:
    """Simulate every sample of ``pop`` as a virtual patient, treated and untreated.

    Parameters
    ----------
    pop : TablePopulation
        From :func:`population_from_table`.
    regimens : sequence of mapping
        The arm's regimens (``intervention``, ``dose``, ``start_day``, ...), as in a design.
    arm : str
        Name of the treated condition in the output.
    days : float
        Treatment duration (days).
    visit_weeks : sequence of float
        Weeks reported in ``visits`` (0 = baseline).
    burn_in_days : float
        Untreated run to each patient's own baseline before the sample is applied.
    replicates : int
        0: one nominal patient per sample (median host parameters, no disease-activity
        noise, doses taken as prescribed) — the expected response.  R >= 1: R virtual
        patients per sample with sampled host parameters, flare noise and ``adherence``;
        mean and 5–95 % over them.
    adherence : float
        Fraction of daily doses taken (replicates only).
    seed : int
        Fixes every random number.
    spec : ModelSpec, optional
        The acne model.
    solver : SolverOptions, optional
        How the engine integrates (default ``SolverOptions()``, dense output on).
    progress : callable, optional
        ``progress(done, total)`` over the three integrations.

    Returns
    -------
    SampleSimulation
    """
    from gutskin.engine import SolverOptions
    from gutskin.model.interventions import arm_treatment
    from gutskin.population import pipeline
    from gutskin.scenario import RegimenSpec

    model = spec or _spec()
    solver = solver or SolverOptions()
    n = pop.n_samples
    r = max(int(replicates), 1)
    noisy = replicates > 0
    idx = np.arange(n * r, dtype=np.int64)
    samples = idx // r
    params = pipeline.patient_parameters(model, idx, seed, nominal=not noisy)
    params = pop.apply_parameters(model, params, samples)
    burn, params = pipeline.burn_in(
        model, params, idx, seed, burn_in_days, solver=solver, noise=noisy
    )
    if progress:
        progress(1, 3)
    y0 = pipeline.initial_states(model, params)
    params, y_base = pop.apply_baseline(model, params, burn.y[:, -1, :], samples)
    base_ok = np.all(np.isfinite(y_base), axis=1)
    y_start = np.where(base_ok[:, None], y_base, y0)
    # defaults (start day 0, daily, full adherence) as in a design
    tr = arm_treatment([RegimenSpec.model_validate(dict(rg)) for rg in regimens], days)
    t_eval = np.arange(0.0, days + 1e-9, 1.0)
    if t_eval[-1] < days:
        t_eval = np.append(t_eval, days)
    results = {}
    for done, (cond, treatment) in enumerate(
        ((arm, tr), ("untreated", pipeline.Treatment())), start=2
    ):
        results[cond] = pipeline.treat(
            model,
            y_start,
            params,
            idx,
            seed,
            t_eval,
            treatment=treatment,
            solver=solver,
            adherence=np.full(len(idx), adherence if noisy else 1.0),
            noise_from=0.0 if noisy else None,
        )
        if progress:
            progress(done, 3)
    return _summarise(pop, model, results, samples, base_ok, t_eval, visit_weeks, r, params)


def _summarise(
    pop: TablePopulation,
    model: Any,
    results: dict[str, Any],
    samples: NDArray[np.int64],
    base_ok: NDArray[np.bool_],
    t_eval: NDArray[np.float64],
    visit_weeks: Sequence[float],
    r: int,
    params: NDArray[np.float64],
) -> SampleSimulation:
    from gutskin.population.pipeline import output

    n = pop.n_samples
    vdays = np.array([w * 7.0 for w in visit_weeks])
    pos = np.searchsorted(t_eval, vdays - 1e-9)
    pos = np.clip(pos, 0, len(t_eval) - 1)
    rows: list[dict[str, Any]] = []
    daily: dict[str, NDArray[np.float64]] = {}
    for cond, res in results.items():
        good = base_ok & (res.status == 0)
        outs = {k: output(model, res, v) for k, v in SIM_OUTPUTS.items()}
        infl = np.full((n, len(t_eval)), np.nan)
        for s in range(n):
            sel = (samples == s) & good
            if sel.any():
                infl[s] = outs["inflammatory"][sel].mean(axis=0)
            for w, k in zip(visit_weeks, pos, strict=True):
                row: dict[str, Any] = {
                    "sample_id": pop.sample_ids[s],
                    "kind": pop.kinds[s],
                    "condition": cond,
                    "visit_week": float(w),
                    "day": float(t_eval[k]),
                    "n_ok": int(sel.sum()),
                }
                for name, arr in outs.items():
                    vals = arr[sel, k]
                    row[name] = float(vals.mean()) if vals.size else np.nan
                    if r > 1:
                        row[f"{name}_p5"] = float(np.percentile(vals, 5)) if vals.size else np.nan
                        row[f"{name}_p95"] = float(np.percentile(vals, 95)) if vals.size else np.nan
                base = outs["inflammatory"][sel, 0]
                now = outs["inflammatory"][sel, k]
                row["inflammatory_change_pct"] = (
                    float(100.0 * (now.mean() - base.mean()) / base.mean())
                    if base.size and base.mean() > 0
                    else np.nan
                )
                rows.append(row)
        daily[cond] = infl
    visits = pd.DataFrame(rows)
    pn = model.parameter_names
    personal = ["gut_dysbiosis", "skin_other", "se_K", "sa_K"]
    patients = pd.DataFrame(
        {
            "sample_id": [pop.sample_ids[s] for s in samples],
            "replicate": np.arange(len(samples)) % r,
            "baseline_ok": base_ok,
            **{f"status_{c}": np.asarray(res.status, dtype=np.int64) for c, res in results.items()},
            **{k: params[:, pn.index(k)] for k in personal},
        }
    )
    for k in ("se_K", "sa_K"):
        lo, hi = _bounds(k, model)
        v = patients[k].to_numpy()
        patients[f"{k}_at_bound"] = (np.isclose(v, lo) | np.isclose(v, hi)) & (
            np.array(pop.kinds)[samples] == "skin"
        )
    return SampleSimulation(visits=visits, days=t_eval, inflammatory=daily, patients=patients)
