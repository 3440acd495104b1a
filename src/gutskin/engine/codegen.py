"""Generate, cache and load the compiled kernel module for a model spec.

The right-hand side, its analytic Jacobian (by SymPy differentiation) and
the observable function are printed as straight-line Python with common
subexpressions eliminated, prepended to the numba solver templates in
:mod:`gutskin.engine.templates`, and written to a file in the kernel cache
directory.  Numba caches the machine code next to that file, so the compile
cost is paid once per model structure and machine.

Loop-invariant work is lifted out of the hot functions (:class:`_Hoister`):
subexpressions in parameters only (``1/V``, ``k1*k2``, ``log(2)/t_half``) go
to ``prepare_params``, run once per patient, and those in inputs and
parameters (``dose/(dose + ED50)``) to ``prepare_inputs``, run when an input
changes; ``rhs_fast``/``jac_fast``/``observe_fast`` read them from the
vectors ``q`` and ``w``.  A second version of the right-hand side,
``rhs_lanes``, evaluates 8 patients at once in SIMD lanes (arrays
lane-interleaved, exp/log/pow from the vectorisable ``vmath`` template).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import ModuleType

import numba
import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from gutskin.engine.kernel_parts import (
    _JAC_LANES_SCALAR,
    LANES,
    _block_constants,
    _smooth_lane_prologue,
    _smooth_prologue,
    _smooth_terms,
)
from gutskin.engine.spec import ModelSpec

__all__ = ["cache_dir", "generate_source", "load_kernel"]

_TEMPLATES = (
    "vmath.py",
    "common.py",
    "dopri5.py",
    "rosenbrock.py",
    "lanes.py",
    "rosenbrock_lanes.py",
    "driver.py",
)

#: Patients integrated side by side in the SIMD-lane solver (8 float64 = one AVX-512
#: register; two AVX2 registers).
_STRIP = "# codegen: strip"
CODEGEN_VERSION = "9"


class KernelCacheError(OSError):
    """The kernel cache folder cannot be used (one-line message naming the folder)."""


def cache_dir() -> Path:
    """Directory of generated kernels: ``$GUTSKIN_CACHE_DIR`` or ``~/.cache/gutskin/kernels``."""
    env = os.environ.get("GUTSKIN_CACHE_DIR")
    base = Path(env) if env else Path.home() / ".cache" / "gutskin"
    return base / "kernels"


class _Printer(PythonCodePrinter):
    """Python printer whose output numba compiles (``math.*`` functions, builtin min/max)."""

    def __init__(self) -> None:
        super().__init__({"fully_qualified_modules": True, "standard": "python3"})

    def _print_Max(self, expr: sp.Max) -> str:
        args = [self._print(a) for a in expr.args]
        out = args[0]
        for a in args[1:]:
            out = f"max({out}, {a})"
        return out

    def _print_Min(self, expr: sp.Min) -> str:
        args = [self._print(a) for a in expr.args]
        out = args[0]
        for a in args[1:]:
            out = f"min({out}, {a})"
        return out

    def _print_Abs(self, expr: sp.Abs) -> str:
        return f"abs({self._print(expr.args[0])})"

    def _print_Float(self, expr: sp.Float) -> str:
        return repr(float(expr))

    def _print_Rational(self, expr: sp.Rational) -> str:
        return repr(float(expr))

    def _print_Integer(self, expr: sp.Integer) -> str:
        return f"{int(expr)}.0"

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, e = expr.args
        if e.is_Integer and 1 < int(e) <= 4:
            b = self.parenthesize(base, 100)
            # parenthesised: the product stands in for an atomic power (e.g. a/b**2)
            return "(" + "*".join([b] * int(e)) + ")"
        if e == -1:
            return f"(1.0/{self.parenthesize(base, 100)})"
        if e == sp.Rational(1, 2):
            return f"math.sqrt({self._print(base)})"
        return f"{self.parenthesize(base, 100)}**{self.parenthesize(e, 100)}"


_VARYING = 3  # level of expressions in states or time; 2 = inputs, 1 = parameters, 0 = numbers


class _Hoister:
    """Lift loop-invariant subexpressions out of the right-hand side.

    Every subexpression has a level: 0 (numbers only), 1 (parameters), 2
    (inputs and parameters) or 3 (states or time).  Maximal subtrees of level
    <= 1 become entries of the per-patient vector ``q``, computed once per
    patient by ``prepare_params``; subtrees of level 2 become entries of the
    per-segment vector ``w``, computed by ``prepare_inputs`` whenever the
    piecewise-constant inputs change.  Inside sums and products the invariant
    operands are grouped, so ``k1*k2*x/V`` costs one multiplication in the hot
    loop (``q[j]*x`` with ``q[j] = k1*k2/V``) and the division is gone.
    ``q[:P]`` are the parameters and ``w[:NI]`` the inputs themselves.
    """

    def __init__(self, n_params: int, n_inputs: int, levels: dict[sp.Symbol, int]) -> None:
        self.n_params, self.n_inputs = n_params, n_inputs
        self.levels = dict(levels)
        self.q_exprs: dict[sp.Expr, sp.Symbol] = {}  # base expression -> q symbol
        self.w_exprs: dict[sp.Expr, sp.Symbol] = {}  # base expression -> w symbol
        self.w_inner: dict[sp.Symbol, sp.Expr] = {}  # w symbol -> expression in q and w[:NI]
        self.base: dict[sp.Symbol, sp.Expr] = {}  # lifted symbol -> base expression

    def level(self, e: sp.Basic) -> int:
        return max((self.levels.get(s, _VARYING) for s in e.free_symbols), default=0)

    def hoist(self, e: sp.Expr, top: int = _VARYING) -> sp.Expr:
        """``e`` with every maximal subexpression of level < ``top`` lifted."""
        if e.is_Atom:
            return e
        lv = self.level(e)
        if lv < top:
            return self._lift(e, lv)
        if isinstance(e, sp.Add | sp.Mul):
            low = [a for a in e.args if self.level(a) < top]
            high = [self.hoist(a, top) for a in e.args if self.level(a) >= top]
            if low:
                grouped = e.func(*low)
                high.append(self._lift(grouped, self.level(grouped)))
            return e.func(*high)
        return e.func(*[self.hoist(a, top) for a in e.args])

    def _lift(self, e: sp.Expr, lv: int) -> sp.Expr:
        if e.is_Atom:
            return e
        key = e.xreplace(self.base)  # in parameters and inputs only
        if lv <= 1:
            sym = self.q_exprs.get(key)
            if sym is None:
                sym = sp.Symbol(f"q[{self.n_params + len(self.q_exprs)}]", real=True)
                self.q_exprs[key] = sym
                self.levels[sym] = 1
                self.base[sym] = key
            return sym
        sym = self.w_exprs.get(key)
        if sym is None:
            inner = self.hoist(key, top=2)  # its parameter-only parts go to q
            sym = sp.Symbol(f"w[{self.n_inputs + len(self.w_exprs)}]", real=True)
            self.w_exprs[key] = sym
            self.w_inner[sym] = inner
            self.levels[sym] = 2
            self.base[sym] = key
        return sym

    def function(self, exprs: list[sp.Expr]) -> tuple[list[tuple[sp.Symbol, sp.Expr]], list]:
        """CSE of ``exprs``, then invariant temporaries and subexpressions lifted.

        Returns the temporaries (symbol, expression) and the reduced expressions
        for the hot function; the lifted parts are recorded in ``q``/``w``.
        """
        repl, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("_c"), optimizations="basic")
        subs: dict[sp.Symbol, sp.Expr] = {}
        temps: list[tuple[sp.Symbol, sp.Expr]] = []
        for sym, e in repl:
            e = e.xreplace(subs)
            if self.level(e) < _VARYING:
                subs[sym] = self._lift(e, self.level(e))
            else:
                temps.append((sym, self.hoist(e)))
                self.levels[sym] = _VARYING
        return temps, [self.hoist(r.xreplace(subs)) for r in reduced]

    def q_definitions(self) -> list[tuple[sp.Symbol, sp.Expr]]:
        """``(q symbol, expression in q[:P])`` in creation order."""
        return [(sym, e) for e, sym in self.q_exprs.items()]

    def w_definitions(self) -> list[tuple[sp.Symbol, sp.Expr]]:
        """``(w symbol, expression in q and w[:NI])`` in creation order."""
        return [(sym, self.w_inner[sym]) for sym in self.w_exprs.values()]


def _array_symbols(spec: ModelSpec) -> dict[sp.Symbol, sp.Symbol]:
    sym = spec.symbols
    mapping: dict[sp.Symbol, sp.Symbol] = {}
    for i, n in enumerate(spec.state_names):
        mapping[sym[n]] = sp.Symbol(f"y[{i}]", real=True)
    for i, n in enumerate(spec.parameter_names):
        mapping[sym[n]] = sp.Symbol(f"q[{i}]", real=True)
    for i, n in enumerate(spec.input_names):
        mapping[sym[n]] = sp.Symbol(f"w[{i}]", real=True)
    return mapping


def _emit(
    name: str,
    args: str,
    targets: list[str],
    exprs: list[sp.Expr],
    zero: str | None = None,
    prologue: tuple[str, ...] = (),
    temps: list[tuple[sp.Symbol, sp.Expr]] | None = None,
) -> str:
    """Source of one numba function assigning ``exprs`` to ``targets``.

    Without ``temps`` the expressions are CSE'd here; with ``temps`` they are
    already reduced (see :meth:`_Hoister.function`).
    """
    printer = _Printer()
    if temps is None:
        temps, exprs = sp.cse(exprs, symbols=sp.numbered_symbols("_c"), optimizations="basic")
    # error_model="numpy": a division by zero gives inf/nan (the solver reports
    # NONFINITE for that patient) instead of raising, and no zero test precedes
    # every division in the hot loop.
    lines = ['@njit(cache=True, error_model="numpy")', f"def {name}({args}):"]
    lines.extend(f"    {ln}" for ln in prologue)
    if zero:
        lines.append(f"    {zero}[:] = 0.0")
    for s, e in temps:
        lines.append(f"    {s} = {printer.doprint(e)}")
    for tgt, e in zip(targets, exprs, strict=True):
        lines.append(f"    {tgt} = {printer.doprint(e)}")
    if len(lines) == 2:
        lines.append("    pass")
    return "\n".join(lines) + "\n"


_LANE_INDEX = re.compile(r"\b([yqw])\[(\d+)\]")
_SMOOTH = re.compile(r"\b_sm(\d+)\b")
_LANE_TIME = re.compile(r"(?<![\w.])t(?![\w\[])")
_LANE_FUNCS = {
    "math.exp(": "vexp(",
    "math.log(": "vlog(",
    "math.tanh(": "vtanh(",
    "math.cos(": "vcos(",
}


class _LanePrinter(_Printer):
    """Printer for the lane kernel: non-integer powers through the vectorisable ``vpow``."""

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, e = expr.args
        if (e.is_Integer and 1 < int(e) <= 4) or e == -1 or e == sp.Rational(1, 2):
            return super()._print_Pow(expr, rational)
        return f"vpow({self._print(base)}, {self._print(e)})"


def _lane_text(text: str) -> str:
    """Index ``y[i]`` as ``y[i*LANES + ln]`` (lane-interleaved arrays), ``t`` as ``t[ln]``."""
    for old, new in _LANE_FUNCS.items():
        text = text.replace(old, new)
    text = _LANE_INDEX.sub(
        lambda m: (
            f"{m.group(1)}[{int(m.group(2)) * LANES} + ln]"
            if m.group(2) != "0"
            else f"{m.group(1)}[ln]"
        ),
        text,
    )
    return _LANE_TIME.sub("t[ln]", text)


def _emit_lanes(
    temps: list[tuple[sp.Symbol, sp.Expr]],
    exprs: list[sp.Expr],
    prologue: Sequence[str] = (),
    slot0: int = 0,
    name: str = "rhs_lanes",
    out: str = "dy",
    slots: Sequence[int] | None = None,
) -> str:
    """``rhs_lanes(n, t, y, q, w, dy)``: the right-hand side of ``n`` lanes at once.

    Arrays are lane-interleaved: entry ``i`` of lane ``ln`` is ``a[i*LANES + ln]``.
    The loop over lanes has a run-time trip count and constant row offsets, so
    LLVM vectorises it (one patient per SIMD lane); every lane runs the same
    instructions, so a patient's result does not depend on its lane.  With ``name``,
    ``out`` and ``slots`` (the entry of ``out`` of each expression) the same code
    gives ``jac_lanes(n, t, y, q, w, J)``: entry ``(i*N_STATES + j)`` of ``J`` is
    d rate_i / d y_j; entries outside the structural non-zeros are never written (the
    caller passes zeros).
    """
    printer = _LanePrinter()
    # fastmath "contract" only: a*b + c may become one fused multiply-add (one rounding
    # instead of two); no reassociation, no approximate functions, NaN/inf kept.
    lines = [
        '@njit(cache=True, error_model="numpy", fastmath={"contract"})',
        f"def {name}(n, t, y, q, w, {out}):",
        *prologue,
    ]
    lines.append("    for ln in range(n):")
    for sym, e in temps:
        lines.append(f"        {sym} = {_lane_text(printer.doprint(e))}")
    for i, e in enumerate(exprs):
        k = i if slots is None else slots[i]
        tgt = f"{out}[{k * LANES} + ln]" if k else f"{out}[ln]"
        lines.append(f"        {tgt} = {_lane_text(printer.doprint(e))}")
    if not exprs:
        lines.append("        pass")
    lines = [
        _SMOOTH.sub(lambda m: f"w[{(slot0 + int(m.group(1))) * LANES} + ln]", ln) for ln in lines
    ]
    unsupported = [ln for ln in lines if "math." in ln and "math.sqrt(" not in ln]
    if unsupported:  # pragma: no cover - ALLOWED_FUNCTIONS are all covered
        raise ValueError(f"no vectorisable form for {unsupported[0].strip()!r}")
    return "\n".join(lines) + "\n"


def _jac_lanes_source(
    temps: list[tuple[sp.Symbol, sp.Expr]],
    exprs: list[sp.Expr],
    prologue: Sequence[str],
    slot0: int,
    slots: Sequence[int],
) -> str:
    """``jac_lanes``: vectorised like ``rhs_lanes`` where every function of the Jacobian
    has a lane form (e.g. not ``sign``, the derivative of ``abs``), else lane by lane."""
    try:
        return _emit_lanes(temps, exprs, prologue, slot0, name="jac_lanes", out="J", slots=slots)
    except ValueError:
        return _JAC_LANES_SCALAR


_WRAPPERS = '''
@njit(cache=True)
def _prepared(p, u):
    q = np.empty(N_Q)
    prepare_params(p, q)
    w = np.empty(N_W)
    prepare_inputs(q, u, w)
    return q, w


@njit(cache=True)
def rhs(t, y, p, u, dy):
    """Right-hand side from raw parameters ``p`` and inputs ``u`` (convenience, not hot)."""
    q, w = _prepared(p, u)
    rhs_fast(t, y, q, w, dy)


@njit(cache=True)
def jac(t, y, p, u, J):
    """Jacobian d rhs / d y from raw parameters and inputs (convenience, not hot)."""
    q, w = _prepared(p, u)
    jac_fast(t, y, q, w, J)


@njit(cache=True)
def observe(t, y, p, u, out):
    """Assignments (observables) from raw parameters and inputs (convenience, not hot)."""
    q, w = _prepared(p, u)
    observe_fast(t, y, q, w, out)
'''


def generate_model_source(spec: ModelSpec) -> str:
    """Python source of the model functions for ``spec``.

    ``prepare_params(p, q)`` fills the per-patient vector ``q`` (parameters,
    then parameter-only subexpressions); ``prepare_inputs(q, u, w)`` fills the
    per-segment vector ``w`` (inputs, then input-dependent subexpressions);
    ``rhs_fast``, ``jac_fast`` and ``observe_fast`` take ``(t, y, q, w, out)``.
    ``rhs``, ``jac`` and ``observe`` take raw ``(t, y, p, u, out)`` for
    convenience and tests.
    """
    amap = _array_symbols(spec)
    n_p, n_i = len(spec.parameters), len(spec.inputs)  # kernel parameters: table + features
    smooth, feats = _smooth_terms(spec)
    n_p_table, n_p = n_p, n_p + spec.n_features
    levels = {amap[spec.symbols[n]]: 1 for n in spec.parameter_names}
    levels.update({f: 1 for f in feats})
    levels.update({amap[spec.symbols[n]]: 2 for n in spec.input_names})
    hoister = _Hoister(n_p, n_i, levels)
    rates = [spec.expanded_rates[s].xreplace(smooth).xreplace(amap) for s in spec.state_names]
    ys = [amap[spec.symbols[s]] for s in spec.state_names]
    n = len(ys)
    jac_targets: list[str] = []
    jac_slots: list[int] = []  # entry i*n + j of the lane Jacobian
    jac_exprs: list[sp.Expr] = []
    for i, r in enumerate(rates):
        for j, yj in enumerate(ys):
            d = sp.diff(r, yj)
            if d != 0:
                jac_targets.append(f"J[{i}, {j}]")
                jac_slots.append(i * n + j)
                jac_exprs.append(d)
    obs = [
        spec.expanded_assignments[a].xreplace(smooth).xreplace(amap) for a in spec.assignment_names
    ]
    rhs_temps, rates_h = hoister.function(rates)
    jac_temps, jac_h = hoister.function(jac_exprs)
    obs_temps, obs_h = hoister.function(obs)
    q_defs = hoister.q_definitions()
    w_defs = hoister.w_definitions()
    nonneg = [i for i, s in enumerate(spec.states) if s.nonnegative]
    slot0 = n_i + len(w_defs)  # lane kernel: w slots of the smooth inputs' values
    pro = _smooth_prologue(spec)
    parts = [
        f"N_STATES = {n}",
        f"N_PARAMS = {n_p}",
        f"N_TABLE_PARAMS = {n_p_table}",
        f"N_INPUTS = {n_i}",
        f"N_OBS = {len(obs)}",
        f"N_Q = {n_p + len(q_defs)}",
        f"N_W = {slot0 + len(spec.smooth_inputs)}",
        f"LANES = {LANES}",
        f"NONNEG_IDX = np.array({nonneg!r}, dtype=np.int64)",
        *_block_constants(n, [divmod(k, n) for k in jac_slots]),
        "",
        _emit(
            "prepare_params",
            "p, q",
            [str(s) for s, _ in q_defs],
            [e for _, e in q_defs],
            None,
            ("for i in range(N_PARAMS):", "    q[i] = p[i]"),
        ),
        _emit(
            "prepare_inputs",
            "q, u, w",
            [str(s) for s, _ in w_defs],
            [e for _, e in w_defs],
            None,
            ("for i in range(N_INPUTS):", "    w[i] = u[i]"),
        ),
        _emit(
            "rhs_fast",
            "t, y, q, w, dy",
            [f"dy[{i}]" for i in range(n)],
            rates_h,
            prologue=pro,
            temps=rhs_temps,
        ),
        _emit("jac_fast", "t, y, q, w, J", jac_targets, jac_h, "J", pro, temps=jac_temps),
        _emit(
            "observe_fast",
            "t, y, q, w, out",
            [f"out[{i}]" for i in range(len(obs))],
            obs_h,
            prologue=pro,
            temps=obs_temps,
        ),
        _emit_lanes(rhs_temps, rates_h, _smooth_lane_prologue(spec, slot0), slot0),
        _jac_lanes_source(jac_temps, jac_h, _smooth_lane_prologue(spec, slot0), slot0, jac_slots),
        _WRAPPERS,
    ]
    return "\n".join(parts)


@lru_cache(maxsize=1)
def _template_source() -> str:
    chunks = []
    pkg = resources.files("gutskin.engine.templates")
    for fname in _TEMPLATES:
        text = (pkg / fname).read_text()
        kept = [ln for ln in text.splitlines() if _STRIP not in ln]
        chunks.append(f"# ---- template {fname} ----\n" + "\n".join(kept))
    return "\n\n".join(chunks)


def generate_source(spec: ModelSpec) -> str:
    """The full kernel module source for ``spec`` (header, model functions, solvers)."""
    header = (
        f"# Generated by gutskin codegen v{CODEGEN_VERSION} for model {spec.name!r}. Do not edit.\n"
        "import math\n\nimport numpy as np\nfrom numba import njit, prange\n\n"
    )
    return header + generate_model_source(spec) + "\n\n" + _template_source() + "\n"


_LOADED: dict[str, ModuleType] = {}


def _structure_key(spec: ModelSpec) -> str:
    """Key of everything the generated source depends on, computed without SymPy work."""
    parts = [spec.structure_hash(), CODEGEN_VERSION, _template_source(), numba.__version__]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:20]


def _import(modname: str, path: Path) -> ModuleType:
    mod_spec = importlib.util.spec_from_file_location(modname, path)
    if mod_spec is None or mod_spec.loader is None:  # pragma: no cover
        raise ImportError(f"cannot load generated kernel {path}")
    module = importlib.util.module_from_spec(mod_spec)
    sys.modules[modname] = module
    mod_spec.loader.exec_module(module)
    return module


def load_kernel(spec: ModelSpec) -> ModuleType:
    """Generate (if needed), write and import the kernel module of ``spec``.

    The module name carries a hash of the model structure, the templates and
    the numba version, so a changed model or solver never reuses stale machine
    code, while an unchanged one skips code generation entirely (also in a new
    process: the file on disk is reused and numba loads its cached machine code).
    """
    key = _structure_key(spec)
    if key in _LOADED:
        return _LOADED[key]
    safe = re.sub(r"[^A-Za-z0-9_]", "_", spec.name)
    modname = f"gutskin_kernel_{safe}_{key}"
    directory = cache_dir()
    where = "GUTSKIN_CACHE_DIR" if os.environ.get("GUTSKIN_CACHE_DIR") else "kernel cache"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError(13, "not writable")
    except OSError as exc:
        raise KernelCacheError(
            exc.errno,
            f"{where} {directory.parent}: cannot use it for compiled kernels "
            f"({exc.strerror or exc}); point GUTSKIN_CACHE_DIR to a writable folder",
        ) from None
    path = directory / f"{modname}.py"
    end = f"# end of generated kernel {key}\n"
    if not _complete(path, end):
        _write_kernel(spec, directory, path, end)
    try:
        module = _import(modname, path)
    except (SyntaxError, ImportError, NameError, AttributeError):
        # a damaged file (truncated by a full disk or a killed write): rebuild it once
        sys.modules.pop(modname, None)
        _write_kernel(spec, directory, path, end)
        module = _import(modname, path)
    _LOADED[key] = module
    return module


def _complete(path: Path, end: str) -> bool:
    """Whether the kernel file exists and ends with its end marker (not truncated)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - len(end) - 1))
            return fh.read().decode("utf-8", "replace").endswith(end)
    except OSError:
        return False


def _write_kernel(spec: ModelSpec, directory: Path, path: Path, end: str) -> None:
    source = generate_source(spec).rstrip("\n") + "\n\n" + end
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(source)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
