"""Declarative model specification: the single source of truth for a model.

A :class:`ModelSpec` lists states, parameters, time-varying inputs, algebraic
assignments (intermediate quantities such as quasi-steady cytokine levels) and
one rate expression per state.  Expressions are plain strings in a small,
safe subset of Python/SymPy syntax, so a spec is diff-able data.  From it the
engine generates compiled code (:mod:`gutskin.engine.codegen`); exporters
generate SBML and the documentation renders LaTeX equations
(:meth:`ModelSpec.latex`).

The engine knows nothing about biology: a spec is handed to it as data.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import Any

import sympy as sp

__all__ = [
    "ALLOWED_FUNCTIONS",
    "Assignment",
    "Input",
    "ModelSpec",
    "Parameter",
    "SpecError",
    "State",
]

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_RESERVED = {"t", "time", "pi", "E", "I", "S", "N", "O", "Q"}

#: Functions an expression may call, mapped to their SymPy implementation.
ALLOWED_FUNCTIONS: dict[str, Any] = {
    "exp": sp.exp,
    "log": sp.log,
    "sqrt": sp.sqrt,
    "tanh": sp.tanh,
    "Abs": sp.Abs,
    "Max": sp.Max,
    "Min": sp.Min,
}


class SpecError(ValueError):
    """A model specification is malformed; the message names the offending field."""


def _check_name(kind: str, name: str) -> None:
    if not _NAME_RE.match(name):
        raise SpecError(
            f"{kind} name {name!r} is not a valid identifier (letters, digits, '_'; "
            "must start with a letter)"
        )
    if name in _RESERVED:
        raise SpecError(f"{kind} name {name!r} is reserved; choose another name")


@dataclass(frozen=True)
class State:
    """A dynamic state variable.

    Parameters
    ----------
    name : str
        Identifier used in expressions.
    unit : str
        Unit of the state (free text, e.g. ``"1"`` or ``"log10 CFU/cm^2"``).
    description : str
        One-line meaning.
    initial : float or str
        Initial value, or an expression in parameters.
    nonnegative : bool
        If true the engine keeps the state >= 0 (projection after each step).
    """

    name: str
    unit: str
    description: str
    initial: float | str = 0.0
    nonnegative: bool = True


@dataclass(frozen=True)
class Parameter:
    """A constant parameter with its provenance.

    Only ``name`` and ``value`` matter to the engine; the remaining fields are
    carried for the parameter table, population sampling, export and docs.

    Parameters
    ----------
    name, value, unit, description
        Identifier, nominal value, unit and meaning.
    lower, upper : float, optional
        Plausible range (prior support) used by calibration and sensitivity.
    cv : float
        Between-patient coefficient of variation of a lognormal distribution
        around ``value`` (0 = identical in every patient).
    source : str
        Citation (with DOI/PMID) or ``"assumed"``.
    confidence : str
        ``H``, ``M``, ``L`` or ``assumed``.
    note : str
        Rationale, derivation or caveat.
    """

    name: str
    value: float
    unit: str
    description: str
    lower: float | None = None
    upper: float | None = None
    cv: float = 0.0
    source: str = ""
    confidence: str = ""
    note: str = ""


@dataclass(frozen=True)
class Input:
    """A time-varying external input (an intervention exposure).

    Its value over time comes from a piecewise-constant schedule built per
    patient (:mod:`gutskin.engine.schedule`); ``default`` applies outside any
    scheduled segment.
    """

    name: str
    unit: str
    description: str
    default: float = 0.0


@dataclass(frozen=True)
class Assignment:
    """An algebraic quantity computed from states, parameters, inputs and earlier assignments.

    Assignments are evaluated in order inside the right-hand side and are also
    reported as observables.
    """

    name: str
    expr: str
    unit: str
    description: str


@dataclass(frozen=True)
class ModelSpec:
    """A complete ODE model as data.

    ``rates`` maps each state name to the expression of its time derivative
    (unit: state unit per ``time_unit``).
    """

    name: str
    description: str
    states: Sequence[State]
    parameters: Sequence[Parameter]
    rates: Mapping[str, str]
    inputs: Sequence[Input] = ()
    assignments: Sequence[Assignment] = ()
    time_unit: str = "day"
    version: str = "0"
    metadata: Mapping[str, Any] = field(default_factory=dict)
    smooth_inputs: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "smooth_inputs", dict(self.smooth_inputs))
        object.__setattr__(self, "states", tuple(self.states))
        object.__setattr__(self, "parameters", tuple(self.parameters))
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "assignments", tuple(self.assignments))
        object.__setattr__(self, "rates", dict(self.rates))
        self._validate()

    # ------------------------------------------------------------------ names
    @property
    def state_names(self) -> list[str]:
        return [s.name for s in self.states]

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def input_names(self) -> list[str]:
        return [u.name for u in self.inputs]

    @property
    def assignment_names(self) -> list[str]:
        return [a.name for a in self.assignments]

    def parameter_values(self) -> dict[str, float]:
        """Nominal parameter values by name."""
        return {p.name: float(p.value) for p in self.parameters}

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"unknown parameter {name!r}")

    # ------------------------------------------------------------- validation
    def _validate(self) -> None:
        seen: dict[str, str] = {}
        groups: list[tuple[str, Sequence[Any]]] = [
            ("state", self.states),
            ("parameter", self.parameters),
            ("input", self.inputs),
            ("assignment", self.assignments),
        ]
        for kind, items in groups:
            for item in items:
                _check_name(kind, item.name)
                if item.name in seen:
                    raise SpecError(
                        f"name {item.name!r} is used twice (as {seen[item.name]} and {kind})"
                    )
                seen[item.name] = kind
        if not self.states:
            raise SpecError("a model needs at least one state")
        missing = [s for s in self.state_names if s not in self.rates]
        if missing:
            raise SpecError(f"rates: no rate expression for state(s) {missing}")
        extra = [k for k in self.rates if k not in self.state_names]
        if extra:
            raise SpecError(f"rates: expression(s) given for unknown state(s) {extra}")
        for name, k in self.smooth_inputs.items():
            if name not in self.input_names:
                raise SpecError(f"smooth_inputs: {name!r} is not an input of the model")
            if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 256:
                raise SpecError(
                    f"smooth_inputs[{name}]: the number of features must be an integer in "
                    f"1..256, got {k!r}"
                )
        # parse everything once; raises SpecError naming the field
        _ = self.sympy_rates
        for s in self.states:
            if isinstance(s.initial, str):
                self._parse(s.initial, f"states[{s.name}].initial", allow=set(self.parameter_names))

    # ------------------------------------------------------------------ sympy
    @cached_property
    def symbols(self) -> dict[str, sp.Symbol]:
        """SymPy symbol for every name (and ``t`` for time)."""
        names = self.state_names + self.parameter_names + self.input_names + self.assignment_names
        syms = {n: sp.Symbol(n, real=True) for n in names}
        syms["t"] = sp.Symbol("t", real=True)
        return syms

    def _parse(self, text: str, where: str, allow: set[str] | None = None) -> sp.Expr:
        local: dict[str, Any] = dict(ALLOWED_FUNCTIONS)
        local.update(self.symbols)
        try:
            expr = sp.sympify(text, locals=local, rational=False, evaluate=True)
        except (sp.SympifyError, SyntaxError, TypeError, AttributeError) as exc:
            raise SpecError(f"{where}: cannot parse expression {text!r}: {exc}") from None
        if not isinstance(expr, sp.Expr):
            raise SpecError(f"{where}: {text!r} is not an arithmetic expression")
        allowed = set(self.symbols) if allow is None else allow
        unknown = sorted(str(s) for s in expr.free_symbols if str(s) not in allowed)
        if unknown:
            raise SpecError(f"{where}: unknown name(s) {unknown} in {text!r}")
        for f in expr.atoms(sp.Function):
            allowed_types = tuple(v for v in ALLOWED_FUNCTIONS.values() if isinstance(v, type))
            if type(f).__name__ not in ALLOWED_FUNCTIONS and not isinstance(f, allowed_types):
                raise SpecError(f"{where}: function {type(f).__name__!r} is not allowed")
        return expr

    @cached_property
    def sympy_assignments(self) -> dict[str, sp.Expr]:
        """Assignment expressions as written (may refer to earlier assignments)."""
        out: dict[str, sp.Expr] = {}
        base = set(self.state_names + self.parameter_names + self.input_names) | {"t"}
        for a in self.assignments:
            out[a.name] = self._parse(a.expr, f"assignments[{a.name}]", allow=base | set(out))
        return out

    @cached_property
    def sympy_rates(self) -> dict[str, sp.Expr]:
        """Rate expressions as written (may refer to assignments)."""
        _ = self.sympy_assignments
        return {s: self._parse(self.rates[s], f"rates[{s}]") for s in self.state_names}

    @cached_property
    def expanded_assignments(self) -> dict[str, sp.Expr]:
        """Assignments with earlier assignments substituted (in base symbols only)."""
        out: dict[str, sp.Expr] = {}
        for name, expr in self.sympy_assignments.items():
            out[name] = expr.xreplace({self.symbols[k]: v for k, v in out.items()})
        return out

    @cached_property
    def expanded_rates(self) -> dict[str, sp.Expr]:
        """Rates in states, parameters, inputs and ``t`` only (assignments substituted)."""
        sub = {self.symbols[k]: v for k, v in self.expanded_assignments.items()}
        return {s: e.xreplace(sub) for s, e in self.sympy_rates.items()}

    def initial_values(self, params: Mapping[str, float] | None = None) -> list[float]:
        """Initial state values for given parameter values (default: nominal)."""
        pv = self.parameter_values()
        if params:
            pv.update(params)
        out = []
        for s in self.states:
            if isinstance(s.initial, str):
                expr = self._parse(s.initial, f"states[{s.name}].initial")
                out.append(float(expr.subs({self.symbols[k]: v for k, v in pv.items()})))
            else:
                out.append(float(s.initial))
        return out

    # ------------------------------------------------------------------ docs
    def latex(self) -> dict[str, str]:
        """LaTeX for each assignment (``name = ...``) and rate (``d name/dt = ...``)."""
        names = {sym: sp.Symbol(_latex_name(n)) for n, sym in self.symbols.items()}
        out: dict[str, str] = {}
        for n, e in self.sympy_assignments.items():
            out[n] = f"{_latex_name(n)} = {sp.latex(e.xreplace(names))}"
        for n, e in self.sympy_rates.items():
            out[n] = rf"\frac{{d\,{_latex_name(n)}}}{{dt}} = {sp.latex(e.xreplace(names))}"
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (JSON-serialisable)."""
        return {
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "time_unit": self.time_unit,
            "states": [asdict(s) for s in self.states],
            "parameters": [asdict(p) for p in self.parameters],
            "inputs": [asdict(u) for u in self.inputs],
            "assignments": [asdict(a) for a in self.assignments],
            "rates": dict(self.rates),
            "metadata": dict(self.metadata),
            "smooth_inputs": dict(self.smooth_inputs),
        }

    def structure_hash(self) -> str:
        """Hash of everything that changes generated code (not parameter values).

        Computed once per spec (specs are immutable) and kept on the instance.
        """
        cached = self.__dict__.get("_structure_hash")
        if cached is not None:
            return str(cached)
        struct = {
            "states": [(s.name, s.nonnegative) for s in self.states],
            "parameters": [p.name for p in self.parameters],
            "inputs": [u.name for u in self.inputs],
            "assignments": [(a.name, a.expr) for a in self.assignments],
            "rates": dict(self.rates),
            "smooth_inputs": sorted(self.smooth_inputs.items()),
        }
        digest = hashlib.sha256(json.dumps(struct, sort_keys=True).encode()).hexdigest()[:16]
        object.__setattr__(self, "_structure_hash", digest)
        return digest

    # ------------------------------------------------------------ smooth inputs
    @property
    def n_features(self) -> int:
        """Length of the per-patient feature vector of the smooth inputs (3 per feature)."""
        return 3 * sum(self.smooth_inputs.values())

    def feature_layout(self) -> list[tuple[str, int, int]]:
        """``(input, first column, features K)`` of each smooth input in the feature vector.

        A smooth input adds ``sum_k a_k cos(omega_k t + phi_k)`` to the input's
        piecewise-constant value; feature ``k`` occupies columns ``first + 3k`` (amplitude
        ``a_k``, input unit), ``+1`` (angular frequency ``omega_k``, rad per time unit) and
        ``+2`` (phase ``phi_k``, rad).
        """
        out, col = [], 0
        for name in self.input_names:
            k = self.smooth_inputs.get(name)
            if k:
                out.append((name, col, int(k)))
                col += 3 * int(k)
        return out

    def with_smooth_inputs(self, smooth: Mapping[str, int]) -> ModelSpec:
        """Copy of the spec whose smooth inputs are ``smooth`` (``{}``: piecewise only)."""
        return replace(self, smooth_inputs=dict(smooth))

    def with_parameters(self, **values: float) -> ModelSpec:
        """Copy of the spec with new nominal parameter values."""
        unknown = [k for k in values if k not in self.parameter_names]
        if unknown:
            raise SpecError(f"with_parameters: unknown parameter(s) {unknown}")
        params = [
            Parameter(**{**asdict(p), "value": float(values[p.name])}) if p.name in values else p
            for p in self.parameters
        ]
        return replace(self, parameters=params)


def _latex_name(name: str) -> str:
    """Render ``C_acnes`` as ``C_{\\mathrm{acnes}}`` and long names upright."""
    if "_" in name:
        head, _, tail = name.partition("_")
        head_tex = head if len(head) == 1 else rf"\mathrm{{{head}}}"
        tail_tex = tail.replace("_", r"\_")
        return rf"{head_tex}_{{\mathrm{{{tail_tex}}}}}"
    return name if len(name) == 1 else rf"\mathrm{{{name}}}"
