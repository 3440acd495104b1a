"""The ``gutskin`` command line: one package, one module per command group.

- :mod:`gutskin.cli.app` — the Typer app, the root options and :func:`main`;
- :mod:`gutskin.cli.support` — :class:`UserError`, the stderr console, :class:`LazyProgress`;
- :mod:`gutskin.cli.simulate` (``simulate``), :mod:`gutskin.cli.trial` (``trial``, ``power``,
  ``designs``), :mod:`gutskin.cli.model` (``params``, ``interventions``, ``strains``),
  :mod:`gutskin.cli.export` (``export sbml``, ``export petab``), :mod:`gutskin.cli.profile`,
  :mod:`gutskin.cli.sensitivity`, :mod:`gutskin.cli.calibrate`, :mod:`gutskin.cli.explore`,
  :mod:`gutskin.cli.run`.

The CLI is a thin face over the public API; nothing else in gutskin imports it.
"""

from __future__ import annotations

from gutskin.cli.app import app, main

__all__ = ["app", "main"]
