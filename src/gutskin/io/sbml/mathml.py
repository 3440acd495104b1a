"""SymPy expressions → libSBML abstract syntax trees (SBML L3V2 MathML).

Expressions are converted from SymPy straight into libSBML ASTs (no infix string round
trip); time ``t`` becomes the MathML ``time`` csymbol and ``Max``/``Min`` the
``max``/``min`` elements that SBML L3V2 allows.
"""

from __future__ import annotations

import math

import libsbml
import sympy as sp

from gutskin.io.sbml.errors import SBMLExportError

__all__ = ["sympy_to_ast"]


def _node(kind: int, *children: libsbml.ASTNode) -> libsbml.ASTNode:
    n = libsbml.ASTNode(kind)
    for c in children:
        n.addChild(c)
    return n


def _number(value: float | int, units: str | None = None) -> libsbml.ASTNode:
    if isinstance(value, int) and abs(value) < 2**31:
        n = libsbml.ASTNode(libsbml.AST_INTEGER)
        n.setValue(int(value))
    else:
        n = libsbml.ASTNode(libsbml.AST_REAL)
        n.setValue(float(value))
    if units is not None:
        n.setUnits(units)
    return n


def _name(name: str) -> libsbml.ASTNode:
    n = libsbml.ASTNode(libsbml.AST_NAME)
    n.setName(name)
    return n


_FUNCS: dict[type[sp.Basic], int] = {
    sp.exp: libsbml.AST_FUNCTION_EXP,
    sp.tanh: libsbml.AST_FUNCTION_TANH,
    sp.Abs: libsbml.AST_FUNCTION_ABS,
    sp.sinh: libsbml.AST_FUNCTION_SINH,
    sp.cosh: libsbml.AST_FUNCTION_COSH,
    sp.sin: libsbml.AST_FUNCTION_SIN,
    sp.cos: libsbml.AST_FUNCTION_COS,
    sp.tan: libsbml.AST_FUNCTION_TAN,
    sp.floor: libsbml.AST_FUNCTION_FLOOR,
    sp.ceiling: libsbml.AST_FUNCTION_CEILING,
}
_NARY: dict[type[sp.Basic], int] = {
    sp.Max: libsbml.AST_FUNCTION_MAX,
    sp.Min: libsbml.AST_FUNCTION_MIN,
}
_RELATIONS: dict[type[sp.Basic], int] = {
    sp.StrictLessThan: libsbml.AST_RELATIONAL_LT,
    sp.LessThan: libsbml.AST_RELATIONAL_LEQ,
    sp.StrictGreaterThan: libsbml.AST_RELATIONAL_GT,
    sp.GreaterThan: libsbml.AST_RELATIONAL_GEQ,
    sp.Eq: libsbml.AST_RELATIONAL_EQ,
    sp.Ne: libsbml.AST_RELATIONAL_NEQ,
}


def sympy_to_ast(expr: sp.Basic, time_symbol: str = "t") -> libsbml.ASTNode:
    """Convert a SymPy expression into a libSBML abstract syntax tree.

    Parameters
    ----------
    expr : sympy.Basic
        Expression built from symbols, numbers, ``+ - * / **``, ``exp``,
        ``log``, ``sqrt``, ``tanh``, ``Abs``, ``Max``, ``Min`` (and
        ``Piecewise`` with relational conditions).
    time_symbol : str
        Name of the symbol that means model time; it becomes the ``time``
        csymbol.

    Returns
    -------
    libsbml.ASTNode

    Raises
    ------
    SBMLExportError
        For a construct SBML has no counterpart for.
    """
    return _to_ast(sp.sympify(expr), time_symbol)


def _to_ast(e: sp.Basic, ts: str) -> libsbml.ASTNode:
    if isinstance(e, sp.Symbol):
        if e.name == ts:
            n = libsbml.ASTNode(libsbml.AST_NAME_TIME)
            n.setName("time")
            return n
        return _name(e.name)
    if e is sp.pi:
        return _node(libsbml.AST_CONSTANT_PI)
    if e is sp.E:
        return _node(libsbml.AST_CONSTANT_E)
    if e is sp.true:
        return _node(libsbml.AST_CONSTANT_TRUE)
    if e is sp.false:
        return _node(libsbml.AST_CONSTANT_FALSE)
    if e.is_Number:
        if e is sp.nan:
            return _number(math.nan)
        if e in (sp.oo, -sp.oo):
            return _number(math.inf if e is sp.oo else -math.inf)
        if e.is_Integer:
            return _number(int(e))
        if e.is_Rational:
            p, q = int(e.p), int(e.q)
            if p < 0:
                return _node(libsbml.AST_MINUS, _to_ast(sp.Rational(-p, q), ts))
            return _node(libsbml.AST_DIVIDE, _number(p), _number(q))
        value = float(e)
        if value < 0:
            return _node(libsbml.AST_MINUS, _number(-value))
        return _number(value)
    if isinstance(e, sp.Add):
        return _add(e, ts)
    if isinstance(e, sp.Mul):
        return _mul(e, ts)
    if isinstance(e, sp.Pow):
        return _pow(e, ts)
    if isinstance(e, sp.log):
        if len(e.args) != 1:
            return _node(
                libsbml.AST_DIVIDE, _to_ast(sp.log(e.args[0]), ts), _to_ast(sp.log(e.args[1]), ts)
            )
        return _node(libsbml.AST_FUNCTION_LN, _to_ast(e.args[0], ts))
    for cls, kind in _NARY.items():
        if isinstance(e, cls):
            return _node(kind, *(_to_ast(a, ts) for a in e.args))
    for cls, kind in _FUNCS.items():
        if isinstance(e, cls):
            return _node(kind, _to_ast(e.args[0], ts))
    for cls, kind in _RELATIONS.items():
        if isinstance(e, cls):
            return _node(kind, _to_ast(e.args[0], ts), _to_ast(e.args[1], ts))
    if isinstance(e, sp.And):
        return _node(libsbml.AST_LOGICAL_AND, *(_to_ast(a, ts) for a in e.args))
    if isinstance(e, sp.Or):
        return _node(libsbml.AST_LOGICAL_OR, *(_to_ast(a, ts) for a in e.args))
    if isinstance(e, sp.Not):
        return _node(libsbml.AST_LOGICAL_NOT, _to_ast(e.args[0], ts))
    if isinstance(e, sp.Piecewise):
        n = libsbml.ASTNode(libsbml.AST_FUNCTION_PIECEWISE)
        for value, cond in e.args:
            n.addChild(_to_ast(value, ts))
            if cond is not sp.true:
                n.addChild(_to_ast(cond, ts))
        return n
    raise SBMLExportError(f"cannot express {type(e).__name__} ({e}) in SBML MathML")


def _add(e: sp.Add, ts: str) -> libsbml.ASTNode:
    terms = list(e.args)
    # start with a term that carries no minus sign when there is one
    for i, term in enumerate(terms):
        if not term.could_extract_minus_sign():
            terms.insert(0, terms.pop(i))
            break
    acc = _to_ast(terms[0], ts)
    for term in terms[1:]:
        if term.could_extract_minus_sign():
            acc = _node(libsbml.AST_MINUS, acc, _to_ast(-term, ts))
        else:
            acc = _node(libsbml.AST_PLUS, acc, _to_ast(term, ts))
    return acc


def _product(factors: list[libsbml.ASTNode]) -> libsbml.ASTNode:
    if not factors:
        return _number(1)
    if len(factors) == 1:
        return factors[0]
    return _node(libsbml.AST_TIMES, *factors)


def _mul(e: sp.Mul, ts: str) -> libsbml.ASTNode:
    coeff, rest = e.as_coeff_Mul()
    if coeff.is_negative:
        return _node(libsbml.AST_MINUS, _to_ast(sp.Mul(-coeff, rest), ts))
    num: list[libsbml.ASTNode] = []
    den: list[libsbml.ASTNode] = []
    if coeff.is_Rational and not coeff.is_Integer:
        if coeff.p != 1:
            num.append(_number(int(coeff.p)))
        den.append(_number(int(coeff.q)))
    elif coeff != 1:
        num.append(_to_ast(coeff, ts))
    for f in sp.Mul.make_args(rest):
        if isinstance(f, sp.Pow) and f.exp.is_number and f.exp.is_negative:
            den.append(_to_ast(sp.Pow(f.base, -f.exp), ts))
        else:
            num.append(_to_ast(f, ts))
    top = _product(num)
    return _node(libsbml.AST_DIVIDE, top, _product(den)) if den else top


def _pow(e: sp.Pow, ts: str) -> libsbml.ASTNode:
    base, ex = e.args
    if ex.is_number and ex.is_negative:
        return _node(libsbml.AST_DIVIDE, _number(1), _to_ast(sp.Pow(base, -ex), ts))
    if ex == sp.Rational(1, 2):
        return _node(libsbml.AST_FUNCTION_ROOT, _number(2), _to_ast(base, ts))
    return _node(libsbml.AST_POWER, _to_ast(base, ts), _to_ast(ex, ts))


def _time_node() -> libsbml.ASTNode:
    """The MathML ``time`` csymbol as a libSBML node."""
    n = libsbml.ASTNode(libsbml.AST_NAME_TIME)
    n.setName("time")
    return n
