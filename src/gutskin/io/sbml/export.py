"""SBML Level 3 Version 2 export generated from a :class:`~gutskin.engine.spec.ModelSpec`.

The exported document is a faithful, tool-neutral copy of the model for one
virtual patient (parameter values, initial state and input schedule), meant
for libRoadRunner, COPASI, tellurium and model repositories.

Mapping
-------
* **states** → non-constant ``<parameter>`` s, each with a ``<rateRule>``
  (the spec's rate expression).  Parameters with rate rules rather than
  species keep every quantity in the spec's own units (many states are not
  amounts in a compartment: log10 densities, scores, fractions) and give the
  same ODE in every simulator with no compartment/amount conversions.
  Initial values are numbers, or ``<initialAssignment>`` s when the spec's
  initial value is an expression in parameters and no ``y0`` is given.
* **assignments** → non-constant parameters with ``<assignmentRule>`` s, in
  the spec's order.
* **parameters** → constant parameters (``sboTerm`` SBO:0000002).
* **inputs** → non-constant parameters.  A per-patient piecewise-constant
  schedule becomes one ``<event>`` per breakpoint at which some input
  changes (trigger ``time >= t_k``, persistent, ``initialValue=true``),
  setting the inputs to their new levels (``input_mode="events"``, the
  default): simulators then stop and restart the integrator exactly at each
  breakpoint, as gutskin's own engine does.  ``input_mode="piecewise"``
  writes one ``piecewise(v0, time < t1, v1, ...)`` assignment rule per input
  instead (more compact, but a solver without discontinuity handling may
  step across a short pulse).  Without a schedule an input sits at its
  default.
* **units** → ``<unitDefinition>`` s built by :func:`gutskin.io.units.parse_unit`;
  ``timeUnits`` is the spec's time unit (day).  Counts (CFU, count, cells)
  map to ``item``; ``log10 X`` and unknown words to ``dimensionless``.  The
  spec's original unit string is kept in each element's annotation.
* **documentation**: each description goes into ``<notes>`` (XHTML) and
  provenance into an ``<annotation>`` element in the
  :data:`GUTSKIN_NS` namespace, e.g.
  ``<gutskin:parameter unit="1/day" source="..." confidence="M" lower=".." upper=".." cv=".."/>``.

Expressions are converted from SymPy straight into libSBML ASTs (no infix
string round trip); time ``t`` becomes the MathML ``time`` csymbol and
``Max``/``Min`` the ``max``/``min`` elements that SBML L3V2 allows.  Note
that libSBML writes every floating-point number (parameter values and
constants) with 15 significant digits, a relative rounding of at most
5e-16 -- far below any solver tolerance.

What SBML cannot carry: the engine's projection of ``nonnegative`` states
onto ``>= 0`` after each step (recorded as ``nonnegative="true"`` in the
state's annotation; it only matters for trajectories that would cross zero).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import libsbml
import numpy as np
from numpy.typing import ArrayLike, NDArray

from gutskin.io.sbml.errors import SBMLExportError, _ok
from gutskin.io.sbml.mathml import _node, _number, _time_node, sympy_to_ast
from gutskin.io.sbml.units import _Units

if TYPE_CHECKING:
    from gutskin.engine.schedule import Schedule
    from gutskin.engine.spec import ModelSpec

__all__ = [
    "GUTSKIN_NS",
    "check_sbml",
    "to_sbml",
    "write_sbml",
]

#: XML namespace of gutskin's provenance annotations.
GUTSKIN_NS = "https://gutskin.invalid/sbml/annotation/1"
_PREFIX = "gutskin"
_XHTML = "http://www.w3.org/1999/xhtml"

SBO_PARAMETER = 2  # quantitative systems description parameter
SBO_CONTINUOUS = 62  # continuous framework (model)

InputMode = Literal["events", "piecewise"]


# ------------------------------------------------------------ documentation
def _set_notes(el: libsbml.SBase, *paragraphs: str) -> None:
    paras = [p for p in paragraphs if p]
    if not paras:
        return
    body = "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paras)
    _ok(el.setNotes(f'<body xmlns="{_XHTML}">{body}</body>'), f"notes of {el.getId()!r}")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _set_annotation(el: libsbml.SBase, tag: str, attrs: Mapping[str, Any]) -> None:
    parts = [
        f'{k}="{html.escape(_fmt(v), quote=True)}"'
        for k, v in attrs.items()
        if v is not None and v != ""
    ]
    xml = (
        f'<annotation><{_PREFIX}:{tag} xmlns:{_PREFIX}="{GUTSKIN_NS}" '
        + " ".join(parts)
        + "/></annotation>"
    )
    _ok(el.setAnnotation(xml), f"annotation of {el.getId()!r}")


def _sid(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")
    return s if s and s[0].isalpha() else f"m_{s}"


# ------------------------------------------------------------------ schedule
def _schedule_arrays(
    spec: ModelSpec,
    schedule_times: ArrayLike | None,
    schedule_values: ArrayLike | None,
    schedule: Schedule | None,
    patient: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    if schedule is not None:
        if schedule_times is not None or schedule_values is not None:
            raise SBMLExportError("give either schedule or schedule_times/values, not both")
        schedule_times, schedule_values = schedule.times, schedule.values[patient]
    if schedule_times is None and schedule_values is None:
        return None
    if schedule_times is None or schedule_values is None:
        raise SBMLExportError("schedule_times and schedule_values must be given together")
    times = np.asarray(schedule_times, dtype=np.float64)
    values = np.asarray(schedule_values, dtype=np.float64)
    if values.ndim == 3:
        if values.shape[0] != 1:
            raise SBMLExportError(
                f"schedule_values holds {values.shape[0]} patients; pass one (K, n_inputs)"
            )
        values = values[0]
    n_i = len(spec.inputs)
    if times.ndim != 1 or values.ndim != 2 or values.shape != (times.size - 1, n_i):
        raise SBMLExportError(
            f"schedule: times {times.shape} and values {values.shape} do not match "
            f"(expected (K+1,) and (K, {n_i}))"
        )
    if times.size < 2 or not np.all(np.diff(times) > 0) or not np.all(np.isfinite(times[:-1])):
        raise SBMLExportError("schedule_times must be strictly increasing and finite but the last")
    if not np.all(np.isfinite(values)):
        raise SBMLExportError("schedule_values must be finite")
    return times, values


# --------------------------------------------------------------------- export
def to_sbml(
    spec: ModelSpec,
    *,
    params: Mapping[str, float] | None = None,
    y0: Sequence[float] | None = None,
    schedule_times: ArrayLike | None = None,
    schedule_values: ArrayLike | None = None,
    schedule: Schedule | None = None,
    patient: int = 0,
    input_mode: InputMode = "events",
) -> str:
    """Export a model spec (one patient's parameters, initial state and inputs) as SBML L3V2.

    Parameters
    ----------
    spec : ModelSpec
        The model.
    params : mapping, optional
        Parameter values overriding the spec's nominal values (the nominal
        value stays in the annotation).
    y0 : sequence of float, optional
        Initial states in ``spec.state_names`` order (default: the spec's
        initial values; expressions become initial assignments).
    schedule_times, schedule_values : array, optional
        One patient's input schedule: breakpoints (K+1,) ending in ``inf``
        and levels (K, n_inputs) (or (1, K, n_inputs)) on
        ``[times[k], times[k+1])``, as in :class:`~gutskin.engine.schedule.Schedule`.
        Inputs start at ``values[0]``; the document is meant to be simulated
        from ``times[0]``.
    schedule : Schedule, optional
        Alternative to the two arrays: a batch schedule, of which row
        ``patient`` is exported.
    patient : int
        Row of ``schedule`` to export.
    input_mode : {"events", "piecewise"}
        How scheduled inputs change over time: one event per breakpoint
        (default) or a ``piecewise`` assignment rule in ``time`` per input.

    Returns
    -------
    str
        The SBML document.

    Raises
    ------
    SBMLExportError
        On unknown parameter names, wrong ``y0`` length, malformed schedules
        or expressions SBML cannot express.
    """
    if input_mode not in ("events", "piecewise"):
        raise SBMLExportError(f"input_mode must be 'events' or 'piecewise', got {input_mode!r}")
    pvals = spec.parameter_values()
    if params:
        unknown = sorted(set(params) - set(pvals))
        if unknown:
            raise SBMLExportError(f"params: unknown parameter(s) {unknown}")
        pvals.update({k: float(v) for k, v in params.items()})
    if y0 is not None:
        y0_list = [float(v) for v in y0]
        if len(y0_list) != len(spec.states):
            raise SBMLExportError(
                f"y0 has {len(y0_list)} values; the model has {len(spec.states)} states"
            )
    sched = _schedule_arrays(spec, schedule_times, schedule_values, schedule, patient)

    doc = libsbml.SBMLDocument(3, 2)
    model = doc.createModel()
    model.setId(_sid(spec.name))
    model.setName(spec.name)
    model.setSBOTerm(SBO_CONTINUOUS)
    _set_notes(
        model,
        spec.description,
        f"Exported by gutskin from model spec {spec.name!r} version {spec.version}.",
    )
    _set_annotation(
        model,
        "model",
        {
            "name": spec.name,
            "version": spec.version,
            "structure_hash": spec.structure_hash(),
            "time_unit": spec.time_unit,
            "input_mode": input_mode if sched is not None else None,
        },
    )
    units = _Units(model)
    model.setTimeUnits(units.ref(spec.time_unit))
    ts = "t"

    def unit_attrs(text: str) -> dict[str, Any]:
        return {"unit": text, "unit_caveat": units.caveat(text)}

    # parameters
    for p in spec.parameters:
        el = model.createParameter()
        el.setId(p.name)
        el.setConstant(True)
        el.setValue(float(pvals[p.name]))
        el.setUnits(units.ref(p.unit))
        el.setSBOTerm(SBO_PARAMETER)
        _set_notes(el, p.description, p.note)
        _set_annotation(
            el,
            "parameter",
            {
                **unit_attrs(p.unit),
                "nominal": float(p.value),
                "lower": p.lower,
                "upper": p.upper,
                "cv": float(p.cv),
                "source": p.source,
                "confidence": p.confidence,
            },
        )

    # states
    for i, s in enumerate(spec.states):
        el = model.createParameter()
        el.setId(s.name)
        el.setConstant(False)
        el.setUnits(units.ref(s.unit))
        _set_notes(el, s.description)
        initial_expr = None
        if y0 is not None:
            el.setValue(y0_list[i])
        elif isinstance(s.initial, str):
            initial_expr = s.initial
            ia = model.createInitialAssignment()
            ia.setSymbol(s.name)
            math_ = sympy_to_ast(spec._parse(s.initial, f"states[{s.name}].initial"), ts)
            _ok(ia.setMath(math_), f"initial assignment of {s.name!r}")
            el.setValue(float(spec.initial_values(pvals)[i]))
        else:
            el.setValue(float(s.initial))
        _set_annotation(
            el,
            "state",
            {
                **unit_attrs(s.unit),
                "nonnegative": "true" if s.nonnegative else "false",
                "initial": initial_expr,
            },
        )

    # inputs
    input_units = [units.ref(u.unit) for u in spec.inputs]
    for j, u in enumerate(spec.inputs):
        el = model.createParameter()
        el.setId(u.name)
        el.setConstant(False)
        el.setUnits(input_units[j])
        el.setSBOTerm(SBO_PARAMETER)
        el.setValue(float(sched[1][0, j]) if sched is not None else float(u.default))
        _set_notes(el, u.description)
        _set_annotation(el, "input", {**unit_attrs(u.unit), "default": float(u.default)})

    # assignments
    for a in spec.assignments:
        el = model.createParameter()
        el.setId(a.name)
        el.setConstant(False)
        el.setUnits(units.ref(a.unit))
        _set_notes(el, a.description)
        _set_annotation(el, "assignment", {**unit_attrs(a.unit), "expr": a.expr})
    for name, expr in spec.sympy_assignments.items():
        rule = model.createAssignmentRule()
        rule.setVariable(name)
        _ok(rule.setMath(sympy_to_ast(expr, ts)), f"assignment rule of {name!r}")

    # rates
    for name, expr in spec.sympy_rates.items():
        rule = model.createRateRule()
        rule.setVariable(name)
        _ok(rule.setMath(sympy_to_ast(expr, ts)), f"rate rule of {name!r}")

    if sched is not None:
        _add_schedule(model, spec, sched[0], sched[1], input_units, input_mode)

    return str(libsbml.writeSBMLToString(doc))


def _add_schedule(
    model: libsbml.Model,
    spec: ModelSpec,
    times: NDArray[np.float64],
    values: NDArray[np.float64],
    input_units: list[str],
    mode: InputMode,
) -> None:
    names = spec.input_names
    if mode == "piecewise":
        for j, name in enumerate(names):
            col = values[:, j]
            change = [k for k in range(1, col.size) if col[k] != col[k - 1]]
            if not change:
                continue
            pw = libsbml.ASTNode(libsbml.AST_FUNCTION_PIECEWISE)
            prev = 0
            for k in change:
                pw.addChild(_number(float(col[prev]), input_units[j]))
                cond = _node(
                    libsbml.AST_RELATIONAL_LT,
                    _time_node(),
                    _number(float(times[k]), model.getTimeUnits()),
                )
                pw.addChild(cond)
                prev = k
            pw.addChild(_number(float(col[prev]), input_units[j]))
            rule = model.createAssignmentRule()
            rule.setVariable(name)
            _ok(rule.setMath(pw), f"schedule rule of {name!r}")
        return
    taken = set(spec.symbols)
    for k in range(1, values.shape[0]):
        changed = [j for j in range(len(names)) if values[k, j] != values[k - 1, j]]
        if not changed:
            continue
        eid = f"schedule_t{k}"
        while eid in taken:
            eid = "_" + eid
        ev = model.createEvent()
        ev.setId(eid)
        ev.setName(f"inputs change at time {float(times[k])!r}")
        ev.setUseValuesFromTriggerTime(True)
        trig = ev.createTrigger()
        trig.setInitialValue(True)
        trig.setPersistent(True)
        _ok(
            trig.setMath(
                _node(
                    libsbml.AST_RELATIONAL_GEQ,
                    _time_node(),
                    _number(float(times[k]), model.getTimeUnits()),
                )
            ),
            f"trigger of {eid}",
        )
        for j in changed:
            ea = ev.createEventAssignment()
            ea.setVariable(names[j])
            _ok(ea.setMath(_number(float(values[k, j]), input_units[j])), f"{eid} assignment")


def write_sbml(spec: ModelSpec, path: str | Path, **kwargs: Any) -> Path:
    """Write :func:`to_sbml` output to ``path``.

    Parameters
    ----------
    spec : ModelSpec
        The model.
    path : str or Path
        Destination file (``.xml`` or ``.sbml``); parent folders are created.
    **kwargs
        Passed to :func:`to_sbml` (``params``, ``y0``, ``schedule_times``,
        ``schedule_values``, ``schedule``, ``patient``, ``input_mode``).

    Returns
    -------
    Path
        The written file.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(to_sbml(spec, **kwargs), encoding="utf-8")
    return out


def check_sbml(sbml: str, *, units: bool = True) -> tuple[list[str], list[str]]:
    """Run libSBML's consistency checks on a document.

    Parameters
    ----------
    sbml : str
        SBML document text.
    units : bool
        Include the unit-consistency checks.

    Returns
    -------
    errors, warnings : list of str
        Messages of severity error/fatal and of lower severity, each as
        ``"[id] short message: detail"``.
    """
    doc = libsbml.readSBMLFromString(sbml)
    doc.setConsistencyChecks(libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, units)
    doc.checkConsistency()
    errors: list[str] = []
    warnings: list[str] = []
    for i in range(doc.getNumErrors()):
        err = doc.getError(i)
        msg = f"[{err.getErrorId()}] {err.getShortMessage()}: {' '.join(err.getMessage().split())}"
        if err.getSeverity() >= libsbml.LIBSBML_SEV_ERROR:
            errors.append(msg)
        else:
            warnings.append(msg)
    return errors, warnings
