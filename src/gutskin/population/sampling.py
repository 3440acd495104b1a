"""Virtual patients: parameter sampling and disease-activity noise.

Every random draw of patient ``i`` comes from its own counter-based stream
(:mod:`gutskin.engine.random`), so results never depend on chunking, worker count or
which other patients are simulated:

- parameters: stream ``"parameters"``, one uniform per model parameter, keyed by the
  parameter's *name* (adding or reordering rows of the table leaves every other draw
  unchanged);
- disease-activity noise: stream ``"noise"`` (flares) and ``"activity"`` (slow disease
  activity).  Smooth noise (the default, :func:`smooth_noise_features`) takes three
  uniforms per random Fourier feature from sub-stream 1; the daily piecewise-constant
  Ornstein-Uhlenbeck noise of a model without smooth inputs
  (:func:`flare_noise_schedule`) takes one standard normal per day from sub-stream 0,
  day ``d`` being number ``d - NOISE_ORIGIN``.

Parameters are lognormal with median ``value`` and coefficient of variation ``cv``
(``sigma = sqrt(log(1 + cv^2))`` on the log scale, as in the Miyano 2021/2022 virtual
populations), truncated to ``[lower, upper]`` by inverse-CDF sampling.  Pairs listed in
the model's ``parameter_correlations`` share a cause (a Gaussian copula: the normal score
of the second is ``rho * z_first + sqrt(1 - rho^2) * z_second``, ``rho`` itself a
parameter of the table); each marginal distribution is unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr, ndtri

from gutskin.engine.random import name_key, ou_daily_paths, uniforms
from gutskin.engine.schedule import Schedule
from gutskin.engine.spec import ModelSpec

__all__ = [
    "ACTIVITY_INPUT",
    "NOISE_INPUT",
    "NOISE_ORIGIN",
    "NOISE_PROCESSES",
    "flare_noise_schedule",
    "noise_schedule",
    "parameter_uniforms",
    "sample_parameters",
    "smooth_noise_features",
    "truncated_lognormal",
]

#: Model input that carries the disease-activity noise.
NOISE_INPUT = "flare_noise"
#: Input filled with the slow disease-activity path, where a model has it.
ACTIVITY_INPUT = "disease_activity"
#: Each noise input: (SD parameter, correlation-time parameter, random stream).
NOISE_PROCESSES: dict[str, tuple[str, str, str]] = {
    NOISE_INPUT: ("flare_sd", "flare_tau", "noise"),
    ACTIVITY_INPUT: ("activity_sd", "activity_tau", "activity"),
}
#: Sub-stream of the smooth-noise features (sub-stream 0 holds the daily innovations).
SMOOTH_SUB = 1
#: Share of the Ornstein-Uhlenbeck variance the smooth noise keeps: its spectrum is the
#: OU's (Cauchy) cut off at ``|omega| tau = tan(pi/2 * NOISE_BAND)`` (12.7 for 0.95).
NOISE_BAND = 0.95
#: Day at which every patient's noise path starts (stationary); burn-in and trial windows
#: read the same path as long as they start at or after it (burn-ins up to 10 years).
NOISE_ORIGIN = -3650.0


def _indices(indices: Iterable[int]) -> NDArray[np.int64]:
    idx = np.asarray(list(indices), dtype=np.int64)
    if idx.ndim != 1:
        raise ValueError("indices must be a 1-D sequence of patient numbers")
    if idx.size and idx.min() < 0:
        raise ValueError("indices must be >= 0")
    return idx


def _patient_params(
    spec: ModelSpec, indices: Iterable[int], params: ArrayLike
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Patient numbers and their parameter rows, checked to match.

    Parameters
    ----------
    spec : ModelSpec
        The model (its parameter count sets the row length).
    indices : iterable of int
        Patient numbers (see :func:`_indices`).
    params : array_like
        Parameter vectors, one row per patient (a single row may be 1-D).

    Returns
    -------
    tuple
        ``(idx, pa)``: the patient numbers and the parameters as a 2-D float array.

    Raises
    ------
    ValueError
        Bad patient numbers, or ``params`` not of shape ``(len(indices), P)``.
    """
    idx = _indices(indices)
    pa = np.atleast_2d(np.asarray(params, dtype=np.float64))
    if pa.shape != (idx.size, len(spec.parameters)):
        raise ValueError(
            f"params has shape {pa.shape}; expected ({idx.size}, {len(spec.parameters)})"
        )
    return idx, pa


def parameter_uniforms(
    spec: ModelSpec,
    indices: Iterable[int],
    seed: int,
    *,
    values: Mapping[str, float] | None = None,
) -> NDArray[np.float64]:
    """Per-patient uniforms behind the parameter draws (columns in table order).

    Stream ``"parameters"`` of each patient, sub-key :func:`~gutskin.engine.random.name_key`
    of the parameter name, with the model's ``parameter_correlations`` applied (Gaussian
    copula; a pair whose ``rho`` is 0 is left bit-identical).

    Returns
    -------
    ndarray, shape (len(indices), P)
    """
    idx = _indices(indices)
    names = spec.parameter_names
    keys = [name_key(n) for n in names]
    if len(set(keys)) != len(keys):
        raise ValueError("two parameter names share a random-stream key; rename one")
    u = np.empty((idx.size, len(names)))
    for j, k in enumerate(keys):
        u[:, j] = uniforms(seed, "parameters", idx, 1, sub=k)[:, 0]
    for first, second, rho_name in (spec.metadata or {}).get("parameter_correlations", ()):
        rho = float((values or {}).get(rho_name, spec.parameter(rho_name).value))
        if rho == 0.0:
            continue
        a, b = names.index(first), names.index(second)
        za, zb = ndtri(u[:, a]), ndtri(u[:, b])
        u[:, b] = ndtr(rho * za + math.sqrt(1.0 - rho * rho) * zb)
    return u


def sample_parameters(
    spec: ModelSpec,
    indices: Iterable[int],
    seed: int,
    *,
    values: Mapping[str, float] | None = None,
) -> NDArray[np.float64]:
    """Draw patient parameter vectors.

    Parameters
    ----------
    spec : ModelSpec
        Model whose parameters carry ``value`` (median), ``cv``, ``lower``, ``upper``.
    indices : iterable of int
        Patient numbers; patient ``i`` always gets the same draws for a given seed.
    seed : int
        Run seed.
    values : mapping, optional
        Medians replacing the nominal values (e.g. fitted ones); their ``cv`` is kept.

    Returns
    -------
    ndarray, shape (len(indices), P)
        Parameters in ``spec.parameter_names`` order.  A parameter with ``cv == 0`` is its
        median in every patient.
    """
    idx = _indices(indices)
    names = spec.parameter_names
    unknown = sorted(set(values or {}) - set(names))
    if unknown:
        raise ValueError(f"values: unknown parameter(s) {unknown}")
    med = np.array([float((values or {}).get(p.name, p.value)) for p in spec.parameters])
    cv = np.array([float(p.cv) for p in spec.parameters])
    if np.any((cv > 0) & (med <= 0)):
        bad = [n for n, m, c in zip(names, med, cv, strict=True) if c > 0 and m <= 0]
        raise ValueError(f"parameters {bad} have cv > 0 but a non-positive median")
    lo = np.array([p.lower if p.lower is not None else 0.0 for p in spec.parameters], float)
    hi = np.array([p.upper if p.upper is not None else np.inf for p in spec.parameters], float)
    uni = parameter_uniforms(spec, idx, seed, values=values)
    return truncated_lognormal(med, uni, cv, lo, hi)


def truncated_lognormal(
    median: ArrayLike, u: ArrayLike, cv: ArrayLike, lower: ArrayLike, upper: ArrayLike
) -> NDArray[np.float64]:
    """Inverse CDF of the lognormal with ``median`` and ``cv``, truncated to ``[lower, upper]``.

    ``sigma = sqrt(log(1 + cv^2))``; the value of uniform ``u`` is
    ``median * exp(sigma * Phi^-1(Phi(a) + u (Phi(b) - Phi(a))))`` with ``a``, ``b`` the
    bounds' log-scale z-scores (a lower bound <= 0 or an infinite upper bound does not
    truncate).  Where ``cv`` is 0 the value is the median.  All arguments broadcast.

    Returns
    -------
    ndarray
        Same units as ``median``.
    """
    med, uu, c, lo, hi = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (median, u, cv, lower, upper))
    )
    sigma = np.sqrt(np.log1p(c**2))
    var = sigma > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(
            var & (lo > 0), (np.log(np.maximum(lo, 1e-300)) - np.log(med)) / sigma, -np.inf
        )
        b = np.where(var & np.isfinite(hi), (np.log(hi) - np.log(med)) / sigma, np.inf)
        pa, pb = ndtr(a), ndtr(b)
        z = ndtri(pa + uu * (pb - pa))
        return np.asarray(np.where(var, med * np.exp(sigma * np.where(var, z, 0.0)), med))


def flare_noise_schedule(
    spec: ModelSpec,
    params: ArrayLike,
    indices: Iterable[int],
    seed: int,
    t_start: float,
    t_end: float,
    *,
    enabled: bool = True,
) -> Schedule:
    """Daily piecewise-constant flare-noise input for a batch of patients.

    Each patient's path is one stationary OU process on integer days
    (:func:`gutskin.engine.random.ou_daily_paths`: day ``d``'s innovation is number
    ``d - NOISE_ORIGIN`` of the patient's ``"noise"`` stream, the path starts 20
    correlation times before the window, so windows of one patient agree to 2e-9 of the
    SD), with that patient's ``flare_sd`` and ``flare_tau`` (columns of ``params``).
    Where the model has the input :data:`ACTIVITY_INPUT`, that input gets a second,
    slow OU path (disease activity: ``activity_sd``, ``activity_tau``, stream
    ``"activity"``; zero where ``activity_sd`` is 0).  This function returns the
    part on ``[t_start, t_end)``.  Burn-in and trial windows of the same patient are thus
    segments of one path.  All other inputs are at their defaults (0), so the result can
    be added to a treatment schedule with ``+``.

    Parameters
    ----------
    spec : ModelSpec
        Model (must have the input :data:`NOISE_INPUT`).
    params : array_like, shape (N, P)
        Patient parameters (``spec.parameter_names`` order).
    indices : iterable of int
        Patient numbers (length N), as passed to :func:`sample_parameters`.
    seed : int
        Run seed.
    t_start, t_end : float
        Window in days; ``NOISE_ORIGIN <= t_start < t_end``.
    enabled : bool
        False gives a zero noise input (deterministic runs) on the same grid.

    Returns
    -------
    Schedule
        Breakpoints at ``t_start``, every integer day inside the window, and ``inf``.
    """
    idx, pa = _patient_params(spec, indices, params)
    if NOISE_INPUT not in spec.input_names:
        raise ValueError(f"model has no input {NOISE_INPUT!r}")
    if not (NOISE_ORIGIN <= t_start < t_end and math.isfinite(t_end)):
        raise ValueError(
            f"need {NOISE_ORIGIN} <= t_start < t_end < inf, got t_start={t_start}, t_end={t_end}"
        )
    first = math.floor(t_start)
    last = math.ceil(t_end)  # exclusive
    days = np.arange(first, last, dtype=np.float64)
    times = np.concatenate([[t_start], days[days > t_start], [np.inf]])
    seg_day = np.floor(times[:-1]).astype(np.int64)
    col = spec.input_names.index(NOISE_INPUT)
    defaults = np.array([u.default for u in spec.inputs], dtype=np.float64)
    values = np.empty((idx.size, times.size - 1, len(defaults)))
    values[:] = defaults
    if enabled:
        j_sd = spec.parameter_names.index("flare_sd")
        j_tau = spec.parameter_names.index("flare_tau")
        origin = int(NOISE_ORIGIN)
        names = spec.parameter_names
        slow = ACTIVITY_INPUT in spec.input_names
        col_a = spec.input_names.index(ACTIVITY_INPUT) if slow else -1
        j_asd = names.index("activity_sd") if slow else -1
        j_atau = names.index("activity_tau") if slow else -1
        span = int(last - first)
        fast = ou_daily_paths(
            seed, "noise", idx, pa[:, j_sd], pa[:, j_tau], first, span, origin=origin
        )
        values[:, :, col] = defaults[col] + fast[:, seg_day - first]
        if slow:
            slow_path = ou_daily_paths(
                seed, "activity", idx, pa[:, j_asd], pa[:, j_atau], first, span, origin=origin
            )
            values[:, :, col_a] = defaults[col_a] + slow_path[:, seg_day - first]
    return Schedule(times=times, values=values)


def smooth_noise_features(
    spec: ModelSpec, params: ArrayLike, indices: Iterable[int], seed: int
) -> NDArray[np.float64]:
    """Each patient's smooth disease-activity noise as random Fourier features, (N, F).

    Every smooth noise input of the model (:data:`NOISE_PROCESSES` that are keys of
    ``spec.smooth_inputs``) is a stationary process with the spectrum of an
    Ornstein-Uhlenbeck process of the patient's SD ``sd`` and correlation time ``tau``
    (``S(omega) = sd^2 tau / (pi (1 + omega^2 tau^2))``, a Cauchy density), band-limited
    to ``|omega| tau < tan(pi/2 NOISE_BAND)``: it keeps :data:`NOISE_BAND` of the OU's
    variance, the OU's covariance at lags of days to weeks and its zero-frequency
    spectral density ``2 sd^2 tau`` (to which slow states such as lesion counts respond),
    and drops only oscillations faster than about ``tau / 2``, which visits weeks apart
    cannot see (docs/modelling-choices.md, "Smooth disease-activity noise").  It is
    represented by ``K`` random Fourier features (Rahimi & Recht 2007, *Random features
    for large-scale kernel machines*, NIPS 20):
    ``x(t) = sum_k r_k cos(omega_k t + phi_k)`` with ``omega_k`` from the band-limited
    Cauchy density (inverse CDF), ``phi_k ~ U(0, 2 pi)`` and Rayleigh amplitudes
    ``r_k = sd sqrt(NOISE_BAND (-2 log u_k) / K)``, so that given the frequencies ``x`` is
    exactly Gaussian with variance ``NOISE_BAND sd^2`` and, averaged over them, has
    exactly the band-limited OU covariance.  Feature ``k`` takes uniforms ``3k .. 3k+2``
    of sub-stream :data:`SMOOTH_SUB` of the process's stream, so a patient's path is one
    function of time in every window, job and batch.

    Parameters
    ----------
    spec : ModelSpec
        Model with smooth noise inputs.
    params : array_like, shape (N, P)
        Patient parameters (``spec.parameter_names`` order).
    indices : iterable of int
        Patient numbers (length N).
    seed : int
        Run seed.

    Returns
    -------
    ndarray, shape (N, spec.n_features)
        In :meth:`~gutskin.engine.spec.ModelSpec.feature_layout` order; a patient with
        ``sd = 0`` has zero amplitudes.
    """
    idx, pa = _patient_params(spec, indices, params)
    names = spec.parameter_names
    out = np.zeros((idx.size, spec.n_features))
    for name, first, k in spec.feature_layout():
        if name not in NOISE_PROCESSES:
            raise ValueError(f"smooth input {name!r} is not a noise process of the population")
        sd_name, tau_name, stream = NOISE_PROCESSES[name]
        sd = pa[:, names.index(sd_name)]
        tau = pa[:, names.index(tau_name)]
        if np.any(~np.isfinite(sd) | (sd < 0)) or np.any(~np.isfinite(tau) | (tau <= 0)):
            raise ValueError(f"{sd_name} must be finite and >= 0 and {tau_name} > 0")
        u = uniforms(seed, stream, idx, 3 * k, sub=SMOOTH_SUB).reshape(idx.size, k, 3)
        block = out[:, first : first + 3 * k].reshape(idx.size, k, 3)
        var = NOISE_BAND * sd**2
        block[:, :, 0] = np.sqrt(var[:, None] * (-2.0 * np.log(u[:, :, 0])) / k)
        half = 0.5 * math.pi * NOISE_BAND
        block[:, :, 1] = np.tan(half * (2.0 * u[:, :, 1] - 1.0)) / tau[:, None]
        block[:, :, 2] = 2.0 * math.pi * u[:, :, 2]
        out[:, first : first + 3 * k] = block.reshape(idx.size, 3 * k)
    return out


def noise_schedule(
    spec: ModelSpec,
    params: ArrayLike,
    indices: Iterable[int],
    seed: int,
    t_start: float,
    t_end: float,
) -> Schedule | None:
    """Each patient's disease-activity noise on ``[t_start, t_end)`` (None without noise).

    A model whose noise inputs are smooth (``spec.smooth_inputs``) gets one segment at
    the input defaults carrying :func:`smooth_noise_features` (no breakpoints: the
    kernel evaluates the path at every step); otherwise the daily piecewise-constant
    Ornstein-Uhlenbeck path of :func:`flare_noise_schedule`.  Either way, windows of one
    patient are pieces of one path, and the result adds to a treatment schedule (``+``).
    """
    if NOISE_INPUT not in spec.input_names:
        return None
    if NOISE_INPUT not in spec.smooth_inputs:
        return flare_noise_schedule(spec, params, indices, seed, t_start, max(t_end, t_start + 1.0))
    idx = _indices(indices)
    defaults = np.array([u.default for u in spec.inputs], dtype=np.float64)
    values = np.broadcast_to(defaults, (idx.size, 1, defaults.size)).copy()
    smooth = tuple(
        (spec.input_names.index(name), first, k) for name, first, k in spec.feature_layout()
    )
    return Schedule(
        times=np.array([float(t_start), np.inf]),
        values=values,
        features=smooth_noise_features(spec, params, idx, seed),
        smooth=smooth,
    )
