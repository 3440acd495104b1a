"""gutskin's engine vs libRoadRunner and scipy on the acne model, and the flop ceiling.

Workload (the same for every engine):

- model: ``gutskin.model.acne_model()`` (21 states, 129 parameters, 12 inputs);
- patients: ``sample_parameters(spec, range(N), seed)`` with the slot-1 parameters of
  the L. salivarius LS03 strain, each started from its own baseline (a 240-day
  untreated burn-in computed once with gutskin at rtol 1e-10 and shared by all engines);
- schedule: LS03 at 1e9 CFU/day in probiotic slot 1, dosed daily on days 0-56
  (``--adherence``, default 1: every dose taken, so the input is on from day 0 to 56;
  with adherence < 1 each patient misses its own random days); no flare noise
  (``flare_noise`` input at 0);
- 84 days, output every day (85 times), every state reported; rtol 1e-6, atol 1e-8.

Engines:

- gutskin: ``integrate(..., method="auto", dense=True, observables=False)`` on all cores
  (DOPRI5 with Hairer's stiffness test, dense output at the daily times, patients in
  SIMD lanes); ``--variants`` also times it without lanes and without dense output;
- libRoadRunner (CVODE; BDF, its default, and Adams are both timed and the faster is
  compared) on the SBML export
  ``to_sbml(spec, params, y0)``; the per-patient schedule enters through events whose
  trigger times and levels are parameters (one event per breakpoint at which some
  patient's input changes; a patient whose input does not change there gets trigger
  time 1e30), so that one compiled model serves every patient through a loop of
  ``reset()`` + ``setValues(...)`` + ``simulate(...)``, in one process and in 2
  processes;
- scipy ``solve_ivp(method="LSODA")`` per patient and per input segment, on a
  ``sympy.lambdify`` right-hand side (with CSE).

Accuracy: the final states (day 84) of each engine against a reference computed with
libRoadRunner at rtol 1e-10 / atol 1e-12 (max over patients and states of
``|x - ref| / max(|ref|, 1e-6)``; gutskin at rtol 1e-10 is printed as a cross-check).

Flop ceiling: flops per right-hand-side evaluation times the mean RHS evaluations per
patient, against the dense float64 matmul rate of numpy on this machine
(``--matmul-n``); the fraction is measured patients/s over that ceiling.  Two flop
conventions are printed:

- *executed flops* (used for ``fraction_of_flop_ceiling``): the float64 additions,
  subtractions, multiplications and divisions one patient-evaluation of the SIMD
  path's ``rhs_lanes`` really executes, each 1 (a fused multiply-add counts 2), with
  every exp/log/pow/tanh call counted by the operations of its body in
  ``templates/vmath.py`` (counted from that file's AST: vexp 34, vlog 30, vpow 67 at
  the time of writing).  Comparisons, selects, min/max/abs, floor, sign flips, integer
  and bit operations and constant-only expressions count 0; of ``a if c else b`` only
  the dearer branch counts.  Flops of the Runge-Kutta stage combinations, error norms
  and dense output are not counted (only the RHS, as for the other convention);
- *count_ops flops* (printed as ``fraction_of_flop_ceiling_count_ops``): each
  ``+ - * /`` and each call (exp, log, pow, max, ...) of the generated scalar
  ``rhs_fast`` counts one, as ``sympy.count_ops`` counts; a third figure expands pow
  into exp + log + mul.

Run:  .venv/bin/python benchmarks/bench_vs_roadrunner.py [--patients N] [--rr-patients M]

The script ends with machine-readable lines::

    fraction_of_flop_ceiling_count_ops: Z
    load average: ...
    speedup_vs_libroadrunner_1proc: X
    fraction_of_flop_ceiling: Y        (executed-flop convention)
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures as cf
import inspect
import math
import os
import time
from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from gutskin.engine import Exposure, Schedule, SolverOptions, build_schedule, integrate
from gutskin.engine.codegen import load_kernel
from gutskin.engine.spec import ModelSpec
from gutskin.model import acne_model, resolve
from gutskin.population.pipeline import burn_in
from gutskin.population.sampling import sample_parameters

DAYS = 84.0
RTOL, ATOL = 1e-6, 1e-8
REF_RTOL, REF_ATOL = 1e-10, 1e-12
FLOOR = 1e-6
NEVER = 1e30


# ------------------------------------------------------------------ workload
def workload(
    n: int, seed: int, adherence: float
) -> tuple[ModelSpec, NDArray[np.float64], NDArray[np.float64], Schedule]:
    """Parameters (n, P), baseline states (n, S) and the treatment schedule of n patients."""
    spec = acne_model()
    idx = np.arange(n)
    params = sample_parameters(spec, idx, seed)
    regimen = {"intervention": "LS03", "dose": 1e9, "start_day": 0, "stop_day": 56}
    exposures, overrides = resolve([{**regimen, "adherence": adherence}])
    for name, value in overrides.items():
        params[:, spec.parameter_names.index(name)] = value
    ref = SolverOptions(rtol=REF_RTOL, atol=REF_ATOL)
    res, _ = burn_in(spec, params, idx, seed, 240.0, noise=False, solver=ref)
    y0 = np.ascontiguousarray(res.y[:, -1, :])
    exps = [Exposure(e.input, e.level, e.start, e.stop, e.pattern, e.adherence) for e in exposures]
    defaults = [u.default for u in spec.inputs]
    sched = build_schedule(
        spec.input_names, defaults, exps, n, 0.0, seed=seed, indices=np.asarray(idx)
    )
    return spec, params, y0, sched


def change_points(sched: Schedule) -> tuple[list[int], list[int]]:
    """Breakpoints (k >= 1) at which some patient's input changes, and the inputs that change."""
    vals = sched.values
    diff = vals[:, 1:, :] != vals[:, :-1, :]
    ks = [int(k) + 1 for k in np.flatnonzero(diff.any(axis=(0, 2)))]
    cols = [int(j) for j in np.flatnonzero(diff.any(axis=(0, 1)))]
    return ks, cols


# ------------------------------------------------------------------ gutskin
def run_gutskin(
    spec: ModelSpec,
    params: NDArray[np.float64],
    y0: NDArray[np.float64],
    sched: Schedule,
    t_eval: NDArray[np.float64],
    repeats: int,
    **kwargs: Any,
) -> tuple[float, Any]:
    """Best wall time of ``repeats`` runs and the last result."""
    best, res = math.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = integrate(spec, y0, params, t_eval, sched, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return best, res


# --------------------------------------------------------------- roadrunner
def rr_sbml(spec: ModelSpec, sched: Schedule) -> tuple[str, list[str], list[tuple[int, int]]]:
    """SBML of the model with parameterised schedule events.

    Returns the document, the ids of the event parameters and, per event
    parameter, ``(k, column)`` (column -1: trigger time of breakpoint k).
    """
    import libsbml

    from gutskin.io.sbml import to_sbml

    doc = libsbml.readSBMLFromString(to_sbml(spec, y0=spec.initial_values()))
    model = doc.getModel()
    ks, cols = change_points(sched)
    names: list[str] = []
    where: list[tuple[int, int]] = []

    def param(pid: str, value: float) -> None:
        p = model.createParameter()
        p.setId(pid)
        p.setConstant(True)
        p.setValue(value)
        p.setUnits("dimensionless")
        names.append(pid)

    for k in ks:
        param(f"ev_t_{k}", NEVER)
        where.append((k, -1))
        ev = model.createEvent()
        ev.setId(f"ev_{k}")
        ev.setUseValuesFromTriggerTime(True)
        trig = ev.createTrigger()
        trig.setInitialValue(True)
        trig.setPersistent(True)
        trig.setMath(libsbml.parseL3Formula(f"time >= ev_t_{k}"))
        for j in cols:
            pid = f"ev_u_{k}_{j}"
            param(pid, 0.0)
            where.append((k, j))
            ea = ev.createEventAssignment()
            ea.setVariable(spec.input_names[j])
            ea.setMath(libsbml.parseL3Formula(pid))
    return libsbml.writeSBMLToString(doc), names, where


def rr_values(
    spec: ModelSpec,
    params: NDArray[np.float64],
    y0: NDArray[np.float64],
    sched: Schedule,
    where: list[tuple[int, int]],
) -> NDArray[np.float64]:
    """Per-patient values of [parameters, states, inputs, event parameters]."""
    n = params.shape[0]
    vals = sched.values
    ev = np.empty((n, len(where)))
    for c, (k, j) in enumerate(where):
        if j < 0:
            changed = np.any(vals[:, k, :] != vals[:, k - 1, :], axis=1)
            ev[:, c] = np.where(changed, sched.times[k], NEVER)
        else:
            ev[:, c] = vals[:, k, j]
    return np.hstack([params, y0, vals[:, 0, :], ev])


_RR: Any = None


def _rr_init(
    sbml: str, ids: list[str], names: list[str], rtol: float, atol: float, stiff: bool
) -> None:
    import roadrunner

    global _RR
    rr = roadrunner.RoadRunner(sbml)
    rr.integrator.relative_tolerance = rtol
    rr.integrator.absolute_tolerance = atol
    rr.integrator.maximum_num_steps = 1_000_000
    rr.integrator.stiff = stiff
    rr.timeCourseSelections = names
    _RR = (rr, ids)


def _rr_run(values: NDArray[np.float64], times: list[float]) -> NDArray:
    rr, ids = _RR
    out = np.empty((values.shape[0], len(times), len(rr.timeCourseSelections)))
    for i in range(values.shape[0]):
        rr.reset()
        rr.setValues(ids, values[i].tolist())
        out[i] = np.asarray(rr.simulate(times=times))
    return out


def run_roadrunner(
    sbml: str,
    ids: list[str],
    values: NDArray[np.float64],
    t_eval: NDArray[np.float64],
    names: list[str],
    rtol: float,
    atol: float,
    processes: int = 1,
    stiff: bool = True,
) -> tuple[float, NDArray[np.float64]]:
    """Wall time and outputs (n, T, S) of a reset/set/simulate loop (model load not timed)."""
    times = [float(t) for t in t_eval]
    init = (sbml, ids, names, rtol, atol, stiff)
    if processes == 1:
        _rr_init(*init)
        _rr_run(values[:1], times)  # warm-up
        t0 = time.perf_counter()
        out = _rr_run(values, times)
        return time.perf_counter() - t0, out
    parts = np.array_split(values, processes)
    with cf.ProcessPoolExecutor(processes, initializer=_rr_init, initargs=init) as pool:
        list(pool.map(_rr_run, [values[:1]] * processes, [times] * processes))
        t0 = time.perf_counter()
        outs = list(pool.map(_rr_run, parts, [times] * processes))
        return time.perf_counter() - t0, np.concatenate(outs)


# -------------------------------------------------------------------- scipy
def run_scipy(
    spec: ModelSpec,
    params: NDArray[np.float64],
    y0: NDArray[np.float64],
    sched: Schedule,
    t_eval: NDArray[np.float64],
) -> tuple[float, NDArray[np.float64]]:
    """solve_ivp LSODA per patient, restarted at every input change; wall time and outputs."""
    import sympy as sp
    from scipy.integrate import solve_ivp

    syms = [spec.symbols[n] for n in spec.state_names]
    pars = [spec.symbols[n] for n in spec.parameter_names]
    ins = [spec.symbols[n] for n in spec.input_names]
    exprs = [spec.expanded_rates[n] for n in spec.state_names]
    f = sp.lambdify((spec.symbols["t"], syms, pars, ins), exprs, "math", cse=True)
    n = params.shape[0]
    out = np.empty((n, t_eval.size, len(syms)))
    t0 = time.perf_counter()
    for i in range(n):
        vals = sched.values[i]
        change = [0] + [k for k in range(1, vals.shape[0]) if np.any(vals[k] != vals[k - 1])]
        bounds = [float(sched.times[k]) for k in change] + [DAYS]
        y = y0[i].copy()
        out[i, 0] = y
        for s, k in enumerate(change):
            a, b = max(bounds[s], 0.0), min(bounds[s + 1], DAYS)
            if b <= a:
                continue
            mask = (t_eval > a) & (t_eval <= b)
            sol = solve_ivp(
                f,
                (a, b),
                y,
                method="LSODA",
                t_eval=t_eval[mask],
                args=(params[i], vals[k]),
                rtol=RTOL,
                atol=ATOL,
            )
            out[i, mask] = sol.y.T
            y = sol.y[:, -1]
    return time.perf_counter() - t0, out


# --------------------------------------------------------------------- flops
def rhs_flops(spec: ModelSpec) -> tuple[int, int]:
    """Flops of one call of the generated ``rhs_fast``: (count_ops-style, pow as exp+log+mul)."""
    src = inspect.getsource(load_kernel(spec).rhs_fast.py_func)
    tree = ast.parse(src)
    ops = pows = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp):
            ops += 1
            if isinstance(node.op, ast.Pow) and not (
                isinstance(node.right, ast.Constant) and float(node.right.value).is_integer()
            ):
                pows += 1
        elif isinstance(node, ast.Call):
            ops += 1
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            ops += 1
    return ops, ops + 2 * pows


# Executed-flop convention (the one of ``fraction_of_flop_ceiling``): every float64
# +, -, *, / that runs counts 1 (a fused multiply-add is a * and a +, so 2);
# comparisons, selects, min/max/abs, floor, sign flips, integer and bit operations
# and int<->float conversions count 0; expressions of constants only count 0 (the
# compiler folds them); a conditional expression ``a if c else b`` counts its
# test and the dearer branch once.  math.sqrt counts 1.  Calls of the vmath
# functions (exp/log/pow/tanh of the SIMD path) count the flops of their bodies,
# read from the AST of templates/vmath.py.
_FLOAT_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div)
_FREE_CALLS = {"min", "max", "abs", "float", "floor", "_f64_bits", "_bits_f64", "int64"}


class _FlopCounter:
    """Executed float flops of straight-line numba source (see the convention above)."""

    def __init__(self, funcs: dict[str, int]) -> None:
        self.funcs = funcs  # name -> flops per call (vmath functions)
        self.ints: set[str] = set()  # local names holding integers

    @staticmethod
    def _name(node: ast.expr) -> str:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            return node.attr
        return ""

    def is_int(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, int) and not isinstance(node.value, bool)
        if isinstance(node, ast.Name):
            return node.id in self.ints
        if isinstance(node, ast.Call):
            return self._name(node.func) in ("int64", "_f64_bits")
        if isinstance(node, ast.BinOp):
            return self.is_int(node.left) and self.is_int(node.right)
        if isinstance(node, ast.UnaryOp):
            return self.is_int(node.operand)
        if isinstance(node, ast.IfExp):
            return self.is_int(node.body) and self.is_int(node.orelse)
        return False

    @staticmethod
    def is_const(node: ast.expr) -> bool:
        """Only numbers and module constants (VM_*, DP_*): folded at compile time."""
        return all(
            isinstance(n, ast.Constant | ast.operator | ast.unaryop | ast.Load)
            or (isinstance(n, ast.Name) and n.id.isupper())
            or isinstance(n, ast.BinOp | ast.UnaryOp)
            for n in ast.walk(node)
        )

    def expr(self, node: ast.expr) -> int:
        if isinstance(node, ast.BinOp):
            own = (
                1
                if isinstance(node.op, _FLOAT_OPS)
                and not self.is_int(node)
                and not self.is_const(node)
                else 0
            )
            if isinstance(node.op, ast.Pow):
                raise ValueError(f"unexpected ** in counted source: {ast.unparse(node)}")
            return own + self.expr(node.left) + self.expr(node.right)
        if isinstance(node, ast.UnaryOp):
            return self.expr(node.operand)
        if isinstance(node, ast.IfExp):
            return self.expr(node.test) + max(self.expr(node.body), self.expr(node.orelse))
        if isinstance(node, ast.Call):
            name = self._name(node.func)
            args = sum(self.expr(a) for a in node.args)
            if name in self.funcs:
                return self.funcs[name] + args
            if name == "sqrt":
                return 1 + args
            if name in _FREE_CALLS:
                return args
            raise ValueError(f"no flop count for call {ast.unparse(node)}")
        if isinstance(node, ast.Compare):
            return self.expr(node.left) + sum(self.expr(c) for c in node.comparators)
        if isinstance(node, ast.BoolOp):
            return sum(self.expr(v) for v in node.values)
        return 0  # names, constants, subscripts (index arithmetic is integer)

    def body(self, stmts: list[ast.stmt]) -> int:
        total = 0
        for st in stmts:
            if isinstance(st, ast.Assign):
                total += self.expr(st.value)
                for tgt in st.targets:
                    if isinstance(tgt, ast.Name):
                        (self.ints.add if self.is_int(st.value) else self.ints.discard)(tgt.id)
            elif isinstance(st, ast.Return) and st.value is not None:
                total += self.expr(st.value)
            elif isinstance(st, ast.For):  # the lane loop of rhs_lanes: one lane counted
                total += self.body(st.body)
            elif isinstance(st, ast.AugAssign):
                total += 1 + self.expr(st.value)
            elif isinstance(st, ast.If) and ast.unparse(st.test) == "_live":
                # a smooth input's random Fourier features, skipped when their amplitude
                # is zero in every lane, as in this noise-free workload: not executed
                pass
            elif isinstance(st, ast.Expr | ast.Pass):
                total += self.expr(st.value) if isinstance(st, ast.Expr) else 0
            else:
                raise ValueError(f"cannot count statement {ast.unparse(st)}")
        return total


def vmath_flops() -> dict[str, int]:
    """Executed flops of one call of each vmath function (exp/log/pow/tanh of the SIMD path)."""
    from gutskin.engine.templates import vmath

    tree = ast.parse(inspect.getsource(vmath))
    counts: dict[str, int] = {}
    for node in tree.body:  # in file order: vpow and vtanh use vexp/vlog defined above them
        if isinstance(node, ast.FunctionDef) and node.name.startswith("v"):
            body = [s for s in node.body if not isinstance(s, ast.Expr)]  # drop the docstring
            counts[node.name] = _FlopCounter(counts).body(body)
    return counts


def rhs_lanes_flops(spec: ModelSpec) -> tuple[int, dict[str, int], dict[str, int]]:
    """Executed flops of one patient-evaluation of ``rhs_lanes`` (the SIMD path's RHS).

    Returns the total, the vmath flops per call and the number of calls per function.
    """
    funcs = vmath_flops()
    fn = ast.parse(inspect.getsource(load_kernel(spec).rhs_lanes.py_func)).body[0]
    assert isinstance(fn, ast.FunctionDef)
    calls = {name: 0 for name in funcs}
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in calls:
                calls[node.func.id] += 1
    return _FlopCounter(funcs).body(fn.body), funcs, calls


def matmul_gflops(n: int, repeats: int = 5) -> float:
    """Best dense float64 matmul rate of numpy (all cores), GFLOP/s."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n)), rng.random((n, n))
    a @ b
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def max_rel(a: NDArray[np.float64], ref: NDArray[np.float64]) -> float:
    """max |a - ref| / max(|ref|, FLOOR) (NaN counts as infinite)."""
    d = np.abs(a - ref) / np.maximum(np.abs(ref), FLOOR)
    return float(np.max(np.where(np.isfinite(d), d, np.inf)))


# ---------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=20_000, help="gutskin batch size")
    ap.add_argument("--rr-patients", type=int, default=400, help="libRoadRunner patients")
    ap.add_argument("--scipy-patients", type=int, default=40, help="scipy patients")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--adherence", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=5, help="timing rounds (best of)")
    ap.add_argument("--matmul-n", type=int, default=3000)
    ap.add_argument("--method", default="auto", choices=["auto", "dopri5", "rosenbrock"])
    ap.add_argument(
        "--variants", action="store_true",
        help="also time the engine without SIMD lanes and without dense output",
    )  # fmt: skip
    args = ap.parse_args()

    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    n = args.patients
    t0 = time.perf_counter()
    spec, params, y0, sched = workload(n, args.seed, args.adherence)
    print(f"workload ({n} patients, burn-in at rtol 1e-10): {time.perf_counter() - t0:.1f} s")
    t_eval = np.arange(0.0, DAYS + 0.5, 1.0)
    names = spec.state_names
    m_rr = min(args.rr_patients, n)
    m_sp = min(args.scipy_patients, n)

    # gutskin
    opts: dict[str, Any] = {
        "method": args.method,
        "rtol": RTOL,
        "atol": ATOL,
        "dense": True,
        "observables": False,
    }
    integrate(spec, y0[:8], params[:8], t_eval, sched.slice(0, 8), **opts)  # compile / load
    sbml, ev_ids, where = rr_sbml(spec, sched)
    ids = spec.parameter_names + spec.state_names + spec.input_names + ev_ids
    values = rr_values(spec, params[:m_rr], y0[:m_rr], sched.slice(0, m_rr), where)

    # gutskin, libRoadRunner (CVODE BDF, its default, and Adams; 1 and 2 processes) and
    # numpy's matmul timed in interleaved rounds, best of each: other load on the
    # machine hits them alike
    t_gk = t_gk1 = t_bdf = t_adams = t_rr2 = math.inf
    gflops = 0.0
    cores = int(numba.config.NUMBA_NUM_THREADS)
    for _ in range(args.repeats):
        # n_threads always given: integrate() leaves numba's thread count where it set it
        t, res = run_gutskin(spec, params, y0, sched, t_eval, 1, n_threads=cores, **opts)
        t_gk = min(t_gk, t)
        t, _ = run_gutskin(spec, params, y0, sched, t_eval, 1, n_threads=1, **opts)
        t_gk1 = min(t_gk1, t)
        t, out_bdf = run_roadrunner(sbml, ids, values, t_eval, names, RTOL, ATOL, 1, True)
        t_bdf = min(t_bdf, t)
        t, out_adams = run_roadrunner(sbml, ids, values, t_eval, names, RTOL, ATOL, 1, False)
        t_adams = min(t_adams, t)
        stiff = t_bdf <= t_adams  # the faster one is compared
        t, _ = run_roadrunner(sbml, ids, values, t_eval, names, RTOL, ATOL, 2, stiff)
        t_rr2 = min(t_rr2, t)
        gflops = max(gflops, matmul_gflops(args.matmul_n, repeats=2))
    rate_gk = n / t_gk
    rate_gk1 = n / t_gk1
    failures = res.failures()
    t_rr1, out_rr = (t_bdf, out_bdf) if stiff else (t_adams, out_adams)
    rr_label = "BDF" if stiff else "Adams"
    variants: list[tuple[str, float, Any]] = []
    if args.variants:
        for label, extra in [
            ("dense output, one patient per core (simd=False)", {"simd": False}),
            ("steps clamped to every output day (dense=False)", {"dense": False}),
        ]:
            kw = {**opts, **extra, "n_threads": cores}
            integrate(spec, y0[:8], params[:8], t_eval, sched.slice(0, 8), **kw)
            t_v, res_v = run_gutskin(spec, params, y0, sched, t_eval, args.repeats, **kw)
            variants.append((label, n / t_v, res_v))

    _, ref = run_roadrunner(sbml, ids, values, t_eval, names, REF_RTOL, REF_ATOL, 2, True)
    rate_rr1, rate_rr2 = m_rr / t_rr1, m_rr / t_rr2

    # scipy
    t_sp, out_sp = run_scipy(spec, params[:m_sp], y0[:m_sp], sched.slice(0, m_sp), t_eval)
    rate_sp = m_sp / t_sp

    # tight gutskin as a cross-check of the reference
    tight = integrate(
        spec, y0[:m_rr], params[:m_rr], t_eval, sched.slice(0, m_rr),
        method="auto", rtol=REF_RTOL, atol=REF_ATOL, observables=False,
    )  # fmt: skip

    ops, ops_pow = rhs_flops(spec)
    ops_exec, vm_flops, vm_calls = rhs_lanes_flops(spec)
    rhs_per_patient = float(res.n_rhs.mean())
    ceiling = gflops * 1e9 / (ops_exec * rhs_per_patient)  # executed-flop convention
    fraction = rate_gk / ceiling
    fraction_ops = rate_gk / (gflops * 1e9 / (ops * rhs_per_patient))  # count_ops convention
    fraction_pow = rate_gk / (gflops * 1e9 / (ops_pow * rhs_per_patient))

    sel = slice(0, m_rr)
    fin = -1
    print()
    print(
        f"model {spec.name}: {len(spec.states)} states, {len(spec.parameters)} parameters; "
        f"{DAYS:g} days, daily output; rtol {RTOL:g}, atol {ATOL:g}; LS03 1e9 CFU/day daily "
        f"days 0-56, adherence {args.adherence:g}; no flare noise"
    )
    print(
        f"gutskin engine ({args.method}, dense output, SIMD lanes, all cores): "
        f"{rate_gk:10.1f} patients/s  (n={n}; failures {failures or 'none'}; "
        f"{rhs_per_patient:.1f} RHS/patient, {res.n_accepted.mean():.1f} steps)"
    )
    print(f"  the same on 1 thread:     {rate_gk1:10.1f} patients/s")
    for label, rate_v, res_v in variants:
        print(
            f"  variant, {label}: {rate_v:10.1f} patients/s ({res_v.n_rhs.mean():.1f} "
            f"RHS/patient; final states vs fast path {max_rel(res_v.y[:, -1], res.y[:, -1]):.1e})"
        )
    print(
        f"libRoadRunner loop, 1 process:   {rate_rr1:10.1f} patients/s  (n={m_rr}; CVODE "
        f"{rr_label}, the faster: BDF {m_rr / t_bdf:.1f}, Adams {m_rr / t_adams:.1f})"
    )
    print(f"libRoadRunner loop, 2 processes: {rate_rr2:10.1f} patients/s  (n={m_rr})")
    print(f"scipy solve_ivp LSODA, 1 core:   {rate_sp:10.1f} patients/s  (n={m_sp})")
    print(
        f"ratios: gutskin/rr(1 proc) {rate_gk / rate_rr1:.1f}x, gutskin/rr(2 proc) "
        f"{rate_gk / rate_rr2:.1f}x, gutskin/scipy {rate_gk / rate_sp:.0f}x; per core "
        f"(gutskin 1 thread / rr 1 process) {rate_gk1 / rate_rr1:.1f}x"
    )
    print("max relative difference of final states vs libRoadRunner at rtol 1e-10:")
    print(f"  gutskin rtol 1e-6:        {max_rel(res.y[sel, fin], ref[:, fin]):.2e}")
    print(f"  libRoadRunner rtol 1e-6:  {max_rel(out_rr[:, fin], ref[:, fin]):.2e} ({rr_label})")
    print(f"  scipy LSODA rtol 1e-6:    {max_rel(out_sp[:, fin], ref[:m_sp, fin]):.2e}")
    print(f"  gutskin rtol 1e-10:       {max_rel(tight.y[:, fin], ref[:, fin]):.2e}")
    print(f"  (gutskin 1e-6, all days:  {max_rel(res.y[sel], ref):.2e})")
    calls = ", ".join(f"{c} x {name} ({vm_flops[name]} flops)" for name, c in vm_calls.items() if c)
    print(
        f"flops per RHS evaluation: {ops_exec} executed in the SIMD path (rhs_lanes: "
        f"{ops_exec - sum(vm_flops[k] * c for k, c in vm_calls.items())} arithmetic + "
        f"{calls or 'no transcendental calls'}); {ops} as sympy.count_ops counts the "
        f"generated rhs_fast (exp/log/pow = 1 each), {ops_pow} with pow = exp + log + mul"
    )
    print(
        f"RHS evaluations per patient: {rhs_per_patient:.1f} -> "
        f"{ops_exec * rhs_per_patient / 1e3:.1f} kflop executed per patient"
    )
    print(
        f"dense matmul ({args.matmul_n}^2, numpy): {gflops:.1f} GFLOP/s -> ceiling "
        f"{ceiling:,.0f} patients/s (executed flops); reached {fraction:.1%} "
        f"(count_ops convention: {fraction_ops:.1%}; pow as 3 flops: {fraction_pow:.1%})"
    )
    print(f"fraction_of_flop_ceiling_count_ops: {fraction_ops:.4f}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"speedup_vs_libroadrunner_1proc: {rate_gk / rate_rr1:.2f}")
    print(f"fraction_of_flop_ceiling: {fraction:.4f}")


if __name__ == "__main__":
    main()
