"""Shared virtual population for the model tests.

One untreated population is sampled and burned in once per session; every test compares
arms on the same patients with the same flare-noise path (common random numbers), so a
difference between arms is caused by the intervention or parameter change alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from gutskin.engine import ModelSpec, SolverOptions, Treatment
from gutskin.model import acne_model, arm_treatment
from gutskin.population import pipeline

SOLVER = SolverOptions(dense=False)

N_PATIENTS = 400
# fixed for reproducibility; override to check robustness: GUTSKIN_TEST_SEED=<int> pytest ...
SEED = int(os.environ.get("GUTSKIN_TEST_SEED", "20240611"))
BURN_IN_DAYS = 365.0


@dataclass
class Run:
    """Observables and states of one arm: ``run["name"]`` is an (N, T) array."""

    t: NDArray[np.float64]
    data: dict[str, NDArray[np.float64]]

    def __getitem__(self, name: str) -> NDArray[np.float64]:
        return self.data[name]

    def at(self, name: str, day: float) -> NDArray[np.float64]:
        """Values of ``name`` on ``day`` (N,)."""
        k = int(np.argmin(np.abs(self.t - day)))
        assert abs(self.t[k] - day) < 1e-9, f"day {day} not in the output grid"
        return self.data[name][:, k]


@dataclass
class VirtualPopulation:
    """Untreated virtual patients at their own baseline (t = 0)."""

    spec: ModelSpec
    params: NDArray[np.float64]
    y0: NDArray[np.float64]
    seed: int

    @property
    def n(self) -> int:
        return int(self.params.shape[0])

    def param(self, name: str) -> NDArray[np.float64]:
        return self.params[:, self.spec.parameter_names.index(name)]

    def baseline(self) -> Run:
        """Observables at t = 0."""
        return self.run(days=0.0)

    def run(
        self,
        regimens: Sequence[Mapping[str, Any]] = (),
        days: float = 84.0,
        *,
        overrides: Mapping[str, float] | None = None,
        scale: Mapping[str, float] | None = None,
        noise: bool = True,
        step: float = 7.0,
        mask: NDArray[np.bool_] | None = None,
    ) -> Run:
        """Simulate an arm from baseline.

        ``overrides`` set parameters to a value, ``scale`` multiplies the patients' own
        values; ``mask`` restricts the run to a subset of patients.
        """
        spec = self.spec
        sel = np.arange(self.n) if mask is None else np.flatnonzero(mask)
        tr = arm_treatment(list(regimens), days)
        params = tr.apply(spec.parameter_names, self.params[sel])
        for name, value in (overrides or {}).items():
            params[:, spec.parameter_names.index(name)] = value
        for name, factor in (scale or {}).items():
            params[:, spec.parameter_names.index(name)] *= factor
        t_eval = np.unique(np.append(np.arange(0.0, days, step), days))
        res = pipeline.treat(
            spec,
            self.y0[sel],
            params,
            sel,
            self.seed,
            t_eval,
            treatment=Treatment(exposures=tr.exposures),  # overrides set above
            solver=SOLVER,
            noise_from=0.0 if noise and days > 0 else None,
        )
        assert res.ok.all(), res.failures()
        data = {n: res.observables[:, :, i] for i, n in enumerate(spec.assignment_names)}
        data.update({n: res.y[:, :, i] for i, n in enumerate(spec.state_names)})
        return Run(t=res.t, data=data)


@pytest.fixture(scope="session")
def spec() -> ModelSpec:
    return acne_model()


@pytest.fixture(scope="session")
def population(spec: ModelSpec) -> VirtualPopulation:
    idx = np.arange(N_PATIENTS)
    params = pipeline.patient_parameters(spec, idx, SEED)
    res, params = pipeline.burn_in(spec, params, idx, SEED, BURN_IN_DAYS, solver=SOLVER)
    assert res.ok.all(), res.failures()
    y0 = np.ascontiguousarray(res.y[:, -1, :])
    return VirtualPopulation(spec=spec, params=params, y0=y0, seed=SEED)


@pytest.fixture(scope="session")
def baseline(population: VirtualPopulation) -> Run:
    return population.baseline()


@pytest.fixture(scope="session")
def groups(baseline: Run) -> dict[str, NDArray[np.bool_]]:
    """Acne / healthy / trial-eligible masks at baseline (expected counts)."""
    inf = baseline.at("inflammatory_lesions", 0)
    non = baseline.at("noninflammatory_lesions", 0)
    nod = baseline.at("nodules", 0)
    return {
        # clinically evident inflammatory acne
        "acne": inf >= 20,
        # few lesions: at most 2 inflammatory and 10 comedones
        "healthy": (inf <= 2) & (non <= 10),
        # sarecycline-style entry window (evidence §4.5)
        "eligible": (inf >= 20) & (inf <= 50) & (non >= 25) & (non <= 100) & (nod <= 2),
        # anyone with some inflammatory acne, for treatment-effect tests
        "with_acne": inf >= 5,
    }
