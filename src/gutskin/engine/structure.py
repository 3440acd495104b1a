"""Structural questions about a model spec (exact SymPy zeros, no simulation).

Used by sensitivity analysis (which factors can act on an outcome) and by the PEtab
export (which parameters the exported problem can move).
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from gutskin.engine.spec import ModelSpec

__all__ = ["influential_parameters"]

_INFLUENCE_CACHE: dict[tuple[str, frozenset[str], tuple[str, ...]], frozenset[str]] = {}


def influential_parameters(
    spec: ModelSpec, active_inputs: Sequence[str], outputs: Sequence[str] = ()
) -> frozenset[str]:
    """Parameters that can change the states or ``outputs`` when only ``active_inputs`` vary.

    Inputs not in ``active_inputs`` are set to their defaults; a state whose initial value
    is 0 and whose rate then vanishes at 0 (given the other such states at 0) stays 0 and
    is substituted.  A parameter absent from every remaining rate, from the initial-value
    expressions and from the expressions of ``outputs`` cannot influence them.  The
    analysis is structural (exact arithmetic zeros only) and errs on the side of
    "influential".

    Parameters
    ----------
    spec : ModelSpec
        The model.
    active_inputs : sequence of str
        Inputs that may be non-default (e.g. the arm's doses and the noise).
    outputs : sequence of str
        Observables (assignments) or states whose expressions count too.

    Returns
    -------
    frozenset of str
        Names of possibly influential parameters.
    """
    key = (spec.structure_hash(), frozenset(active_inputs), tuple(outputs))
    if key in _INFLUENCE_CACHE:
        return _INFLUENCE_CACHE[key]
    sym = spec.symbols
    rates = spec.expanded_rates
    sub: dict[sp.Basic, sp.Basic] = {
        sym[u.name]: sp.Float(u.default) for u in spec.inputs if u.name not in active_inputs
    }
    zero: set[str] = set()
    changed = True
    while changed:
        changed = False
        for s in spec.states:
            if s.name in zero or isinstance(s.initial, str) or float(s.initial) != 0.0:
                continue
            rep = dict(sub)
            rep.update({sym[z]: sp.Integer(0) for z in (*zero, s.name)})
            if rates[s.name].xreplace(rep) == 0:
                zero.add(s.name)
                changed = True
    rep = dict(sub)
    rep.update({sym[z]: sp.Integer(0) for z in zero})
    exprs = [rates[s] for s in spec.state_names if s not in zero]
    exprs += [spec.expanded_assignments[o] for o in outputs if o in spec.assignment_names]
    used: set[str] = set()
    for e in exprs:
        r = e.xreplace(rep)
        if r.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            r = e  # degenerate substitution: keep every symbol
        used |= {str(x) for x in r.free_symbols}
    for s in spec.states:
        if isinstance(s.initial, str):
            used |= {str(x) for x in spec._parse(s.initial, s.name).free_symbols}
    out = frozenset(p for p in spec.parameter_names if p in used)
    _INFLUENCE_CACHE[key] = out
    return out
