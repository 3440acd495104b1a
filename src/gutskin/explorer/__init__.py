"""Web explorer: the model, virtual patients and quick trials in a browser.

``gutskin explore`` serves a small Starlette app (:mod:`gutskin.explorer.app`) on
127.0.0.1; the page (``static/``) calls its JSON API, which only calls the public
gutskin API (:func:`gutskin.simulation.simulate`, :func:`gutskin.trial.run.run_trial`,
...).  See ``docs/explorer.md``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def create_app(**options: Any) -> Any:
    """The explorer ASGI app; see :func:`gutskin.explorer.app.create_app`."""
    from gutskin.explorer.app import create_app as _create_app

    return _create_app(**options)
