"""An ensemble of parameter sets consistent with the calibration targets.

Method
------
Latin-hypercube candidates in a box around the calibrated point (each varied parameter
within a factor ``spread`` of its value, log-uniform, clipped to its table bounds) are
simulated with :class:`~gutskin.calibrate.replicates.ReplicateObjective`, whose
``J = sum z^2`` is ``-2 log L`` up to a constant for independent Gaussian target errors.
The calibrated point is simulated too (``J_0``). A candidate is a member when

* ``J <= J_0 + chi2_{d, 0.95}`` with ``d`` the number of varied parameters: it lies in the
  approximate joint 95 % likelihood-ratio confidence region of those parameters (the
  region whose one-dimensional sections are the profile-likelihood intervals of Raue et
  al., Bioinformatics 2009;25:1923), and
* every Rinaldi 2022 arm (group ``probiotic_trial``) lies inside its acceptance band, so
  replicate trials on every member meet the bands the model was built around.

Members carry equal weight: with a uniform prior on the box this is rejection sampling of
that region, not a posterior. The box truncates what lies beyond it; the number of members
near each edge is reported (many say the box was too small for that parameter). Every
candidate's result is appended to a checkpoint CSV as soon as it is simulated, so an
interrupted run resumes where it stopped (same seed, same candidates).

Run: ``python -m gutskin.calibrate.ensemble --out DIR [--candidates 40] [--spread 1.3]``;
``ensemble.csv`` (parameter columns and ``weight``), ``ensemble.json`` (method, seed, box,
``J_0``, threshold, counts) and ``candidates.csv`` are written into ``DIR``; the package's
copy lives in ``src/gutskin/calibrate/data/`` for the assurance analysis
(``gutskin power --uncertainty calibrated``).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

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
    must_meet: Sequence[str] = ("probiotic_trial",),
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Simulate every candidate (resuming from ``checkpoint``); one row per candidate.

    Columns: the parameters, ``J``, ``max_abs_z`` and ``worst`` (the target furthest from
    its observed value, in sd units) and ``outside_band`` (the fitted targets of the
    groups ``must_meet`` outside their acceptance bands, space-separated).
    """
    done = pd.read_csv(checkpoint) if checkpoint.exists() else pd.DataFrame()
    if len(done):
        cols = list(candidates.columns)
        if list(done.columns[: len(cols)]) != cols or not np.allclose(
            done[cols].to_numpy(float), candidates.iloc[: len(done)].to_numpy(float), rtol=1e-12
        ):
            raise ValueError(f"{checkpoint}: its rows are not these candidates (other seed/box?)")
    targets = objective.targets(ts)
    for i in range(len(done), len(candidates)):
        values = dict(fixed)
        values.update({str(k): float(v) for k, v in candidates.iloc[i].items()})
        means = objective.means(ts, values, seed=seed)
        z = {t.id: t.z(means[t.id]) if math.isfinite(means[t.id]) else math.inf for t in targets}
        outside = [t.id for t in targets if t.group in must_meet and not t.met(means[t.id])]
        worst = max(z, key=lambda k: abs(z[k]))
        row = {**candidates.iloc[i].to_dict()}
        row.update(
            J=float(sum(v * v for v in z.values())),
            max_abs_z=float(abs(z[worst])),
            worst=worst,
            outside_band=" ".join(outside),
        )
        pd.DataFrame([row]).to_csv(checkpoint, mode="a", header=i == 0, index=False)
        if progress:
            progress(i + 1, len(candidates))
    return pd.read_csv(checkpoint, keep_default_na=False)


def members_of(table: pd.DataFrame, j_max: float) -> pd.Series:
    """Which rows of :func:`history_match`'s table are members: ``J <= j_max`` and no
    ``must_meet`` target outside its band."""
    outside = table["outside_band"].fillna("").astype(str).str.strip()
    return (table["J"] <= j_max) & (outside == "")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build the ensemble around the packaged calibrated point."""
    from gutskin.calibrate.fit import parameter_bounds
    from gutskin.calibrate.validate import load_fitted

    here = Path(__file__).parent / "data"
    ap = argparse.ArgumentParser(prog="python -m gutskin.calibrate.ensemble")
    ap.add_argument("--out", type=Path, required=True, help="folder for the ensemble files")
    ap.add_argument("--targets", type=Path, default=None)
    ap.add_argument("--fitted", type=Path, default=here / "fitted_parameters.csv")
    ap.add_argument("--parameters", default=None, help="comma list (default: fit_parameters)")
    ap.add_argument("--candidates", type=int, default=40)
    ap.add_argument(
        "--stop-after", type=int, default=None, help="simulate only the first K candidates"
    )
    ap.add_argument("--spread", type=float, default=1.3)
    ap.add_argument("--replicates", type=int, default=4)
    ap.add_argument("--rinaldi-replicates", type=int, default=40)
    ap.add_argument("--pool", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if not 1 <= a.candidates <= 10_000:
        ap.error("--candidates must be in 1..10000")
    ts = load_targets(a.targets)
    try:
        center_all, _ = load_fitted(a.fitted)
    except ValueError as exc:
        ap.error(f"--fitted: {exc}")
    if center_all is None:
        ap.error(f"--fitted: {a.fitted} is not a file")
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
    if a.stop_after is not None:
        if not 1 <= a.stop_after <= a.candidates:
            ap.error("--stop-after must be in 1..--candidates")
        cands = cands.iloc[: a.stop_after]
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
    center = history_match(
        ts,
        pd.DataFrame([{n: center_all[n] for n in names}]),
        fixed,
        objective=objective,
        seed=a.seed,
        checkpoint=a.out / "center.csv",
    )
    from scipy.stats import chi2

    j0 = float(center["J"].iloc[0])
    j_max = j0 + float(chi2.ppf(0.95, len(names)))
    kept = res[members_of(res, j_max)]
    members = kept[names].copy()
    members["weight"] = 1.0 / max(len(members), 1)
    members.to_csv(a.out / "ensemble.csv", index=False)
    edge = {
        n: int(((members[n] <= box[n][0] * 1.05) | (members[n] >= box[n][1] / 1.05)).sum())
        for n in names
    }
    meta = {
        "method": "likelihood-ratio region: Latin-hypercube candidates (log-uniform) in a box "
        "around the calibrated point, kept when J <= J_0 + chi2(d, 0.95) (J = sum z^2 on "
        "replicate-trial means, J_0 at the calibrated point, d varied parameters) and every "
        "Rinaldi 2022 arm lies inside its acceptance band; equal weights",
        "references": [
            "Raue A, Kreutz C, Maiwald T, Bachmann J, Schilling M, Klingmueller U, Timmer J. "
            "Structural and practical identifiability analysis of partially observed dynamical "
            "models by exploiting the profile likelihood. Bioinformatics 2009;25(15):1923-1929",
        ],
        "seed": a.seed,
        "spread": a.spread,
        "box": {n: list(box[n]) for n in names},
        "center": {n: center_all[n] for n in names},
        "fixed": fixed,
        "objective": {
            "replicates": a.replicates,
            "rinaldi_replicates": a.rinaldi_replicates,
            "pool": a.pool,
        },
        "J_center": j0,
        "center_outside_band": str(center["outside_band"].iloc[0]),
        "J_max": j_max,
        "candidates_drawn": a.candidates,
        "candidates": len(res),
        "members": len(members),
        "members_near_box_edge": edge,
    }
    (a.out / "ensemble.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{len(members)} of {len(res)} candidates kept -> {a.out / 'ensemble.csv'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
