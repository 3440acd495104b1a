"""Throughput of `assurance`: (parameter draw x replicate trial) pairs per second.

The issue-19 goal: 200 draws x 200 replicates of a 100-patient trial in <= 10 min on the
2-core machine, i.e. >= 66.7 draw-replicates/s. This script runs a smaller job of the
built-in `probiotic12wk` design at n = 100 (its primary comparison, as `gutskin power`
analyses by default) and extrapolates linearly in draws (each draw costs the same), with
two uncertainty sources timed separately because their cost differs:

- `strain`: LS03's engraftment drawn over [0, 2]. A strain acts only through the arm's
  treatment, so every draw shares one virtual population (one burn-in) and re-simulates
  only the LS03 arm;
- `parameter`: `gut_skin_gain`'s median drawn over [0, 4]. A model parameter changes the
  untreated patients too, so every draw builds its own virtual population.

Run:  .venv/bin/python benchmarks/bench_assurance.py [--draws 10] [--replicates 50]
      [--workers 2] [--mode strain|parameter|both]
"""

from __future__ import annotations

import argparse
import os
import time

from gutskin.trial.assurance import assurance, prior_uncertainty
from gutskin.trial.design import load_design

GOAL_DRAWS, GOAL_REPLICATES, GOAL_S = 200, 200, 600.0


def _run(mode: str, draws: int, replicates: int, workers: int | None) -> float:
    d = load_design("probiotic12wk").model_copy(update={"sample_size": 100})
    names = ["LS03.engraftment"] if mode == "strain" else ["gut_skin_gain"]
    source = prior_uncertainty(d, parameters=names)
    marks: dict[str, float] = {}
    t0 = time.perf_counter()
    res = assurance(
        d,
        [100],
        uncertainty=source,
        draws=draws,
        replicates=replicates,
        seed=1,
        workers=workers,
        stage=lambda text: marks.setdefault("draws" if "parameter sets" in text else text,
                                            time.perf_counter() - t0),
    )  # fmt: skip
    dt = time.perf_counter() - t0
    fixed = marks.get("draws", 0.0)  # the shared virtual population and replicate draws
    per_set = (dt - fixed) / (draws + 1)  # the point values are a parameter set too
    s = res.summary.iloc[0]
    rate = draws * replicates / dt
    # the goal's run: 1 + 200 parameter sets of 200 replicates (the per-set cost scales
    # with the replicates, the fixed part does not)
    goal_s = fixed + (GOAL_DRAWS + 1) * per_set * GOAL_REPLICATES / replicates
    print(
        f"{mode}: {draws} draws x {replicates} replicates of n=100 in {dt:.1f} s "
        f"({fixed:.1f} s shared, {per_set:.2f} s per parameter set; point power "
        f"{s['point_power']:.2f}, assurance {s['assurance']:.2f}, "
        f"80% band {s['power_q10']:.2f}-{s['power_q90']:.2f})"
    )
    print(f"assurance_draw_replicates_per_s ({mode}): {rate:.2f}")
    print(
        f"projected {GOAL_DRAWS} x {GOAL_REPLICATES} ({mode}): {goal_s / 60:.1f} min "
        f"(goal {GOAL_S / 60:.0f} min)"
    )
    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--replicates", type=int, default=50)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--mode", choices=["strain", "parameter", "both"], default="both")
    args = ap.parse_args()
    # warm the kernel cache (compilation is not part of the figure)
    d = load_design("probiotic12wk").model_copy(update={"sample_size": 20})
    src = prior_uncertainty(d, parameters=["LS03.engraftment"])
    assurance(d, [20], uncertainty=src, draws=1, replicates=1, seed=0, workers=1, pool=60)
    modes = ["strain", "parameter"] if args.mode == "both" else [args.mode]
    rates = [_run(m, args.draws, args.replicates, args.workers) for m in modes]
    print(f"assurance_draw_replicates_per_s: {rates[0]:.2f}")
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
