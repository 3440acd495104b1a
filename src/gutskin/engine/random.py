"""Random streams: one owner, one registry of keys, counter-based and vectorised.

Every random number of gutskin is a pure function of ``(seed, stream, index, sub,
position)``: the Philox4x32-10 counter-based generator (Salmon et al. 2011, *Parallel
random numbers: as easy as 1, 2, 3*, SC'11; the generator behind cuRAND and JAX) keyed
by the run seed and applied to the counter ``(stream id, index, sub, block)``.

- ``stream`` is a name from :data:`PATIENT_STREAMS` (per-patient numbers: ``index`` is
  the patient number) or :data:`RUN_STREAMS` (job-level numbers: ``index`` is e.g. the
  replicate).  The two tables share one id space, so no two streams can share a counter:
  for a fixed key Philox is a bijection of the counter, so **distinct keys give
  distinct, independent bit streams** (no overlap to argue about, unlike seeded
  sequences whose spawn keys are tuples of different lengths).
- ``sub`` separates draws inside a stream without shifting each other: e.g. one sub per
  parameter *name* (:func:`name_key`), so adding a parameter row never re-maps the
  draws of the others, or one sub per exposure of a schedule.
- ``block`` counts 128-bit blocks; each block gives two doubles.

Numbers therefore do not depend on chunk size, worker count, batch composition or the
order in which patients are processed, and no Python object is built per patient.

Uniforms are ``((x >> 11) + 0.5) * 2**-53`` of the 64-bit word ``x``, so they lie in the
open interval (0, 1) and can be fed to inverse CDFs.  Normals are Box–Muller pairs of
those uniforms.
"""

from __future__ import annotations

import math
import zlib

import numba as nb
import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "PATIENT_STREAMS",
    "RUN_STREAMS",
    "SEED_MAX",
    "check_seed",
    "derived_seed",
    "name_key",
    "normals",
    "ou_daily_paths",
    "philox4x32",
    "run_rng",
    "stream_id",
    "uniforms",
]

#: Per-patient streams (counter word 0).  A patient's numbers in one stream never shift
#: when another stream draws more or fewer.
PATIENT_STREAMS: dict[str, int] = {
    "parameters": 1,  # one uniform per parameter name (sub = name_key)
    "schedule": 2,  # daily doses taken or missed (sub = exposure number)
    "noise": 3,  # fast flare noise innovations (one normal per day)
    "activity": 4,  # slow disease-activity innovations (one normal per day)
    "observation": 5,  # counting and rater noise at each visit
    "dropout": 6,
    "screening": 7,  # covariates drawn at screening (sex, age)
    "adherence": 8,
    "presentation": 9,  # care seeking at screening
    "population": 10,  # which table sample a microbiome-seeded patient is drawn from
}

#: Job-level streams (counter word 0; ``index`` is a replicate, draw or sample number).
RUN_STREAMS: dict[str, int] = {
    "randomization": 101,  # the allocation sequence of a trial
    "power_replicate": 102,  # seed of each replicate trial of a power analysis
    "sensitivity_cohort": 103,  # seed of the fixed sensitivity cohort
    "sensitivity_sample": 104,  # SALib's sampling
    "calibration_search": 105,  # the optimiser's starting points
    "bootstrap": 106,  # resampling in statistics
    "imputation": 109,  # multiple imputation of missing visits
    "rarefaction": 107,  # subsampling of microbiome reads (sub = sample-id key)
    "explorer": 108,  # quick runs of the web explorer
    "pool": 110,  # seed of the virtual population of a replicate job (power, validation)
    "pool_order": 111,  # the order in which a replicate trial meets the pool's candidates
    "assurance_draw": 112,  # an assurance run's parameter draws (index = draw, sub = name key)
    "assurance_rows": 113,  # which rows of an ensemble file an assurance run takes
    "calibration_ensemble": 120,  # history-matching candidates of the parameter ensemble
}

#: Largest accepted seed (seeds are 64-bit Philox keys).
SEED_MAX = 2**64 - 1

_MASK32 = 0xFFFFFFFF


def check_seed(seed: object, name: str = "seed") -> int:
    """Return ``seed`` as an int, or raise ``ValueError`` naming ``name`` and the range."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"{name} must be an integer in 0..2**64-1, got {seed!r}")
    s = int(seed)
    if not 0 <= s <= SEED_MAX:
        raise ValueError(f"{name} must be an integer in 0..2**64-1, got {s}")
    return s


def stream_id(stream: str) -> int:
    """Counter word 0 of a named stream (patient or run stream)."""
    if stream in PATIENT_STREAMS:
        return PATIENT_STREAMS[stream]
    if stream in RUN_STREAMS:
        return RUN_STREAMS[stream]
    known = sorted([*PATIENT_STREAMS, *RUN_STREAMS])
    raise KeyError(f"unknown random stream {stream!r}; known: {known}")


def name_key(name: str) -> int:
    """Stable 32-bit sub-key of a name (CRC-32 of its UTF-8 bytes)."""
    return zlib.crc32(name.encode("utf-8")) & _MASK32


@nb.njit(cache=True, inline="always")
def _philox_block(
    c0: np.uint64, c1: np.uint64, c2: np.uint64, c3: np.uint64, k0: np.uint64, k1: np.uint64
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:
    mask = np.uint64(0xFFFFFFFF)
    m0 = np.uint64(0xD2511F53)
    m1 = np.uint64(0xCD9E8D57)
    w0 = np.uint64(0x9E3779B9)
    w1 = np.uint64(0xBB67AE85)
    s = np.uint64(32)
    for r in range(10):
        if r > 0:
            k0 = (k0 + w0) & mask
            k1 = (k1 + w1) & mask
        p0 = m0 * c0
        p1 = m1 * c2
        c0, c1, c2, c3 = (p1 >> s) ^ c1 ^ k0, p1 & mask, (p0 >> s) ^ c3 ^ k1, p0 & mask
    return c0, c1, c2, c3


@nb.njit(cache=True, inline="always")
def _unit(hi: np.uint64, lo: np.uint64) -> float:
    """A double in (0, 1) from two 32-bit words: ``((hi:lo >> 11) + 0.5) * 2**-53``."""
    return (np.float64(((hi << np.uint64(32)) | lo) >> np.uint64(11)) + 0.5) * 2.0**-53


@nb.njit(cache=True)
def _philox_many(ctr: NDArray[np.uint64], k0: np.uint64, k1: np.uint64) -> NDArray[np.uint64]:
    out = np.empty_like(ctr)
    for i in range(ctr.shape[0]):
        a, b, c, d = _philox_block(ctr[i, 0], ctr[i, 1], ctr[i, 2], ctr[i, 3], k0, k1)
        out[i, 0] = a
        out[i, 1] = b
        out[i, 2] = c
        out[i, 3] = d
    return out


def philox4x32(counters: ArrayLike, key: tuple[int, int]) -> NDArray[np.uint64]:
    """Philox4x32-10 of each counter (rows of four 32-bit words) under ``key`` (two words).

    Returns the four output words per row (as uint64 holding 32-bit values).  Checked
    against the Random123 known-answer vectors in ``tests/engine/test_random_streams.py``.
    """
    c = np.ascontiguousarray(np.asarray(counters, dtype=np.uint64).reshape(-1, 4))
    if np.any(c > _MASK32):
        raise ValueError("philox4x32: counter words must be < 2**32")
    k0, k1 = (int(key[0]), int(key[1]))
    if not (0 <= k0 <= _MASK32 and 0 <= k1 <= _MASK32):
        raise ValueError("philox4x32: key words must be < 2**32")
    return _philox_many(c, np.uint64(k0), np.uint64(k1))


@nb.njit(cache=True)
def _uniform_rows(
    k0: np.uint64,
    k1: np.uint64,
    stream: np.uint64,
    index: NDArray[np.uint64],
    sub: NDArray[np.uint64],
    first: np.int64,
    n: np.int64,
) -> NDArray[np.float64]:
    out = np.empty((index.shape[0], n))
    for i in range(index.shape[0]):
        j = np.int64(0)
        pos = first
        while j < n:
            blk = np.uint64(pos // 2)
            a, b, c, d = _philox_block(stream, index[i], sub[i], blk, k0, k1)
            if pos % 2 == 0:
                out[i, j] = _unit(a, b)
                j += 1
                pos += 1
                if j >= n:
                    break
            out[i, j] = _unit(c, d)
            j += 1
            pos += 1
    return out


def _key(seed: int) -> tuple[np.uint64, np.uint64]:
    s = check_seed(seed)
    return np.uint64(s & _MASK32), np.uint64(s >> 32)


def _as_words(values: ArrayLike, name: str, n: int | None = None) -> NDArray[np.uint64]:
    a = np.asarray(values)
    if a.ndim == 0 and n is not None:
        a = np.full(n, a)
    a = np.asarray(a, dtype=np.int64).reshape(-1)
    if a.size and (a.min() < 0 or a.max() > _MASK32):
        raise ValueError(f"{name} must be in 0..2**32-1")
    return np.ascontiguousarray(a.astype(np.uint64))


def uniforms(
    seed: int,
    stream: str,
    index: ArrayLike,
    n: int,
    *,
    sub: int | ArrayLike = 0,
    first: int = 0,
) -> NDArray[np.float64]:
    """Uniforms in (0, 1): positions ``first .. first+n-1`` of each row's stream.

    Parameters
    ----------
    seed : int
        Run seed, 0..2**64-1.
    stream : str
        A name of :data:`PATIENT_STREAMS` or :data:`RUN_STREAMS`.
    index : sequence of int
        Patient (or replicate) numbers, 0..2**32-1; one output row each.
    n : int
        Numbers per row.
    sub : int or array
        Sub-key (0..2**32-1), scalar or one per row.
    first : int
        Position of the first number (a row's numbers at positions p are the same
        whatever ``first`` and ``n`` select them).

    Returns
    -------
    ndarray, shape (len(index), n)
    """
    idx = _as_words(index, "index")
    subs = _as_words(sub, "sub", idx.size)
    if subs.size != idx.size:
        raise ValueError("sub must be a scalar or have one entry per index")
    if n < 0 or first < 0:
        raise ValueError("n and first must be >= 0")
    k0, k1 = _key(seed)
    return _uniform_rows(
        k0, k1, np.uint64(stream_id(stream)), idx, subs, np.int64(first), np.int64(n)
    )


def normals(
    seed: int,
    stream: str,
    index: ArrayLike,
    n: int,
    *,
    sub: int | ArrayLike = 0,
    first: int = 0,
) -> NDArray[np.float64]:
    """Standard normals (Box–Muller on :func:`uniforms` pairs), shape (len(index), n).

    Normal ``k`` of a row uses uniforms ``2k`` and ``2k+1`` of position ``first + k``'s
    pair, so like :func:`uniforms` a position always gives the same number.
    """
    u = uniforms(seed, stream, index, 2 * n, sub=sub, first=2 * first)
    u1, u2 = u[:, 0::2], u[:, 1::2]
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)


def _run_block(seed: int, stream: str, index: int, sub: int, caller: str) -> list[int]:
    """The four words of block 0 of run stream ``stream`` (``index``, ``sub``)."""
    if stream not in RUN_STREAMS:
        raise KeyError(f"{caller} needs a run stream ({sorted(RUN_STREAMS)}), got {stream!r}")
    k0, k1 = _key(seed)
    ctr = np.array([[RUN_STREAMS[stream], index, sub, 0]], dtype=np.uint64)
    return [int(x) for x in _philox_many(ctr, k0, k1)[0]]


def derived_seed(seed: int, stream: str, index: int = 0) -> int:
    """A 64-bit seed for job ``index`` of a run-level ``stream`` (e.g. a power replicate)."""
    w = _run_block(seed, stream, index, 0, "derived_seed")
    return w[0] << 32 | w[1]


def run_rng(seed: int, stream: str, index: int = 0, *, sub: int = 0) -> np.random.Generator:
    """A numpy Generator for job-level draws of ``stream`` (SALib, bootstrap, optimiser).

    Its Philox bit generator is keyed by the 128 bits our Philox gives for the counter
    ``(stream, index, sub, 0)``, so each (stream, index, sub) has its own generator.
    """
    w = _run_block(seed, stream, index, sub, "run_rng")
    key = (w[0] << 96) | (w[1] << 64) | (w[2] << 32) | w[3]
    return np.random.Generator(np.random.Philox(key=key))


#: Memory of an OU path in correlation times: a path started this many ``tau`` before a
#: window differs from the path started at the stream origin by at most ``exp(-20)``
#: (2e-9) of its SD inside the window.
OU_MEMORY_TAUS = 20.0


@nb.njit(cache=True)
def _ou_rows(
    k0: np.uint64,
    k1: np.uint64,
    stream: np.uint64,
    index: NDArray[np.uint64],
    sd: NDArray[np.float64],
    tau: NDArray[np.float64],
    first_day: np.int64,
    n_days: np.int64,
    origin: np.int64,
    memory: np.float64,
) -> NDArray[np.float64]:
    out = np.zeros((index.shape[0], n_days))
    two_pi = 2.0 * np.pi
    zero = np.uint64(0)
    for i in range(index.shape[0]):
        if sd[i] <= 0.0:
            continue
        a = np.exp(-1.0 / tau[i])
        b = sd[i] * np.sqrt(max(0.0, 1.0 - a * a))
        start = max(origin, first_day - np.int64(np.ceil(memory * tau[i])))
        x = 0.0
        for day in range(start, first_day + n_days):
            c0, c1, c2, c3 = _philox_block(stream, index[i], zero, np.uint64(day - origin), k0, k1)
            u1 = _unit(c0, c1)
            u2 = _unit(c2, c3)
            z = np.sqrt(-2.0 * np.log(u1)) * np.cos(two_pi * u2)
            x = sd[i] * z if day == start else a * x + b * z
            if day >= first_day:
                out[i, day - first_day] = x
    return out


def ou_daily_paths(
    seed: int,
    stream: str,
    index: ArrayLike,
    sd: ArrayLike,
    tau: ArrayLike,
    first_day: int,
    n_days: int,
    *,
    origin: int,
) -> NDArray[np.float64]:
    """Stationary Ornstein–Uhlenbeck paths on integer days, one row per index.

    The innovation of day ``d`` is normal number ``d - origin`` of the row's stream
    (:func:`normals`), so a day's value does not depend on the window asked for.  The
    exact AR(1) discretisation ``x[d] = a x[d-1] + sd sqrt(1 - a^2) z[d]``,
    ``a = exp(-1/tau)``, starts stationary (``x = sd z``) :data:`OU_MEMORY_TAUS`
    correlation times before ``first_day`` (or at ``origin``): every ``x[d]`` has SD
    ``sd`` and ``corr(x[d], x[d+m]) = exp(-m/tau)``.

    Parameters
    ----------
    seed, stream, index
        As for :func:`uniforms`.
    sd, tau : array_like, one per row
        Stationary SD (>= 0; 0 gives zeros) and correlation time in days (> 0).
    first_day, n_days : int
        Window ``first_day .. first_day + n_days - 1`` (``first_day >= origin``).
    origin : int
        Day of position 0 of the stream.

    Returns
    -------
    ndarray, shape (len(index), n_days)
    """
    idx = _as_words(index, "index")
    sd_a = np.ascontiguousarray(np.broadcast_to(np.asarray(sd, dtype=np.float64), idx.shape))
    tau_a = np.ascontiguousarray(np.broadcast_to(np.asarray(tau, dtype=np.float64), idx.shape))
    if np.any(~np.isfinite(sd_a) | (sd_a < 0)) or np.any(~(tau_a > 0) | ~np.isfinite(tau_a)):
        raise ValueError("ou_daily_paths: need finite sd >= 0 and tau > 0")
    if first_day < origin or n_days < 0:
        raise ValueError(f"ou_daily_paths: need first_day >= origin ({origin}) and n_days >= 0")
    k0, k1 = _key(seed)
    return _ou_rows(
        k0,
        k1,
        np.uint64(stream_id(stream)),
        idx,
        sd_a.copy(),
        tau_a.copy(),
        np.int64(first_day),
        np.int64(n_days),
        np.int64(origin),
        np.float64(OU_MEMORY_TAUS),
    )
