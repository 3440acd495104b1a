"""Sensitivity methods: a registry of SALib samplers and estimators looked up by name.

Every method pairs a SALib sampler with the matching SALib estimator; nothing here
re-implements an estimator.  Each returns the same long table (one row per factor and
index) with a confidence interval where the method has one:

========  ==============================  =================================  ==========
name      sampler (evaluations)           indices                            CI
========  ==============================  =================================  ==========
morris    Morris trajectories, N(D+1)     ``mu_star`` (+ ``mu``, ``sigma``)  bootstrap
sobol     Saltelli/Sobol', N(D+2)         ``S1``, ``ST`` (+ ``S2``)           bootstrap
          or N(2D+2) with second order
pawn      Latin hypercube, N              ``pawn`` (median KS over slides)    bootstrap
========  ==============================  =================================  ==========

``D`` counts groups when factors are grouped (Morris and Sobol').  Morris elementary
effects are per unit of the normalised factor range (log10 range for log-scale
factors), so ``mu_star`` is in outcome units and comparable between factors.  The PAWN
confidence interval is ``value ± z · sd`` over bootstrap replicates of the
input–output sample (each replicate re-runs SALib's estimator).

References
----------
Morris MD. Factorial sampling plans for preliminary computational experiments.
Technometrics 1991;33(2):161-174.
Campolongo F, Cariboni J, Saltelli A. An effective screening design for sensitivity
analysis of large models. Environ Model Softw 2007;22:1509-1518.
Saltelli A, Annoni P, Azzini I, Campolongo F, Ratto M, Tarantola S. Variance based
sensitivity analysis of model output. Design and estimator for the total sensitivity
index. Comput Phys Commun 2010;181:259-270.
Sobol' IM. Global sensitivity indices for nonlinear mathematical models and their
Monte Carlo estimates. Math Comput Simul 2001;55:271-280.
Pianosi F, Wagener T. A simple and efficient method for global sensitivity analysis
based on cumulative distribution functions. Environ Model Softw 2015;67:1-11.
Herman J, Usher W. SALib: An open-source Python library for sensitivity analysis.
J Open Source Softw 2017;2(9):97.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, final

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

__all__ = [
    "METHODS",
    "MethodError",
    "Morris",
    "Pawn",
    "SensitivityMethod",
    "Sobol",
    "get_method",
]


_Array = NDArray[np.float64]
_Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class _Settings:
    """The estimator keywords of :meth:`SensitivityMethod.analyze`, handed to ``_analyze``.

    Attributes
    ----------
    seed : int
        Seed of the bootstrap resampling.
    conf_level : float
        Confidence level of the intervals.
    num_resamples : int
        Bootstrap replicates.
    second_order : bool
        Whether second-order (Sobol' ``S2``) indices were sampled and are wanted.
    """

    seed: int
    conf_level: float
    num_resamples: int
    second_order: bool

    def salib_keywords(self) -> dict[str, Any]:
        """The keywords every SALib bootstrap estimator takes: resamples, level and seed."""
        return {
            "num_resamples": self.num_resamples,
            "conf_level": self.conf_level,
            "seed": self.seed,
        }


class MethodError(ValueError):
    """Unknown method or a sample size the method cannot use."""


def _row(
    factor: str,
    index: str,
    value: float,
    conf: float = math.nan,
    factor2: str = "",
    low: float | None = None,
    high: float | None = None,
) -> dict[str, Any]:
    value = _plain(value)
    conf = _plain(conf)
    lo = value - conf if low is None else _plain(low)
    hi = value + conf if high is None else _plain(high)
    return {
        "factor": factor,
        "factor2": factor2,
        "index": index,
        "value": float(value),
        "conf": float(conf),
        "ci_low": float(lo),
        "ci_high": float(hi),
    }


def _plain(x: Any) -> float:
    """A float from a SALib value (masked entries, e.g. from NaN outcomes, become NaN)."""
    if np.ma.is_masked(x):
        return math.nan
    return float(np.ma.filled(np.ma.asarray(x, dtype=float), np.nan))


def _complete_blocks(
    x: NDArray[np.float64], y: NDArray[np.float64], block: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Keep whole sampling blocks (Morris trajectories, Saltelli blocks) with finite outputs.

    A failed evaluation (NaN) would poison every index that uses its block; dropping the
    block keeps the design intact with fewer trajectories / base samples.
    """
    n = y.size // block
    ok = np.isfinite(y[: n * block].reshape(n, block)).all(axis=1)
    keep = np.repeat(ok, block)
    return x[: n * block][keep], y[: n * block][keep]


def _with_n(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    for r in rows:
        r["n_used"] = n
    return rows


def _names(problem: dict[str, Any]) -> list[str]:
    groups = problem.get("groups")
    if not groups:
        return list(problem["names"])
    seen: list[str] = []
    for g in groups:
        if g not in seen:
            seen.append(g)
    return seen


class SensitivityMethod(ABC):
    """A global sensitivity method: a sampler and an estimator with the same ``name``.

    Subclasses are final; instances are looked up in :data:`METHODS`.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    #: The index ranked in summaries and plotted first.
    main_index: ClassVar[str]
    #: Other indices with a confidence interval (plotted next to the main one).
    plotted: ClassVar[tuple[str, ...]]
    #: Smallest ``--samples``.
    min_samples: ClassVar[int]
    #: ``--samples`` used when none is given.
    default_samples: ClassVar[int]
    supports_groups: ClassVar[bool] = False
    samples_meaning: ClassVar[str]

    def check(self, samples: int, n_factors: int, *, second_order: bool = False) -> None:
        """Raise :class:`MethodError` if ``samples`` is unusable."""
        if samples < self.min_samples:
            raise MethodError(
                f"--samples {samples} is too small for {self.name}: need at least "
                f"{self.min_samples} ({self.samples_meaning})"
            )
        if second_order:
            raise MethodError(f"--second-order applies to sobol only, not {self.name}")

    @abstractmethod
    def n_evaluations(self, samples: int, n_groups: int, *, second_order: bool = False) -> int:
        """Model evaluations needed for ``samples`` and ``n_groups`` factors (or groups)."""

    @abstractmethod
    def sample(
        self, problem: dict[str, Any], samples: int, seed: int, *, second_order: bool = False
    ) -> NDArray[np.float64]:
        """Factor samples in sampling space, shape (n_evaluations, D)."""

    def analyze(
        self,
        problem: dict[str, Any],
        x: NDArray[np.float64],
        y: NDArray[np.float64],
        seed: int,
        *,
        conf_level: float = 0.95,
        num_resamples: int = 100,
        second_order: bool = False,
    ) -> list[dict[str, Any]]:
        """Indices from one outcome column ``y`` (n_evaluations,) as table rows."""
        return self._analyze(
            problem, x, y, _Settings(seed, conf_level, num_resamples, second_order)
        )

    @abstractmethod
    def _analyze(self, problem: dict[str, Any], x: _Array, y: _Array, s: _Settings) -> _Rows:
        """The method's estimator behind :meth:`analyze` (its keywords in ``s``)."""


class _BlockDesign(SensitivityMethod):
    """A SALib estimator on a block design (Morris trajectories, Saltelli blocks).

    Shared by :class:`Morris` and :class:`Sobol`: blocks with a failed evaluation are
    dropped (see :func:`_complete_blocks`); with fewer than two complete blocks every
    factor gets NaN rows and ``n_used`` 0.  Subclasses give the block length, the SALib
    call and the indices they report.
    """

    #: Indices reported per factor, each with the SALib key of its CI half-width ("" if none).
    reported: ClassVar[tuple[tuple[str, str], ...]]

    @abstractmethod
    def _block(self, n_names: int, second_order: bool) -> int:
        """Evaluations per sampling block for ``n_names`` factors (or groups)."""

    @abstractmethod
    def _salib(self, problem: dict[str, Any], x: _Array, y: _Array, s: _Settings) -> Any:
        """The SALib estimator's result for complete blocks ``x``, ``y``."""

    def _index_rows(self, names: list[str], si: Any, s: _Settings) -> _Rows:
        """Table rows from the SALib result ``si``, factor by factor."""
        return [
            _row(name, key, si[key][i], si[conf][i] if conf else math.nan)
            for i, name in enumerate(names)
            for key, conf in self.reported
        ]

    def _analyze(self, problem: dict[str, Any], x: _Array, y: _Array, s: _Settings) -> _Rows:
        names = _names(problem)
        block = self._block(len(names), s.second_order)
        x, y = _complete_blocks(x, y, block)
        if y.size < 2 * block:
            return _with_n([_row(n, k, math.nan) for n in names for k, _ in self.reported], 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            si = self._salib(problem, x, y, s)
        return _with_n(self._index_rows(names, si, s), y.size)


@final
class Morris(_BlockDesign):
    """Morris elementary-effects screening (Morris 1991; Campolongo et al. 2007).

    ``samples`` is the number of trajectories ``r``; ``4`` grid levels.  ``mu_star`` is
    the mean absolute elementary effect (importance), ``sigma`` their standard deviation
    (non-linearity and interactions), ``mu`` the signed mean (direction).
    """

    name = "morris"
    indices = ("mu_star", "sigma", "mu")
    description = "Morris elementary-effects screening (mu_star with bootstrap CI, sigma)"
    main_index = "mu_star"
    plotted = ("mu_star",)
    min_samples = 4
    default_samples = 20
    supports_groups = True
    samples_meaning = "the number of Morris trajectories, N (D + 1) evaluations"
    num_levels = 4
    reported = (("mu_star", "mu_star_conf"), ("sigma", ""), ("mu", ""))

    def n_evaluations(self, samples: int, n_groups: int, *, second_order: bool = False) -> int:
        return samples * (n_groups + 1)

    def sample(
        self, problem: dict[str, Any], samples: int, seed: int, *, second_order: bool = False
    ) -> NDArray[np.float64]:
        from SALib.sample import morris

        return np.asarray(
            morris.sample(problem, samples, num_levels=self.num_levels, seed=seed), dtype=float
        )

    def _block(self, n_names: int, second_order: bool) -> int:
        return n_names + 1

    def _salib(self, problem: dict[str, Any], x: _Array, y: _Array, s: _Settings) -> Any:
        from SALib.analyze import morris

        return morris.analyze(problem, x, y, num_levels=self.num_levels, **s.salib_keywords())


@final
class Sobol(_BlockDesign):
    """Variance-based Sobol' indices with Saltelli's sampling (Saltelli et al. 2010).

    ``samples`` is the base sample size ``N`` (a power of two, for the balance of the
    Sobol' sequence).  ``S1`` is the first-order (main-effect) index, ``ST`` the total
    index (main effect plus all interactions); ``S2`` second-order interactions on
    request.  Confidence intervals are SALib's bootstrap intervals (normal
    approximation), ``value ± conf``.
    """

    name = "sobol"
    description = "Sobol' first, total (and second-order) indices with bootstrap CIs"
    main_index = "ST"
    plotted = ("S1", "ST")
    min_samples = 16
    default_samples = 256
    supports_groups = True
    samples_meaning = "the base sample N, a power of two; N (D + 2) evaluations"
    reported = (("S1", "S1_conf"), ("ST", "ST_conf"))

    def check(self, samples: int, n_factors: int, *, second_order: bool = False) -> None:
        if samples < self.min_samples:
            raise MethodError(
                f"--samples {samples} is too small for sobol: need at least "
                f"{self.min_samples} ({self.samples_meaning})"
            )
        if samples & (samples - 1):
            lo = 1 << (samples.bit_length() - 1)
            raise MethodError(
                f"--samples {samples}: sobol needs a power of two (Sobol' sequence "
                f"balance), e.g. {lo} or {lo * 2}"
            )
        if second_order and n_factors < 2:
            raise MethodError("--second-order needs at least two factors")

    def n_evaluations(self, samples: int, n_groups: int, *, second_order: bool = False) -> int:
        return samples * ((2 * n_groups + 2) if second_order else (n_groups + 2))

    def sample(
        self, problem: dict[str, Any], samples: int, seed: int, *, second_order: bool = False
    ) -> NDArray[np.float64]:
        from SALib.sample import sobol

        return np.asarray(
            sobol.sample(problem, samples, calc_second_order=second_order, seed=seed),
            dtype=float,
        )

    def _block(self, n_names: int, second_order: bool) -> int:
        return (2 * n_names + 2) if second_order else (n_names + 2)

    def _salib(self, problem: dict[str, Any], x: _Array, y: _Array, s: _Settings) -> Any:
        from SALib.analyze import sobol

        return sobol.analyze(problem, y, calc_second_order=s.second_order, **s.salib_keywords())

    def _index_rows(self, names: list[str], si: Any, s: _Settings) -> _Rows:
        rows = super()._index_rows(names, si, s)
        if s.second_order:
            for i in range(len(names)):
                for j in range(i + 1, len(names)):
                    rows.append(_row(names[i], "S2", si["S2"][i, j], si["S2_conf"][i, j], names[j]))
        return rows


@final
class Pawn(SensitivityMethod):
    """PAWN, a moment-independent index from output CDFs (Pianosi & Wagener 2015).

    For each factor the sample is split into ``slides`` conditioning intervals; the
    index is the median over intervals of the Kolmogorov–Smirnov distance between the
    conditional and the unconditional output distribution (0 = no influence; a
    non-influential factor still gets a small positive value of order
    ``sqrt(slides / N)``, the KS statistic's sampling noise, so compare with a dummy
    factor or between factors rather than with 0).  ``samples`` is the number of
    Latin-hypercube evaluations.  The CI is ``value ± z · sd`` of a bootstrap of SALib's
    estimator over the input-output sample (as SALib does for Sobol' and Morris).
    """

    name = "pawn"
    description = "PAWN moment-independent index (median KS distance) with bootstrap CI"
    main_index = "pawn"
    plotted = ("pawn",)
    min_samples = 100
    default_samples = 512
    samples_meaning = "Latin-hypercube evaluations, at least 10 per conditioning slide"
    slides = 10
    #: Bootstrap replicates at most (each re-runs D x slides KS tests, ~1 ms each).
    max_resamples = 50

    def n_evaluations(self, samples: int, n_groups: int, *, second_order: bool = False) -> int:
        return samples

    def sample(
        self, problem: dict[str, Any], samples: int, seed: int, *, second_order: bool = False
    ) -> NDArray[np.float64]:
        from SALib.sample import latin

        return np.asarray(latin.sample(problem, samples, seed=seed), dtype=float)

    def _estimate(
        self, problem: dict[str, Any], x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> dict[str, Any]:
        from SALib.analyze import pawn

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dict(pawn.analyze(problem, x, y, S=self.slides))

    def _analyze(self, problem: dict[str, Any], x: _Array, y: _Array, s: _Settings) -> _Rows:
        plain = {k: v for k, v in problem.items() if k != "groups"}
        ok = np.isfinite(y)
        x, y = x[ok], y[ok]
        names = list(plain["names"])
        if y.size < self.slides * 2:
            return _with_n([_row(n, "pawn", math.nan) for n in names], int(y.size))
        si = self._estimate(plain, x, y)
        rng = np.random.default_rng(s.seed)
        n_boot = max(2, min(s.num_resamples, self.max_resamples))
        boot = np.empty((n_boot, len(names)))
        for b in range(n_boot):
            pick = rng.integers(0, y.size, y.size)
            boot[b] = self._estimate(plain, x[pick], y[pick])["median"]
        z = float(ndtri(0.5 + s.conf_level / 2))
        half = z * np.nanstd(boot, axis=0, ddof=1)
        rows = []
        for i, n in enumerate(names):
            rows.append(_row(n, "pawn", float(si["median"][i]), float(half[i])))
            rows.append(_row(n, "pawn_mean", float(si["mean"][i])))
            rows.append(_row(n, "pawn_max", float(si["maximum"][i])))
        return _with_n(rows, y.size)


#: Registered methods by name.
METHODS: dict[str, SensitivityMethod] = {m.name: m for m in (Morris(), Sobol(), Pawn())}


def get_method(name: str) -> SensitivityMethod:
    """A registered method by name.

    Raises
    ------
    MethodError
        Naming the known methods.
    """
    try:
        return METHODS[name]
    except KeyError:
        raise MethodError(f"unknown method {name!r}; available: {', '.join(METHODS)}") from None
