"""Wall time of a Morris screening of the acne model (issue 33).

Job: the same as ``gutskin sensitivity --method morris --outcome
pct_diff:inflammatory_lesions@56`` (default factors, 133 of them; 20 trajectories, i.e.
2,680 factor samples; the default cohort of 32 patients of ``rinaldi2022``; each sample
burned in over 240 days and run in the analysed and the placebo arm), timed from the plan
to the indices, kernels loaded before the clock starts (a warm-up integration).  With
``--trajectories`` fewer trajectories are run (4 at least) for a quicker figure.

Printed, as lines a script can read::

    morris_seconds: X          (goal: <= 60 s on the 2-core machine)
    morris_patient_solves: N   (burn-ins and arm runs integrated; the others reused)
    load average: ...

Run:  .venv/bin/python benchmarks/bench_sensitivity.py [--trajectories 20]
"""

from __future__ import annotations

import argparse
import os
import time

from gutskin.sensitivity import execute, plan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trajectories", type=int, default=20)
    args = ap.parse_args()
    p = plan(
        method="morris",
        factors="default",
        outcome="pct_diff:inflammatory_lesions@56",
        samples=args.trajectories,
    )
    # warm-up: the kernels (numba disk cache) and the cohort's trial machinery
    from gutskin.sensitivity import build_cohort

    build_cohort(p.design, 4, p.seed, solver=p.solver)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    t0 = time.perf_counter()
    res = execute(p)
    dt = time.perf_counter() - t0
    print(f"morris_seconds: {dt:.1f}")
    print(f"morris_patient_solves: {res.info['patient_solves']}")
    print(f"morris_patient_solves_reused: {res.info.get('patient_solves_reused', 0)}")
    print(f"solver_failures: {res.info['solver_failures']}")
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
