"""Observation model: from the model's expected values to what a trial records.

For each patient and visit the model gives expected lesion counts on the face
and continuous quantities.  A trial records:

* **Lesion counts** per type: negative binomial around ``rater × expected ×
  (1 − expectation_bias)`` with dispersion ``k`` (variance μ + μ²/k); ``rater``
  is a per-visit lognormal factor (coefficient of variation ``rater_cv``)
  shared by all lesion types of that visit.  Inflammatory = papules +
  pustules; total = inflammatory + non-inflammatory (FDA 2018; nodules are
  counted separately).
* **IGA (0–4)**: a latent severity ``L = log(1 + inflammatory + 0.3 ×
  non-inflammatory + 5 × nodules) + ε``, ε ~ N(0, ``iga_rater_sd``), cut at
  ``IGA_CUTS`` (or the model's ``iga_cut_1..4`` parameters, weighted lesion
  counts, where the model has them).  Thresholds are ``assumed`` (evidence brief
  §4.1: a static, partly subjective grade mapped from counts plus rater noise)
  and calibrated (vehicle IGA success 8–15 %).  IGA success = IGA ≤ 1 and ≥ 2 grades
  better than baseline (FDA 2018).
* **GAGS (face, 0–32)**: each location (forehead 2, cheeks 2 + 2, nose 1,
  chin 1) is graded by its most severe lesion (comedone 1, papule 2, pustule 3,
  nodule 4; Doshi et al. 1997).  A location holds at least one lesion of a
  type with probability ``1 − (1 − w)^c`` for ``c`` lesions of that type and
  the location's share ``w`` of facial follicles (``LOCATION_SHARES``,
  ``assumed``).  Chest and back are not modelled, so GAGS here is the face
  sub-score.  ``gags_improved`` = GAGS lower by ≥ 2 grade-points·factor... see
  :data:`GAGS_IMPROVEMENT`.
* **Instruments**: erythema, sebum, skin relative abundances and gut Shannon
  carry multiplicative lognormal noise (``instrument_cv``); Shannon additive
  normal noise with SD 0.05 nats.

All noise comes from the patient's own ``observation`` stream, so a patient's
records do not depend on who else is in the trial.  Each noisy instrument
(:data:`INSTRUMENTS`) draws from its own sub-stream of it, keyed by the instrument's
name, so adding an instrument never moves the numbers of the others.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numba import njit
from numpy.typing import NDArray
from scipy.special import ndtri

from gutskin.engine.random import name_key, uniforms

# the responder rules are code in the endpoint registry; re-exported here as before
from gutskin.trial.endpoints import GAGS_IMPROVEMENT, gags_improved, iga_success

__all__ = [
    "GAGS_BANDS",
    "GAGS_IMPROVEMENT",
    "IGA_CUTS",
    "INSTRUMENTS",
    "LOCATION_FACTORS",
    "LOCATION_SHARES",
    "N_UNIFORMS",
    "gags_band",
    "gags_improved",
    "iga_success",
    "observation_uniforms",
    "observe_visits",
]

#: Cut points on the latent IGA severity L (log scale); grade = number of cuts below L.
IGA_CUTS = np.log1p(np.array([1.5, 7.0, 22.0, 70.0]))
#: GAGS face locations: factor (Doshi 1997) and share of facial follicles (assumed).
LOCATION_FACTORS = np.array([2.0, 2.0, 2.0, 1.0, 1.0])
LOCATION_SHARES = np.array([0.30, 0.25, 0.25, 0.08, 0.12])
LOCATIONS = ("forehead", "right_cheek", "left_cheek", "nose", "chin")
#: GAGS severity bands (evidence brief §4.2): upper bounds of none/mild/moderate/severe.
GAGS_BANDS = ((0, "none"), (18, "mild"), (30, "moderate"), (38, "severe"), (44, "very severe"))
#: The noisy instruments of a visit and the uniforms each takes per visit.  Each has its
#: own sub-stream (``name_key(name)``) of the patient's ``"observation"`` stream, and its
#: own columns in the (…, N_UNIFORMS) arrays: a new instrument is one more line here and
#: leaves every other instrument's numbers as they were.
INSTRUMENTS: dict[str, int] = {
    "rater": 1,  # the visit's counting factor, shared by all lesion types
    "noninflammatory": 1,
    "papules": 1,
    "pustules": 1,
    "nodules": 1,
    "iga_rater": 1,
    "gags_locations": 20,  # 4 lesion types x 5 face locations
    "erythema": 1,
    "sebum": 1,
    "rel_c_acnes": 1,
    "rel_s_epidermidis": 1,
    "rel_s_aureus": 1,
    "gut_shannon": 1,
}
_first = np.cumsum([0, *INSTRUMENTS.values()])
#: Columns of each instrument in an observation-uniforms array.
COLUMNS: dict[str, slice] = {
    name: slice(int(a), int(a) + k)
    for (name, k), a in zip(INSTRUMENTS.items(), _first, strict=False)
}
#: Uniform draws consumed per patient-visit.
N_UNIFORMS = int(_first[-1])


def observation_uniforms(
    seed: int, indices: NDArray[np.int64], n_visits: int
) -> NDArray[np.float64]:
    """The observation uniforms of visits ``0 .. n_visits - 1``, shape (N, n_visits, N_UNIFORMS).

    Instrument ``name`` fills its :data:`COLUMNS` from sub-stream ``name_key(name)``;
    visit ``v`` takes numbers ``v*k .. v*k + k - 1`` of it (``k`` its uniforms per visit),
    so a visit's numbers do not depend on how many visits are asked for.
    """
    idx = np.asarray(indices, dtype=np.int64)
    out = np.empty((idx.size, n_visits, N_UNIFORMS))
    for name, k in INSTRUMENTS.items():
        u = uniforms(seed, "observation", idx, n_visits * k, sub=name_key(name))
        out[:, :, COLUMNS[name]] = u.reshape(idx.size, n_visits, k)
    return out


def gags_band(score: float) -> str:
    """GAGS severity band name for a score (1–18 mild, 19–30 moderate, 31–38 severe, ≥39)."""
    for upper, label in GAGS_BANDS:
        if score <= upper:
            return label
    return "very severe"


@njit(cache=True)
def _nb_ppf(u: NDArray[np.float64], mu: NDArray[np.float64], k: float) -> NDArray[np.float64]:
    out = np.empty(u.size)
    for i in range(u.size):
        m = mu[i]
        if not m > 0.0:  # zero, negative or NaN mean: no lesions
            out[i] = 0.0
            continue
        q = m / (k + m)
        pmf = np.exp(k * np.log(k / (k + m)))
        cdf = pmf
        j = 0
        while cdf < u[i]:
            pmf *= (j + k) / (j + 1.0) * q
            j += 1
            cdf += pmf
            if pmf == 0.0 and j > m:  # the remaining mass underflows
                break
        out[i] = j
    return out


def _nb(u: NDArray[np.float64], mu: NDArray[np.float64], k: float) -> NDArray[np.float64]:
    """Negative-binomial counts (mean ``mu``, size ``k``) by inverse CDF of ``u``.

    The smallest count whose CDF reaches ``u``, summing the probability mass function by
    its recurrence. It equals ``scipy.stats.nbinom.ppf(u, k, k / (k + mu))`` (no
    difference in 2 million draws over means 0.01-300, ``tests/trial/test_observation.py``)
    at about a tenth of the cost.
    """
    return _nb_ppf(
        np.ascontiguousarray(u, dtype=np.float64),
        np.ascontiguousarray(mu, dtype=np.float64),
        float(k),
    )


def observe_visits(
    expected: Mapping[str, NDArray[np.float64]],
    uniforms: NDArray[np.float64],
    *,
    post_baseline: NDArray[np.bool_],
    count_dispersion: float,
    rater_cv: float,
    iga_rater_sd: float,
    instrument_cv: float,
    expectation_bias: float,
    iga_cuts: NDArray[np.float64] | None = None,
) -> dict[str, NDArray[np.float64]]:
    """Observed endpoints for a batch of patient-visits.

    Parameters
    ----------
    expected : mapping of str to array (M,)
        Model values per patient-visit: ``noninflammatory``, ``papules``,
        ``pustules``, ``nodules`` (expected counts), ``erythema``, ``sebum``,
        ``rel_c_acnes``, ``rel_s_epidermidis``, ``rel_s_aureus``, ``gut_shannon``.
    uniforms : array (M, N_UNIFORMS)
        U(0, 1) draws from each patient's observation stream.
    post_baseline : array (M,) of bool
        Whether the visit is after randomisation (expectation bias applies).
    count_dispersion, rater_cv, iga_rater_sd, instrument_cv, expectation_bias
        Measurement and placebo-response settings of the design.
    iga_cuts : array (4,), optional
        Cut points on the latent IGA severity (log scale); default :data:`IGA_CUTS`.
        Models with the ``iga_cut_*`` observation parameters pass theirs.

    Returns
    -------
    dict of str to array (M,)
        Observed ``noninflammatory``, ``papules``, ``pustules``, ``nodules``,
        ``inflammatory``, ``total``, ``iga``, ``gags`` and instruments.
    """
    u = np.clip(uniforms, 1e-12, 1 - 1e-12)

    def col(name: str) -> NDArray[np.float64]:
        return u[:, COLUMNS[name].start]

    def normal(name: str) -> NDArray[np.float64]:
        return np.asarray(ndtri(col(name)))

    sig_r = np.sqrt(np.log1p(rater_cv**2))
    rater = np.exp(sig_r * normal("rater") - 0.5 * sig_r**2)
    bias = np.where(post_baseline, 1.0 - expectation_bias, 1.0)
    scale = rater * bias
    out: dict[str, NDArray[np.float64]] = {}
    for name in ("noninflammatory", "papules", "pustules", "nodules"):
        out[name] = _nb(col(name), expected[name] * scale, count_dispersion)
    out["inflammatory"] = out["papules"] + out["pustules"]
    out["total"] = out["inflammatory"] + out["noninflammatory"]
    latent = np.log1p(out["inflammatory"] + 0.3 * out["noninflammatory"] + 5.0 * out["nodules"])
    latent = latent + iga_rater_sd * normal("iga_rater")
    cuts = IGA_CUTS if iga_cuts is None else np.asarray(iga_cuts, dtype=np.float64)
    out["iga"] = np.sum(latent[:, None] > cuts[None, :], axis=1).astype(np.float64)
    # GAGS: per location, the most severe lesion type present
    grade = np.zeros((u.shape[0], 5))
    loc = u[:, COLUMNS["gags_locations"]]
    types = (("noninflammatory", 1.0), ("papules", 2.0), ("pustules", 3.0), ("nodules", 4.0))
    for ti, (name, g) in enumerate(types):
        c = out[name]
        p_any = 1.0 - (1.0 - LOCATION_SHARES[None, :]) ** c[:, None]
        present = loc[:, 5 * ti : 5 * ti + 5] < p_any
        grade = np.where(present, np.maximum(grade, g), grade)
    out["gags"] = grade @ LOCATION_FACTORS
    sig_i = np.sqrt(np.log1p(instrument_cv**2))
    for name in ("erythema", "sebum", "rel_c_acnes", "rel_s_epidermidis", "rel_s_aureus"):
        val = expected[name] * np.exp(sig_i * normal(name) - 0.5 * sig_i**2)
        out[name] = np.minimum(val, 1.0) if name.startswith("rel_") else val
    out["gut_shannon"] = expected["gut_shannon"] + 0.05 * normal("gut_shannon")
    return out
