"""Generate, cache and load the compiled kernel module for a model spec.

The right-hand side, its analytic Jacobian (by SymPy differentiation) and
the observable function are printed as straight-line Python with common
subexpressions eliminated, prepended to the numba solver templates in
:mod:`gutskin.engine.templates`, and written to a file in the kernel cache
directory.  Numba caches the machine code next to that file, so the compile
cost is paid once per model structure and machine.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import tempfile
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import ModuleType

import numba
import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from gutskin.engine.spec import ModelSpec

__all__ = ["cache_dir", "generate_source", "load_kernel"]

_TEMPLATES = ("common.py", "dopri5.py", "rosenbrock.py", "driver.py")
_STRIP = "# codegen: strip"
CODEGEN_VERSION = "2"


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


def _array_symbols(spec: ModelSpec) -> dict[sp.Symbol, sp.Symbol]:
    sym = spec.symbols
    mapping: dict[sp.Symbol, sp.Symbol] = {}
    for i, n in enumerate(spec.state_names):
        mapping[sym[n]] = sp.Symbol(f"y[{i}]", real=True)
    for i, n in enumerate(spec.parameter_names):
        mapping[sym[n]] = sp.Symbol(f"p[{i}]", real=True)
    for i, n in enumerate(spec.input_names):
        mapping[sym[n]] = sp.Symbol(f"u[{i}]", real=True)
    return mapping


def _emit(name: str, args: str, targets: list[str], exprs: list[sp.Expr], zero: str | None) -> str:
    printer = _Printer()
    temps = sp.numbered_symbols("_c")
    repl, reduced = sp.cse(exprs, symbols=temps, optimizations="basic")
    lines = ["@njit(cache=True)", f"def {name}({args}):"]
    if zero:
        lines.append(f"    {zero}[:] = 0.0")
    for s, e in repl:
        lines.append(f"    {s} = {printer.doprint(e)}")
    for tgt, e in zip(targets, reduced, strict=True):
        lines.append(f"    {tgt} = {printer.doprint(e)}")
    if len(lines) == 2:
        lines.append("    pass")
    return "\n".join(lines) + "\n"


def generate_model_source(spec: ModelSpec) -> str:
    """Python source of ``rhs``, ``jac`` and ``observe`` for ``spec``."""
    amap = _array_symbols(spec)
    rates = [spec.expanded_rates[s].xreplace(amap) for s in spec.state_names]
    ys = [amap[spec.symbols[s]] for s in spec.state_names]
    n = len(ys)
    jac_targets: list[str] = []
    jac_exprs: list[sp.Expr] = []
    for i, r in enumerate(rates):
        for j, yj in enumerate(ys):
            d = sp.diff(r, yj)
            if d != 0:
                jac_targets.append(f"J[{i}, {j}]")
                jac_exprs.append(d)
    obs = [spec.expanded_assignments[a].xreplace(amap) for a in spec.assignment_names]
    nonneg = [i for i, s in enumerate(spec.states) if s.nonnegative]
    parts = [
        f"N_STATES = {n}",
        f"N_INPUTS = {len(spec.input_names)}",
        f"N_OBS = {len(obs)}",
        f"NONNEG_IDX = np.array({nonneg!r}, dtype=np.int64)",
        "",
        _emit("rhs", "t, y, p, u, dy", [f"dy[{i}]" for i in range(n)], rates, None),
        _emit("jac", "t, y, p, u, J", jac_targets, jac_exprs, "J"),
        _emit("observe", "t, y, p, u, out", [f"out[{i}]" for i in range(len(obs))], obs, None),
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
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{modname}.py"
    if not path.exists():
        source = generate_source(spec)
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(source)
        os.replace(tmp, path)
    module = _import(modname, path)
    _LOADED[key] = module
    return module
