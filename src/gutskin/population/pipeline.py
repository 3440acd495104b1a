"""The one patient pipeline: draws → initial values → schedule and noise → burn-in → arm.

Every job that makes virtual patients (simulate, trial, power, sensitivity, calibration,
the streaming runner, microbiome personalisation, PEtab export, the explorer) goes
through these functions, so a patient is made the same way everywhere:

1. :func:`patient_parameters`: the population draw of each patient (or the nominal
   medians), covariate effects, then a :class:`Personalisation` (e.g. a microbiome
   table) where one is given;
2. :func:`initial_states`: the model's initial values for those parameters;
3. :func:`noise_schedule`: the patient's disease-activity noise, one stationary path per
   patient that burn-in and treatment windows read segments of;
4. :func:`burn_in`: untreated from ``-days`` to day 0, the patient's own baseline, then
   the personalisation's baseline changes;
5. :func:`treat`: an arm's :class:`Treatment` (exposures and parameter overrides) from
   the baseline to the requested output times;
6. :func:`output`: a model output (state or observable) of a result.

Solver settings travel as one :class:`~gutskin.engine.options.SolverOptions`; every
random number comes from the named per-patient streams of :mod:`gutskin.engine.random`,
so a patient's trajectory never depends on who else is in the batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gutskin.engine.integrate import BatchResult, Status, integrate
from gutskin.engine.options import SolverOptions
from gutskin.engine.schedule import Schedule, Treatment, build_schedule
from gutskin.engine.spec import ModelSpec
from gutskin.population import sampling
from gutskin.population.covariates import apply_covariates
from gutskin.population.sampling import sample_parameters

__all__ = [
    "Baseline",
    "Personalisation",
    "Treatment",
    "arm_schedule",
    "burn_in",
    "initial_states",
    "noise_schedule",
    "output",
    "patient_parameters",
    "treat",
    "untreated_schedule",
    "with_burn_in_status",
]


@dataclass(frozen=True)
class Baseline:
    """Patients at their own untreated baseline (day 0), ready for :func:`treat`.

    Attributes
    ----------
    indices : ndarray (N,)
        Patient numbers (keys of the per-patient streams).
    params : ndarray (N, P)
        Parameters after covariates and personalisation (``spec.parameter_names``).
    states : ndarray (N, S)
        States at day 0 after the burn-in (``spec.state_names``).
    """

    indices: NDArray[np.int64]
    params: NDArray[np.float64]
    states: NDArray[np.float64]

    def rows(self, patients: ArrayLike) -> Baseline:
        """The baseline of the given patient numbers, in that order (KeyError if absent)."""
        want = np.asarray(patients, dtype=np.int64).reshape(-1)
        pos = {int(i): k for k, i in enumerate(self.indices)}
        try:
            r = np.array([pos[int(i)] for i in want], dtype=np.int64)
        except KeyError as exc:
            raise KeyError(f"patient {exc.args[0]} has no baseline here") from None
        return Baseline(self.indices[r], self.params[r], self.states[r])


class Personalisation(Protocol):
    """What a population source changes in the patients it seeds (structural type).

    :class:`gutskin.microbiome.population.TablePopulation` is one: each patient takes
    the composition of one sample of a microbiome table.
    """

    def personalise_parameters(
        self, spec: ModelSpec, params: NDArray[np.float64], indices: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Parameters of patients ``indices`` with the source's values set (a copy)."""
        ...

    def personalise_baseline(
        self,
        spec: ModelSpec,
        res: BatchResult,
        params: NDArray[np.float64],
        indices: NDArray[np.int64],
    ) -> tuple[BatchResult, NDArray[np.float64]]:
        """The burn-in result and parameters with the source's baseline states set."""
        ...


def _idx(indices: ArrayLike) -> NDArray[np.int64]:
    return np.asarray(indices, dtype=np.int64).reshape(-1)


def patient_parameters(
    spec: ModelSpec,
    indices: ArrayLike,
    seed: int,
    *,
    sex: Sequence[str] | NDArray[np.str_] | None = None,
    population: Personalisation | None = None,
    values: Mapping[str, float] | None = None,
    nominal: bool = False,
) -> NDArray[np.float64]:
    """Parameter vectors of patients ``indices``.

    Parameters
    ----------
    spec : ModelSpec
        The model.
    indices : array of int (N,)
        Patient numbers (keys of the per-patient streams).
    seed : int
        Run seed.
    sex : sequence of {"F", "M"}, optional
        Sex covariate per patient (:func:`~gutskin.population.covariates.apply_covariates`);
        none applied when omitted.
    population : Personalisation, optional
        Source whose per-patient values replace the draws (applied last).
    values : mapping, optional
        Medians replacing the nominal values (their ``cv`` kept).
    nominal : bool
        Every patient at the medians (no between-patient variation).

    Returns
    -------
    ndarray, shape (N, P)
    """
    idx = _idx(indices)
    if nominal:
        med = spec.parameter_values()
        med.update({k: float(v) for k, v in (values or {}).items()})
        row = np.array([med[n] for n in spec.parameter_names], dtype=np.float64)
        params = np.tile(row, (idx.size, 1))
    else:
        params = sample_parameters(spec, idx, seed, values=values)
    if sex is not None:
        params = apply_covariates(spec, params, list(sex))
    if population is not None:
        params = population.personalise_parameters(spec, params, idx)
    return params


def initial_states(spec: ModelSpec, params: NDArray[np.float64]) -> NDArray[np.float64]:
    """The model's initial values for each parameter row (N, S)."""
    if all(not isinstance(s.initial, str) for s in spec.states):
        return np.tile(np.asarray(spec.initial_values(), dtype=np.float64), (params.shape[0], 1))
    names = spec.parameter_names
    return np.array([spec.initial_values(dict(zip(names, r, strict=True))) for r in params])


def noise_schedule(
    spec: ModelSpec,
    params: NDArray[np.float64],
    indices: ArrayLike,
    seed: int,
    t0: float,
    t1: float,
) -> Schedule | None:
    """Each patient's disease-activity noise on ``[t0, t1)`` (None if the model has none).

    See :func:`~gutskin.population.sampling.noise_schedule`: windows of one patient
    are pieces of one path, so burn-in and treatment continue each other.
    """
    return sampling.noise_schedule(spec, params, _idx(indices), seed, t0, t1)


def untreated_schedule(spec: ModelSpec, n: int, t0: float, noise: Schedule | None) -> Schedule:
    """Every input at its default from ``t0``, plus ``noise`` where given."""
    sched = build_schedule(spec.input_names, [u.default for u in spec.inputs], [], n, t0)
    return sched if noise is None else sched + noise


def burn_in(
    spec: ModelSpec,
    params: NDArray[np.float64],
    indices: ArrayLike,
    seed: int,
    days: float,
    *,
    solver: SolverOptions | None = None,
    noise: bool = True,
    y0: NDArray[np.float64] | None = None,
    population: Personalisation | None = None,
    schedule: Schedule | None = None,
    **engine: Any,
) -> tuple[BatchResult, NDArray[np.float64]]:
    """Untreated patients from ``t = -days`` to their own baseline at ``t = 0``.

    Parameters
    ----------
    spec : ModelSpec
        The model.
    params : ndarray (N, P)
        Patient parameters (from :func:`patient_parameters`).
    indices : array of int (N,)
        Patient numbers.
    seed : int
        Run seed (noise streams).
    days : float
        Burn-in length (> 0 days).
    solver : SolverOptions, optional
        Engine settings (default ``SolverOptions()``).
    noise : bool
        Include disease-activity noise (the patient's own path up to day 0).
    y0 : ndarray (N, S), optional
        Start states (default :func:`initial_states`).
    population : Personalisation, optional
        Source that sets its baseline states after the burn-in.
    schedule : Schedule, optional
        The untreated schedule, when the caller has built it (e.g. to decide who
        presents from the same noise).
    **engine
        Further keyword arguments of :func:`gutskin.engine.integrate` (``n_threads``,
        ``observables``, ``chunk_size``).

    Returns
    -------
    (BatchResult, params)
        Output times ``[-days, 0]`` (the baseline is ``res.y[:, -1, :]``; a failed
        patient's status says so and its row is NaN), and the parameters after the
        personalisation's baseline changes.
    """
    idx = _idx(indices)
    if schedule is None:
        nz = noise_schedule(spec, params, idx, seed, -days, 0.0) if noise else None
        schedule = untreated_schedule(spec, idx.size, -days, nz)
    start = initial_states(spec, params) if y0 is None else y0
    kw = {**(solver or SolverOptions()).kwargs(), **engine}
    res = integrate(spec, start, params, np.array([-float(days), 0.0]), schedule, **kw)
    if population is not None:
        res, params = population.personalise_baseline(spec, res, params, idx)
    return res, params


def treat(
    spec: ModelSpec,
    y0: NDArray[np.float64],
    params: NDArray[np.float64],
    indices: ArrayLike,
    seed: int,
    t_eval: ArrayLike,
    *,
    treatment: Treatment | None = None,
    solver: SolverOptions | None = None,
    adherence: NDArray[np.float64] | None = None,
    noise_from: float | None = 0.0,
    **engine: Any,
) -> BatchResult:
    """Patients from their baseline ``y0`` at ``t_eval[0]`` under ``treatment``.

    Parameters
    ----------
    spec : ModelSpec
        The model.
    y0 : ndarray (N, S)
        States at ``t_eval[0]`` (the baselines of :func:`burn_in`).
    params : ndarray (N, P)
        Patient parameters (the treatment's overrides are applied here).
    indices : array of int (N,)
        Patient numbers.
    seed : int
        Run seed (adherence and noise streams).
    t_eval : array (T,)
        Output times (days).
    treatment : Treatment, optional
        The arm (default: untreated).
    solver : SolverOptions, optional
        Engine settings (default ``SolverOptions()``).
    adherence : ndarray (N,), optional
        Per-patient fraction of daily doses taken (replaces each exposure's own).
    noise_from : float or None
        Start of the noise window read (the trial reads its path from the start of the
        burn-in); None for no noise.
    **engine
        Further keyword arguments of :func:`gutskin.engine.integrate` (``progress``,
        ``chunk_size``, ``observables``, ``n_threads``).

    Returns
    -------
    BatchResult
    """
    tr = treatment or Treatment()
    t = np.asarray(t_eval, dtype=np.float64)
    sched = arm_schedule(
        spec, params, indices, seed, float(t[0]), float(t[-1]),
        treatment=tr, adherence=adherence, noise_from=noise_from,
    )  # fmt: skip
    kw = {**(solver or SolverOptions()).kwargs(), **engine}
    return integrate(spec, y0, tr.apply(spec.parameter_names, params), t, sched, **kw)


def arm_schedule(
    spec: ModelSpec,
    params: NDArray[np.float64],
    indices: ArrayLike,
    seed: int,
    t0: float,
    t1: float,
    *,
    treatment: Treatment | None = None,
    adherence: NDArray[np.float64] | None = None,
    noise_from: float | None = 0.0,
) -> Schedule:
    """The input schedule of an arm on ``[t0, t1]``: its exposures plus each patient's noise.

    Arguments as in :func:`treat`; the noise window starts at ``min(noise_from, t0)``.
    """
    idx = _idx(indices)
    tr = treatment or Treatment()
    sched = build_schedule(
        spec.input_names,
        [u.default for u in spec.inputs],
        list(tr.exposures),
        idx.size,
        t0,
        seed=seed,
        indices=idx,
        adherence=adherence,
    )
    if noise_from is not None:
        nz = noise_schedule(spec, params, idx, seed, min(noise_from, t0), t1)
        if nz is not None:
            sched = sched + nz
    return sched


def with_burn_in_status(res: BatchResult, burn_status: NDArray[np.int64]) -> BatchResult:
    """``res`` with the patients whose burn-in failed marked: that status, rows NaN.

    A patient whose burn-in did not reach day 0 has no baseline; its treatment run
    (started from the initial values instead) is not a result and is not reported as one.
    """
    bad = np.asarray(burn_status) != Status.OK
    if not bad.any():
        return res
    y, obs = res.y.copy(), res.observables.copy()
    y[bad], obs[bad] = np.nan, np.nan
    return replace(res, y=y, observables=obs, status=np.where(bad, burn_status, res.status))


def output(spec: ModelSpec, res: BatchResult, name: str) -> NDArray[np.float64]:
    """Model output ``name`` (a state or an observable) of ``res``, shape (N, T).

    Raises
    ------
    KeyError
        The model has no such output; the message names it.
    """
    if name in spec.state_names:
        return res.y[:, :, spec.state_names.index(name)]
    if name in spec.assignment_names:
        return res.observables[:, :, spec.assignment_names.index(name)]
    raise KeyError(f"model {spec.name!r} has no output {name!r}")
