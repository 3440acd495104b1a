"""gutskin: quantitative modelling of the gut-skin axis in acne.

The public API, importable from here. Each name is loaded on first use (PEP 562), so
``import gutskin`` stays light; the implementation lives in the modules named.

- ``simulate``, ``get_model``: virtual patients of a scenario, a built-in model spec
  (:mod:`gutskin.simulation`); ``get_scenario``, ``load_scenario`` (:mod:`gutskin.scenario`).
- ``ModelSpec``, ``State``, ``Parameter``, ``integrate``: the model as data and the batched
  solver (:mod:`gutskin.engine`).
- ``load_design``, ``Design``, ``run_trial``, ``TrialResult``, ``power_curve``,
  ``build_pool``: in-silico trials, power and the virtual population replicate trials
  draw from (:mod:`gutskin.trial`); ``Scenario`` (:mod:`gutskin.scenario`).
- ``assurance``, ``prior_uncertainty``, ``read_ensemble``: power averaged over parameter
  uncertainty (:mod:`gutskin.trial.assurance`, docs/assurance.md).
- ``SolverOptions``: how the engine integrates (method, tolerances, dense output).
- ``load_targets``, ``fit``: calibration to published targets (:mod:`gutskin.calibrate`).
- ``run_sensitivity``, ``analyse_function``: global sensitivity analysis
  (:mod:`gutskin.sensitivity`). The one-call trial-level analysis is
  ``gutskin.sensitivity.sensitivity``: ``gutskin.sensitivity`` is the subpackage, so the
  function cannot also be exported under that name here.
- ``profile_table``, ``population_from_profile``: microbiome tables to profiles and virtual
  patients (:mod:`gutskin.microbiome`).
- ``to_sbml``, ``write_sbml``: SBML export (:mod:`gutskin.io.sbml`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gutskin._version import __version__

#: Public name -> module that defines it (imported on first access, PEP 562).
_LAZY: dict[str, str] = {
    "simulate": "gutskin.simulation",
    "get_model": "gutskin.simulation",
    "get_scenario": "gutskin.scenario",
    "load_scenario": "gutskin.scenario",
    "ModelSpec": "gutskin.engine",
    "State": "gutskin.engine",
    "Parameter": "gutskin.engine",
    "integrate": "gutskin.engine",
    "load_design": "gutskin.trial.design",
    "run_trial": "gutskin.trial.run",
    "power_curve": "gutskin.trial.power",
    "assurance": "gutskin.trial.assurance",
    "prior_uncertainty": "gutskin.trial.assurance",
    "read_ensemble": "gutskin.trial.assurance",
    "load_targets": "gutskin.calibrate.targets",
    "fit": "gutskin.calibrate.fit",
    "run_sensitivity": "gutskin.sensitivity.driver",
    "analyse_function": "gutskin.sensitivity.driver",
    "profile_table": "gutskin.microbiome.profile",
    "population_from_profile": "gutskin.microbiome.population",
    "to_sbml": "gutskin.io.sbml",
    "write_sbml": "gutskin.io.sbml",
    "SolverOptions": "gutskin.engine",
    "Design": "gutskin.trial.design",
    "Scenario": "gutskin.scenario",
    "TrialResult": "gutskin.trial.result",
    "build_pool": "gutskin.trial.pool",
}

__all__ = [
    "Design",
    "ModelSpec",
    "Parameter",
    "Scenario",
    "SolverOptions",
    "State",
    "TrialResult",
    "__version__",
    "analyse_function",
    "assurance",
    "build_pool",
    "fit",
    "get_model",
    "get_scenario",
    "integrate",
    "load_design",
    "load_scenario",
    "load_targets",
    "population_from_profile",
    "power_curve",
    "prior_uncertainty",
    "profile_table",
    "read_ensemble",
    "run_sensitivity",
    "run_trial",
    "simulate",
    "to_sbml",
    "write_sbml",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from gutskin.calibrate.fit import fit
    from gutskin.calibrate.targets import load_targets
    from gutskin.engine import ModelSpec, Parameter, SolverOptions, State, integrate
    from gutskin.io.sbml import to_sbml, write_sbml
    from gutskin.microbiome.population import population_from_profile
    from gutskin.microbiome.profile import profile_table
    from gutskin.scenario import Scenario, get_scenario, load_scenario
    from gutskin.sensitivity.driver import analyse_function, run_sensitivity
    from gutskin.simulation import get_model, simulate
    from gutskin.trial.assurance import assurance, prior_uncertainty, read_ensemble
    from gutskin.trial.design import Design, load_design
    from gutskin.trial.pool import build_pool
    from gutskin.trial.power import power_curve
    from gutskin.trial.result import TrialResult
    from gutskin.trial.run import run_trial


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gutskin' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
