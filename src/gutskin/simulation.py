"""One entry point to simulate virtual patients of a model under a scenario.

``simulate(scenario, patients=..., days=..., seed=...)`` samples each patient's
parameters from the model's between-patient distributions, builds the input
schedule, integrates with the compiled engine and returns an
:class:`xarray.Dataset` (patient × time) with units in attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import xarray as xr

from gutskin._version import __version__
from gutskin.engine import Exposure, ModelSpec, ScheduleError, Treatment
from gutskin.engine.integrate import BatchResult, Method, Status
from gutskin.engine.options import SolverOptions
from gutskin.population import pipeline
from gutskin.scenario import Scenario, ScenarioError, get_scenario

__all__ = ["MAX_PATIENTS", "MODELS", "get_model", "simulate", "to_dataset"]

#: Upper bound on patients per in-memory `simulate` call (daily output of all
#: states must fit in memory); larger runs go through the streaming runner.
MAX_PATIENTS = 200_000


def _placeholder() -> ModelSpec:
    from gutskin.model.placeholder import placeholder_model

    return placeholder_model()


def _acne() -> ModelSpec:
    from gutskin.model import acne_model

    return acne_model()


#: Models by name (read-only: a variant travels as a ModelSpec object, made with
#: ``spec.with_parameters(...)`` and passed as ``model=`` to simulate, run_trial, ...).
MODELS: Mapping[str, Callable[[], ModelSpec]] = MappingProxyType(
    {"placeholder": _placeholder, "acne": _acne}
)


def get_model(name: str) -> ModelSpec:
    """A registered model spec by name."""
    try:
        factory = MODELS[name]
    except KeyError:
        raise ScenarioError(
            f"unknown model {name!r}; available models: {', '.join(sorted(MODELS))}"
        ) from None
    return factory()


def scenario_treatment(spec: ModelSpec, scenario: Scenario, days: float) -> Treatment:
    """The scenario's exposures and regimens over ``days`` as one :class:`Treatment`.

    Raises
    ------
    ScenarioError
        An exposure or regimen is invalid; the message names the scenario.
    """
    from gutskin.model.interventions import arm_treatment

    exposures = [
        Exposure(
            input=e.input,
            level=e.level,
            start=e.start_day,
            stop=e.stop_day,
            pattern=e.pattern,
            adherence=e.adherence,
        )
        for e in scenario.exposures
    ]
    try:
        tr = arm_treatment(scenario.regimens, days) if scenario.regimens else Treatment()
    except (ScheduleError, ValueError) as exc:
        raise ScenarioError(f"scenario {scenario.name!r}: {exc}") from None
    return Treatment(exposures=(*exposures, *tr.exposures), overrides=tr.overrides)


def simulate(
    scenario: Scenario | str = "placeholder-untreated",
    *,
    patients: int = 100,
    days: float = 84.0,
    seed: int = 0,
    output_every: float = 1.0,
    method: Method = "auto",
    rtol: float = 1e-6,
    atol: float = 1e-8,
    chunk_size: int = 4096,
    progress: Callable[[int], None] | None = None,
    model: ModelSpec | None = None,
    solver: SolverOptions | None = None,
) -> xr.Dataset:
    """Simulate ``patients`` virtual patients under ``scenario`` for ``days``.

    Parameters
    ----------
    scenario : Scenario or str
        A :class:`~gutskin.scenario.Scenario` or the name of a built-in one.
    patients : int
        Number of virtual patients (1 .. ``MAX_PATIENTS``).
    days : float
        Duration in days (> 0).
    seed : int
        Fixes every random number (parameters, adherence draws).
    output_every : float
        Output interval in days.
    method, rtol, atol
        Solver method and tolerances (used when ``solver`` is not given).
    chunk_size
        Patients per engine call (results do not depend on it).
    progress : callable, optional
        Called with the number of finished patients.
    model : ModelSpec, optional
        The model to simulate instead of the scenario's named one (e.g. a variant made
        with :meth:`~gutskin.engine.spec.ModelSpec.with_parameters`).
    solver : SolverOptions, optional
        How the engine integrates; default ``SolverOptions(method=method, rtol=rtol,
        atol=atol)``, dense output on as in every other entry point.

    Returns
    -------
    xarray.Dataset
        Data variables per state and observable (patient × time) with
        ``units`` and ``description`` attributes; ``parameters`` (patient ×
        parameter); ``status`` (patient; solver outcome, never dropped).
    """
    sc = get_scenario(scenario) if isinstance(scenario, str) else scenario
    if not isinstance(patients, int | np.integer) or patients < 1:
        raise ScenarioError(f"patients must be a positive integer, got {patients!r}")
    if patients > MAX_PATIENTS:
        raise ScenarioError(
            f"patients={patients} exceeds the in-memory limit of {MAX_PATIENTS}; "
            "split the run into several seeds or use fewer patients"
        )
    if not np.isfinite(days) or days <= 0:
        raise ScenarioError(f"days must be a positive number, got {days!r}")
    if not output_every > 0:
        raise ScenarioError(f"output_every must be > 0, got {output_every!r}")
    spec = model if model is not None else get_model(sc.model)
    solver = solver or SolverOptions(method=method, rtol=rtol, atol=atol)
    idx = np.arange(patients)
    tr = scenario_treatment(spec, sc, float(days))
    params = tr.apply(spec.parameter_names, pipeline.patient_parameters(spec, idx, seed))
    y0 = pipeline.initial_states(spec, params)
    status = np.zeros(patients, dtype=np.int64)
    if sc.burn_in_days > 0:
        burn, params = pipeline.burn_in(spec, params, idx, seed, sc.burn_in_days, solver=solver)
        y0 = np.where(burn.ok[:, None], burn.y[:, -1, :], y0)
        status = burn.status
    t_eval = np.arange(0.0, days + 1e-9, output_every)
    if t_eval[-1] < days:
        t_eval = np.append(t_eval, days)
    try:
        res = pipeline.treat(
            spec,
            y0,
            params,
            idx,
            seed,
            t_eval,
            treatment=tr,
            solver=solver,
            chunk_size=chunk_size,
            progress=progress,
        )
    except ScheduleError as exc:
        raise ScenarioError(f"scenario {sc.name!r}: {exc}") from None
    res = pipeline.with_burn_in_status(res, status)
    return to_dataset(
        spec,
        res,
        params,
        attrs={
            "gutskin_version": __version__,
            "model": spec.name,
            "model_version": spec.version,
            "scenario": sc.name,
            "seed": seed,
            "method": solver.method,
            "rtol": solver.rtol,
            "atol": solver.atol,
            "dense_output": int(solver.dense),
            "time_unit": spec.time_unit,
        },
    )


def to_dataset(
    spec: ModelSpec, res: BatchResult, params: np.ndarray, attrs: dict[str, Any]
) -> xr.Dataset:
    """Label a :class:`BatchResult` as an xarray Dataset (patient × time)."""
    n = res.y.shape[0]
    coords = {
        "patient": np.arange(n),
        "time": res.t,
        "parameter": np.array(spec.parameter_names, dtype=object),
    }
    data: dict[str, Any] = {}
    for j, s in enumerate(spec.states):
        data[s.name] = (
            ("patient", "time"),
            res.y[:, :, j],
            {"units": s.unit, "description": s.description, "kind": "state"},
        )
    for j, a in enumerate(spec.assignments):
        data[a.name] = (
            ("patient", "time"),
            res.observables[:, :, j],
            {"units": a.unit, "description": a.description, "kind": "observable"},
        )
    data["parameters"] = (("patient", "parameter"), params, {"description": "parameter values"})
    data["status"] = (
        ("patient",),
        res.status,
        {
            "description": "solver status per patient",
            "flag_values": [s.value for s in Status],
            "flag_meanings": " ".join(s.name for s in Status),
        },
    )
    data["n_steps"] = (("patient",), res.n_accepted, {"description": "accepted solver steps"})
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    ds["time"].attrs["units"] = spec.time_unit
    return ds
