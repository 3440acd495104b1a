"""gutskin's engine vs scipy ``solve_ivp`` on a batch of the placeholder model.

Same patients, same output times, same tolerances (rtol 1e-6, atol 1e-8).
Prints patients/s of each, their ratio, and the maximum relative difference of
all outputs between the two (floor 1e-6 on the denominator).

Run:  .venv/bin/python benchmarks/bench_engine_vs_scipy.py [--patients N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.integrate import solve_ivp

from gutskin.engine import integrate
from gutskin.model.placeholder import placeholder_model
from gutskin.population.sampling import sample_parameters


def scipy_rhs(spec):
    import sympy as sp

    syms = [spec.symbols[n] for n in spec.state_names]
    pars = [spec.symbols[n] for n in spec.parameter_names]
    ins = [spec.symbols[n] for n in spec.input_names]
    exprs = [spec.expanded_rates[n] for n in spec.state_names]
    f = sp.lambdify((spec.symbols["t"], syms, pars, ins), exprs, "math")

    def rhs(t, y, p, u):
        return f(t, y, p, u)

    return rhs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=2000)
    ap.add_argument("--scipy-patients", type=int, default=200)
    ap.add_argument("--method", default="LSODA")
    args = ap.parse_args()
    spec = placeholder_model()
    n = args.patients
    params = sample_parameters(spec, np.arange(n), seed=0)
    y0 = np.array(
        [spec.initial_values(dict(zip(spec.parameter_names, r, strict=True))) for r in params]
    )
    t_eval = np.arange(0.0, 85.0)
    integrate(spec, y0[:2], params[:2], t_eval)  # compile / load cache
    t0 = time.perf_counter()
    res = integrate(spec, y0, params, t_eval, method="dopri5")
    t_engine = time.perf_counter() - t0
    rate_engine = n / t_engine

    m = min(args.scipy_patients, n)
    f = scipy_rhs(spec)
    u = [0.0] * len(spec.inputs)
    ref = np.empty((m, t_eval.size, len(spec.states)))
    t0 = time.perf_counter()
    for i in range(m):
        sol = solve_ivp(
            f,
            (0.0, 84.0),
            y0[i],
            method=args.method,
            t_eval=t_eval,
            args=(params[i], u),
            rtol=1e-6,
            atol=1e-8,
        )
        ref[i] = sol.y.T
    t_scipy = time.perf_counter() - t0
    rate_scipy = m / t_scipy
    rel = np.abs(res.y[:m] - ref) / np.maximum(np.abs(ref), 1e-6)
    print(f"model: {spec.name} ({len(spec.states)} states), 84 days, daily output")
    print(f"gutskin engine (dopri5, all cores): {rate_engine:12.1f} patients/s  (n={n})")
    print(f"scipy solve_ivp ({args.method}, 1 core): {rate_scipy:12.1f} patients/s  (n={m})")
    print(f"max relative difference engine vs scipy: {rel.max():.2e}")
    print(f"speedup_vs_scipy: {rate_engine / rate_scipy:.1f}")


if __name__ == "__main__":
    main()
