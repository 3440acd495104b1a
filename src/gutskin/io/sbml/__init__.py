"""SBML Level 3 Version 2 export of a :class:`~gutskin.engine.spec.ModelSpec`.

- :mod:`~gutskin.io.sbml.export` — :func:`to_sbml`, :func:`write_sbml`, :func:`check_sbml`
  and how a spec maps onto SBML (its module docstring).
- :mod:`~gutskin.io.sbml.mathml` — SymPy expressions → libSBML MathML ASTs
  (:func:`sympy_to_ast`).
- :mod:`~gutskin.io.sbml.units` — the spec's unit strings → ``<unitDefinition>`` s.
- :mod:`~gutskin.io.sbml.errors` — :class:`SBMLExportError`.
"""

from gutskin.io.sbml.errors import SBMLExportError
from gutskin.io.sbml.export import GUTSKIN_NS, check_sbml, to_sbml, write_sbml
from gutskin.io.sbml.mathml import sympy_to_ast

__all__ = [
    "GUTSKIN_NS",
    "SBMLExportError",
    "check_sbml",
    "sympy_to_ast",
    "to_sbml",
    "write_sbml",
]
