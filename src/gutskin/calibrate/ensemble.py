"""An ensemble of parameter sets consistent with the calibration targets (history matching).

Method
------
One wave of history matching (Craig et al. 1997; Vernon, Goldstein & Bower, Bayesian
Analysis 2010;5:619) with the replicate-trial objective: candidates are drawn by a
Latin hypercube in a box around the calibrated point (each fitted parameter within a
factor ``spread`` of its value, in log space, clipped to its table bounds); each is
simulated with :class:`~gutskin.calibrate.replicates.ReplicateObjective`, and a candidate
is kept (*not implausible*) when every fitted target's implausibility (its replicate mean's
distance from the observed value in units of the target's sd, or outside its range) is at
most 3, and the Rinaldi 2022 arms lie inside their acceptance bands. Members carry equal
weight: with a uniform prior on the box this is rejection sampling of the parameter sets
the targets cannot rule out, not a posterior with a likelihood. The box truncates what lies
beyond it; members near its edge say the box was too small for that parameter (reported).

Every candidate's result is appended to a checkpoint CSV as soon as it is simulated, so an
interrupted run resumes where it stopped (same seed, same candidates).

Run: ``python -m gutskin.calibrate.ensemble --out DIR [--candidates 40] [--spread 1.3]``;
``ensemble.csv`` (parameter columns and ``weight``) and ``ensemble.json`` (method, seed,
box, counts) are written into ``DIR``; the package's copy lives in
``src/gutskin/calibrate/data/`` for the assurance analysis.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gutskin.calibrate.replicates import ReplicateObjective
from gutskin.calibrate.targets import TargetSet, load_targets
from gutskin.engine.random import run_rng

__all__ = ["candidate_box", "draw_candidates", "history_match", "main"]


def candidate_box(
    center: Mapping[str, float], spread: float, bounds: Mapping[str, tuple[float, float]]
) -> dict[str, tuple[float, float]]:
    """``[v / spread, v * spread]`` per parameter, clipped to its (positive) table bounds."""
    if not spread > 1.0:
        raise ValueError(f"spread must be > 1, got {spread}")
    box = {}
    for name, v in center.items():
        lo, hi = bounds[name]
        box[name] = (max(v / spread, lo), min(v * spread, hi))
    return box


def draw_candidates(box: Mapping[str, tuple[float, float]], n: int, seed: int) -> pd.DataFrame:
    """``n`` Latin-hypercube candidates, log-uniform in each interval of ``box``."""
    rng = run_rng(seed, "calibration_ensemble")
    names = list(box)
    d = len(names)
    u = (np.argsort(rng.random((d, n)), axis=1).T + rng.random((n, d))) / n
    lo = np.log([box[k][0] for k in names])
    hi = np.log([box[k][1] for k in names])
    return pd.DataFrame(np.exp(lo + (hi - lo) * u), columns=names)


def history_match(
    ts: TargetSet,
    candidates: pd.DataFrame,
    fixed: Mapping[str, float],
    *,
    objective: ReplicateObjective,
    seed: int,
    checkpoint: Path,
    cutoff: float = 3.0,
    must_meet: Sequence[str] = ("probiotic_trial",),
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Simulate every candidate (resuming from ``checkpoint``); one row per candidate.

    A candidate is kept when the implausibility ``|z|`` of every fitted target (its
    standardised residual, :meth:`~gutskin.calibrate.targets.Target.z`) is at most
    ``cutoff`` (3: Pukelsheim's three-sigma rule, as in Vernon et al. 2010) and every
    fitted target of the groups ``must_meet`` lies inside its acceptance band.

    Columns: the parameters, ``J``, ``max_implausibility``, ``worst`` (its target),
    ``rejected_by`` (the targets that rule the candidate out) and ``kept``.
    """
    done = pd.read_csv(checkpoint) if checkpoint.exists() else pd.DataFrame()
    targets = objective.targets(ts)
    for i in range(len(done), len(candidates)):
        values = dict(fixed)
        values.update({str(k): float(v) for k, v in candidates.iloc[i].items()})
        means = objective.means(ts, values, seed=seed)
        z = {t.id: t.z(means[t.id]) if math.isfinite(means[t.id]) else math.inf for t in targets}
        implausible = [k for k, v in z.items() if abs(v) > cutoff]
        outside = [t.id for t in targets if t.group in must_meet and not _inside(t, means[t.id])]
        worst = max(z, key=lambda k: abs(z[k]))
        row = {**candidates.iloc[i].to_dict()}
        row.update(
            J=float(sum(v * v for v in z.values())),
            max_implausibility=float(abs(z[worst])),
            worst=worst,
            rejected_by=" ".join(implausible + [k for k in outside if k not in implausible]),
            kept=not implausible and not outside,
        )
        pd.DataFrame([row]).to_csv(checkpoint, mode="a", header=i == 0, index=False)
        if progress:
            progress(i + 1, len(candidates))
    return pd.read_csv(checkpoint)


def _inside(target: Any, value: float) -> bool:
    """Whether ``value`` lies inside the target's acceptance band (NaN never does)."""
    band = target.band()
    if band is None:
        return True
    return bool(math.isfinite(value) and band[0] <= value <= band[1])


def _fitted_values(path: Path) -> dict[str, float]:
    tab = pd.read_csv(path)
    return {str(r["name"]): float(r["value"]) for _, r in tab.iterrows()}


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build the ensemble around the packaged calibrated point."""
    from gutskin.calibrate.fit import parameter_bounds

    here = Path(__file__).parent / "data"
    ap = argparse.ArgumentParser(prog="python -m gutskin.calibrate.ensemble")
    ap.add_argument("--out", type=Path, required=True, help="folder for the ensemble files")
    ap.add_argument("--targets", type=Path, default=None)
    ap.add_argument("--fitted", type=Path, default=here / "fitted_parameters.csv")
    ap.add_argument("--parameters", default=None, help="comma list (default: fit_parameters)")
    ap.add_argument("--candidates", type=int, default=40)
    ap.add_argument("--spread", type=float, default=1.3)
    ap.add_argument("--replicates", type=int, default=4)
    ap.add_argument("--rinaldi-replicates", type=int, default=40)
    ap.add_argument("--pool", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if not 1 <= a.candidates <= 10_000:
        ap.error("--candidates must be in 1..10000")
    ts = load_targets(a.targets)
    center_all = _fitted_values(a.fitted)
    names = (
        [x.strip() for x in a.parameters.split(",") if x.strip()]
        if a.parameters
        else [n for n in ts.fit_parameters if n in center_all]
    )
    missing = [n for n in names if n not in center_all]
    if missing:
        ap.error(f"--parameters: {missing} have no calibrated value in {a.fitted}")
    bounds, _, _ = parameter_bounds(names)
    try:
        box = candidate_box({n: center_all[n] for n in names}, a.spread, bounds)
    except ValueError as exc:
        ap.error(f"--spread: {exc}")
    objective = ReplicateObjective(
        replicates=a.replicates, rinaldi_replicates=a.rinaldi_replicates, pool_size=a.pool
    )
    a.out.mkdir(parents=True, exist_ok=True)
    cands = draw_candidates(box, a.candidates, a.seed)
    fixed = {k: v for k, v in center_all.items() if k not in names}
    res = history_match(
        ts,
        cands,
        fixed,
        objective=objective,
        seed=a.seed,
        checkpoint=a.out / "candidates.csv",
        progress=lambda i, n: print(f"candidate {i}/{n}", flush=True),
    )
    kept = res[res["kept"].astype(bool)]
    members = kept[names].copy()
    members["weight"] = 1.0 / max(len(members), 1)
    members.to_csv(a.out / "ensemble.csv", index=False)
    edge = {
        n: int(((members[n] <= box[n][0] * 1.05) | (members[n] >= box[n][1] / 1.05)).sum())
        for n in names
    }
    meta = {
        "method": "history matching, one wave: Latin-hypercube candidates (log-uniform) in a "
        "box around the calibrated point; kept when every fitted target's implausibility "
        "(|replicate mean - observed| / sd, or distance outside its range / sd) is at most 3 "
        "and the Rinaldi 2022 arms lie inside their acceptance bands; equal weights",
        "references": [
            "Craig PS, Goldstein M, Seheult AH, Smith JA. Pressure matching for hydrocarbon "
            "reservoirs. Case Studies in Bayesian Statistics 1997;3:37-93",
            "Vernon I, Goldstein M, Bower RG. Galaxy formation: a Bayesian uncertainty "
            "analysis. Bayesian Analysis 2010;5(4):619-670",
        ],
        "seed": a.seed,
        "spread": a.spread,
        "box": {n: list(box[n]) for n in names},
        "center": {n: center_all[n] for n in names},
        "objective": {
            "replicates": a.replicates,
            "rinaldi_replicates": a.rinaldi_replicates,
            "pool": a.pool,
        },
        "candidates": len(res),
        "members": len(members),
        "members_near_box_edge": edge,
    }
    (a.out / "ensemble.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{len(members)} of {len(res)} candidates kept -> {a.out / 'ensemble.csv'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
