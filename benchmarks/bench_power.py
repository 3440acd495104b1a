"""Throughput of `power_curve`: replicate trials per second on this machine.

Runs R replicates of the 12-week two-arm design at n = 100 with its ANCOVA
comparisons only (observed cases), in one process per core, and prints
replicates/s and the projected time for 1,000 replicates.

Run:  .venv/bin/python benchmarks/bench_power.py [--replicates 40] [--workers 2]
"""

from __future__ import annotations

import argparse
import time

from gutskin.trial.design import Comparison, load_design
from gutskin.trial.power import power_curve


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=40)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--n", type=int, default=100)
    args = ap.parse_args()
    d = load_design("probiotic12wk")
    analysis = d.analysis.model_copy(
        update={
            "missing": "observed",
            "comparisons": [
                Comparison(endpoint="inflammatory", method="ancova", visit_week=12),
                Comparison(endpoint="noninflammatory", method="ancova", visit_week=12),
                Comparison(endpoint="iga_success", method="responder", visit_week=12),
            ],
        }
    )
    d = d.model_copy(update={"analysis": analysis})
    power_curve(d, [args.n], replicates=2, seed=0, workers=1)  # warm the kernel cache
    t0 = time.perf_counter()
    pw, _ = power_curve(d, [args.n], replicates=args.replicates, seed=1, workers=args.workers)
    dt = time.perf_counter() - t0
    print(pw[["endpoint", "method", "n", "power", "ci_low", "ci_high"]].to_string(index=False))
    rate = args.replicates / dt
    print(f"replicates: {args.replicates} of n={args.n} in {dt:.1f} s -> {rate:.2f} replicates/s")
    print(f"projected time for 1000 replicates: {1000 / rate / 60:.1f} min")


if __name__ == "__main__":
    main()
