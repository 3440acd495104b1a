"""Replicate trials per second: a power analysis on a virtual population and fresh.

Job: ``power_curve`` on the 12-week two-arm ``probiotic12wk`` design at n = 100 (its
primary comparison, the default), in one process per core, wall time end to end after
one warm-up replicate:

- pool: R replicates (default 1,000) drawn from one virtual population, the pool's
  simulation included in the time (``gutskin.trial.pool``; the default of ``gutskin
  power``);
- fresh: R' replicates (default 100) with new patients each (``--pool fresh``).

Bound, for information: the engine alone on the patient-days the fresh job integrated
(every burned-in candidate's burn-in plus every randomized patient's treatment period),
through the fast path of ``bench_vs_roadrunner.py``: ``integrate`` with dense output and
SIMD lanes on all cores, LS03 dosed continuously, no flare noise, no restarts, daily
output, rtol 1e-6 / atol 1e-8, as patients of 84 days each. With noise the solver needs
more steps than this bound, so it is not a goal.

Printed, as lines a script can read::

    power_replicates_per_s_pool: X    (goal: 1,000 replicates in <= 60 s, X >= 17)
    power_replicates_per_s_fresh: Y   (goal: 1,000 replicates in <= 180 s, Y >= 5.6)
    pipeline_efficiency: Z            (engine-only time / fresh job wall time)
    power_replicates_per_s: Y         (the fresh figure, as before, for scripts)
    load average: ...

Run:  .venv/bin/python benchmarks/bench_pipeline.py [--replicates 1000]
      [--replicates-fresh 100] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from gutskin.engine import Exposure, build_schedule, integrate
from gutskin.model.interventions import resolve
from gutskin.population.sampling import sample_parameters
from gutskin.simulation import get_model
from gutskin.trial.design import load_design
from gutskin.trial.power import power_curve

DAYS = 84


def engine_only(patient_days: float, seed: int = 0) -> tuple[float, int]:
    """Best-of-two wall time of the engine's fast path on ``patient_days``."""
    spec = get_model("acne")
    n = max(8, round(patient_days / DAYS))
    idx = np.arange(n)
    params = sample_parameters(spec, idx, seed)
    exposures, overrides = resolve(
        [{"intervention": "LS03", "dose": 1e9, "start_day": 0, "stop_day": DAYS}]
    )
    for name, value in overrides.items():
        params[:, spec.parameter_names.index(name)] = value
    y0 = np.array(
        [spec.initial_values(dict(zip(spec.parameter_names, r, strict=True))) for r in params]
    )
    exps = [Exposure(e.input, e.level, e.start, e.stop) for e in exposures]
    sched = build_schedule(spec.input_names, [u.default for u in spec.inputs], exps, n, 0.0)
    t_eval = np.arange(DAYS + 1, dtype=float)
    kw = {"dense": True, "observables": False, "rtol": 1e-6, "atol": 1e-8}
    integrate(spec, y0[:8], params[:8], t_eval, sched.slice(0, 8), **kw)  # load kernel
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        integrate(spec, y0, params, t_eval, sched, **kw)
        best = min(best, time.perf_counter() - t0)
    return best, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--replicates-fresh", type=int, default=100)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--n", type=int, default=100)
    args = ap.parse_args()
    design = load_design("probiotic12wk").model_copy(update={"sample_size": args.n})
    burn = design.population.burn_in_days
    treat = design.duration_weeks * 7.0

    power_curve(design, [args.n], replicates=1, seed=0, workers=1, pool="fresh")  # kernels
    t0 = time.perf_counter()
    pw_pool, _ = power_curve(
        design, [args.n], replicates=args.replicates, seed=1, workers=args.workers
    )
    job_pool = time.perf_counter() - t0
    t0 = time.perf_counter()
    pw, raw = power_curve(
        design,
        [args.n],
        replicates=args.replicates_fresh,
        seed=1,
        workers=args.workers,
        pool="fresh",
    )
    job = time.perf_counter() - t0
    cand = raw.groupby("replicate")["n_candidates"].first().to_numpy(dtype=float)
    # only candidates who come forward for screening are burned in
    burned = raw.groupby("replicate")["n_burned_in"].first().to_numpy(dtype=float)
    patient_days = float(burned.sum() * burn + args.replicates_fresh * args.n * treat)
    eng, n_eng = engine_only(patient_days)

    cols = ["endpoint", "method", "n", "power", "ci_low", "ci_high", "pool"]
    print(pd.concat([pw_pool[cols], pw[cols]]).to_string(index=False))
    print(
        f"pool job: {args.replicates} replicates of n={args.n} in {job_pool:.2f} s "
        f"(virtual population of {pw_pool['pool'].iloc[0]} eligible candidates included)"
    )
    print(
        f"fresh job: {args.replicates_fresh} replicates of n={args.n} in {job:.2f} s "
        f"({cand.mean():.0f} candidates per replicate, {burned.mean():.0f} of them burned in "
        f"over {burn:g} days)"
    )
    print(
        f"engine only: {patient_days:.3g} patient-days as {n_eng} patients x {DAYS} days "
        f"in {eng:.3f} s ({patient_days / eng:.3g} patient-days/s; "
        f"fresh job {patient_days / job:.3g} patient-days/s)"
    )
    print(f"projected time for 1000 fresh replicates: {1000 * job / args.replicates_fresh:.0f} s")
    print(f"power_replicates_per_s_pool: {args.replicates / job_pool:.3f}")
    print(f"power_replicates_per_s_fresh: {args.replicates_fresh / job:.3f}")
    print(f"pipeline_efficiency: {eng / job:.4f}")
    print(f"power_replicates_per_s: {args.replicates_fresh / job:.3f}")
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
