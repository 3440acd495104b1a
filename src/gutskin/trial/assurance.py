"""Assurance: the probability that a trial succeeds, given what we do not know about the model.

Power answers "if the model is exactly right, how often does this trial reach p < alpha?".
Assurance (O'Hagan, Stevens & Campbell, *Pharm Stat* 2005;4:187-201) averages that power
over the uncertainty about the model itself. The simulation has two levels:

- the **outer** loop draws ``M`` parameter sets from an uncertainty source: a prior
  (:class:`PriorUncertainty`, :func:`prior_uncertainty`) or an ensemble of parameter sets
  (:class:`EnsembleUncertainty`, :func:`read_ensemble`);
- the **inner** loop runs the replicate trials of :func:`gutskin.trial.power.power_curve`
  for each set, on a virtual population (:mod:`gutskin.trial.pool`) of that model.

Each draw's power is its replicate trials' rejection rate; assurance is the (weighted) mean
of the draws' powers. Every draw reuses power's replicate seeds and pool seed (common random
numbers across sample sizes and across draws), so a draw whose parameters equal the point
values gives exactly the point-estimate power, and differences between draws come from the
parameters, not from new patients. A draw that changes only strain properties (which act
only through an arm's treatment) keeps the untreated virtual population and the arms the
strain is not in, and simulates only the arms it changes.

Quantities are named as parameters of the model (``parameters.csv``), whose population
**median** is drawn, or as ``STRAIN.property`` (e.g. ``LS03.engraftment``), a property of a
probiotic strain in the design's arms.

Random numbers: draw ``d`` of quantity ``name`` is the inverse CDF of uniform ``d`` of the
run stream ``"assurance_draw"`` (sub-key: the name), so adding a quantity does not change
the draws of the others; the rows an ensemble run samples come from ``"assurance_rows"``.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gutskin.engine import ModelSpec, SolverOptions
from gutskin.engine.random import name_key, uniforms
from gutskin.engine.structure import influential_parameters
from gutskin.engine.workers import replicate_executor
from gutskin.model.interventions import get_intervention
from gutskin.model.priors import Prior
from gutskin.model.strains import STRAIN_PROPERTIES, Strain, StrainError, load_strains
from gutskin.model.strains import property_bounds as strain_bounds
from gutskin.population.pipeline import Personalisation
from gutskin.population.sampling import NOISE_INPUT
from gutskin.simulation import get_model
from gutskin.trial.design import Comparison, Design, DesignError
from gutskin.trial.power import ANALYSES, _rows, _workers, replicate_seed
from gutskin.trial.run import MODEL_OUTPUTS, arm_treatment_of

__all__ = [
    "DEFAULT_DRAWS",
    "ENSEMBLE_RESERVED",
    "MAX_ENSEMBLE_BYTES",
    "AssuranceError",
    "AssuranceResult",
    "EnsembleUncertainty",
    "PriorUncertainty",
    "Uncertain",
    "assurance",
    "default_quantities",
    "prior_uncertainty",
    "read_ensemble",
    "weighted_quantile",
]

#: Parameter draws of a prior when none are asked for.
DEFAULT_DRAWS = 100
#: Columns of an ensemble file that are not model quantities.
ENSEMBLE_RESERVED = ("member", "weight")
#: Largest ensemble file read (bytes).
MAX_ENSEMBLE_BYTES = 50_000_000
#: Probiotic slot parameters: set by the strain in the slot, named ``STRAIN.property``.
_SLOT = re.compile(r"^pb[0-9]+_")


class AssuranceError(DesignError):
    """Invalid assurance input; the one-line message names the field and what is allowed."""


@dataclass(frozen=True)
class Uncertain:
    """One uncertain quantity and its prior.

    Parameters
    ----------
    name : str
        A model parameter (its population median is drawn) or ``STRAIN.property``.
    prior : Prior
        Its distribution.
    """

    name: str
    prior: Prior

    @property
    def strain(self) -> tuple[str, str] | None:
        """``(strain id, property)`` of a strain property, else None."""
        if "." not in self.name:
            return None
        sid, prop = self.name.split(".", 1)
        return sid, prop


@dataclass(frozen=True)
class PriorUncertainty:
    """Independent priors on named quantities (``--uncertainty prior``).

    Parameters
    ----------
    quantities : tuple of Uncertain
        The quantities and their priors; every other quantity keeps its point value.
    """

    quantities: tuple[Uncertain, ...]
    label: str = "prior"

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the uncertain quantities."""
        return tuple(q.name for q in self.quantities)

    def table(self, draws: int | None, seed: int) -> pd.DataFrame:
        """``draws`` parameter sets: columns ``draw``, the quantities, ``weight`` (equal)."""
        m = DEFAULT_DRAWS if draws is None else int(draws)
        if m < 1:
            raise AssuranceError(f"--draws must be >= 1, got {m}")
        idx = np.arange(m)
        cols: dict[str, Any] = {"draw": idx}
        for q in self.quantities:
            u = uniforms(seed, "assurance_draw", idx, 1, sub=name_key(q.name))[:, 0]
            cols[q.name] = q.prior.ppf(u)
        cols["weight"] = np.full(m, 1.0 / m)
        return pd.DataFrame(cols)


@dataclass(frozen=True)
class EnsembleUncertainty:
    """Parameter sets given as rows (``--uncertainty FILE`` or ``calibrated``).

    Parameters
    ----------
    source : str
        Where the rows came from (a path, or ``calibrated``).
    names : tuple of str
        The quantity columns.
    values : tuple of tuple of float
        One row per member, in ``names`` order.
    weights : tuple of float
        Each member's weight (>= 0, normalised when drawn; equal when the file has none).
    members : tuple of str
        Member labels (the file's ``member`` column, else the row number from 0).
    """

    source: str
    names: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    weights: tuple[float, ...]
    members: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        """The source, as recorded in outputs."""
        return self.source

    def table(self, draws: int | None, seed: int) -> pd.DataFrame:
        """Every row (``draws`` None or equal to the rows), else ``draws`` rows sampled
        without replacement, uniformly (stream ``"assurance_rows"``), in file order;
        weights normalised over the rows taken."""
        n = len(self.values)
        if draws is None or int(draws) == n:
            rows = np.arange(n)
        else:
            m = int(draws)
            if not 1 <= m <= n:
                raise AssuranceError(
                    f"--draws must be in 1..{n} (the rows of {self.source}), got {m}"
                )
            keys = uniforms(seed, "assurance_rows", np.arange(n), 1)[:, 0]
            rows = np.sort(np.argsort(keys, kind="stable")[:m])
        vals = np.asarray(self.values, dtype=np.float64).reshape(n, len(self.names))[rows]
        w = np.asarray(self.weights, dtype=np.float64)[rows]
        members = self.members or tuple(str(i) for i in range(n))
        out = pd.DataFrame({"draw": np.arange(len(rows)), "member": [members[i] for i in rows]})
        for j, name in enumerate(self.names):
            out[name] = vals[:, j]
        out["weight"] = w / w.sum()
        return out


Uncertainty = PriorUncertainty | EnsembleUncertainty


# -- resolving names ---------------------------------------------------------------------
def _design_strains(design: Design, library: Mapping[str, Strain]) -> list[str]:
    """Strain ids the design's arms give, in order of first appearance."""
    out: list[str] = []
    for arm in design.arms:
        for r in arm.regimens:
            iv = get_intervention(r.intervention, library)
            if iv.kind == "probiotic" and iv.strain is not None and iv.strain not in out:
                out.append(iv.strain)
    return out


def _bounds(
    name: str, spec: ModelSpec, library: Mapping[str, Strain], used: Sequence[str], option: str
) -> tuple[float, float]:
    """The allowed range of a quantity name, or an error naming ``option``."""
    if "." in name:
        sid, prop = name.split(".", 1)
        if sid not in library:
            raise AssuranceError(
                f"{option}: unknown strain {sid!r} in {name!r}; strains: {', '.join(library)}"
            )
        if prop not in STRAIN_PROPERTIES:
            raise AssuranceError(
                f"{option}: unknown strain property {prop!r} in {name!r}; "
                f"allowed: {', '.join(STRAIN_PROPERTIES)}"
            )
        if sid not in used:
            given = ", ".join(used) if used else "none"
            raise AssuranceError(
                f"{option}: strain {sid!r} is in no arm of the design (its strains: {given})"
            )
        return strain_bounds()[prop]
    if _SLOT.match(name) and name in spec.parameter_names:
        example = f"{used[0]}.{name.split('_', 1)[1]}" if used else "STRAIN.property"
        raise AssuranceError(
            f"{option}: {name!r} is set by the strain in its probiotic slot; "
            f"name the strain's property instead (e.g. {example})"
        )
    if name not in spec.parameter_names:
        raise AssuranceError(
            f"{option}: unknown parameter {name!r}; allowed: a parameter of the model "
            "(gutskin params) or STRAIN.property for a strain in the design's arms"
        )
    p = next(p for p in spec.parameters if p.name == name)
    if p.lower is None or p.upper is None:
        raise AssuranceError(f"{option}: parameter {name!r} has no range in parameters.csv")
    return float(p.lower), float(p.upper)


def default_quantities(
    design: Design,
    *,
    strains: Mapping[str, Strain] | None = None,
    model: ModelSpec | None = None,
) -> list[str]:
    """The quantities a prior run draws when none are named.

    The ``assumed``-confidence parameters of the model that can act on the trial's outputs
    under the design's arms (:func:`gutskin.engine.structure.influential_parameters` with
    the arms' inputs and the disease-activity noise active), except the probiotic slot
    parameters and parameters with no range or a range of one value; then every property
    of a strain in the design's arms that has a ``prior`` in the strain library.
    """
    spec = model if model is not None else get_model(design.model)
    library = dict(strains) if strains is not None else load_strains()
    active = {NOISE_INPUT}
    for arm in design.arms:
        active |= {e.input for e in arm_treatment_of(design, spec, arm.name, library).exposures}
    outputs = [o for o in MODEL_OUTPUTS.values() if o]
    moving = influential_parameters(spec, sorted(active), outputs)
    names = [
        p.name
        for p in spec.parameters
        if p.name in moving
        and p.confidence == "assumed"
        and not _SLOT.match(p.name)
        and p.lower is not None
        and p.upper is not None
        and p.lower < p.upper
    ]
    for sid in _design_strains(design, library):
        for prop in STRAIN_PROPERTIES:
            if library[sid].properties[prop].prior is not None:
                names.append(f"{sid}.{prop}")
    return names


def prior_uncertainty(
    design: Design,
    *,
    parameters: Sequence[str] | None = None,
    strains: Mapping[str, Strain] | None = None,
    model: ModelSpec | None = None,
) -> PriorUncertainty:
    """Priors on named quantities, or on :func:`default_quantities`.

    A parameter's population median gets the default prior of its ``lower``..``upper``
    range in ``parameters.csv`` (:meth:`gutskin.model.priors.Prior.from_range`:
    log-uniform when positive and wider than 10-fold, else uniform). A strain property
    ``STRAIN.property`` gets the ``prior`` of the strain library (a user strain YAML), else
    the default prior of the property's allowed range.

    Parameters
    ----------
    design : Design
        The design (its arms say which strains are in play).
    parameters : sequence of str, optional
        Quantity names; default :func:`default_quantities`.
    strains : mapping, optional
        Strain library (default: the packaged one).
    model : ModelSpec, optional
        The model (default: the design's named one).

    Raises
    ------
    AssuranceError
        An unknown or duplicated name, or nothing to draw.
    """
    spec = model if model is not None else get_model(design.model)
    library = dict(strains) if strains is not None else load_strains()
    used = _design_strains(design, library)
    names = (
        list(parameters)
        if parameters is not None
        else default_quantities(design, strains=library, model=spec)
    )
    if not names:
        raise AssuranceError(
            "--parameters: nothing to draw; name parameters (gutskin params) or "
            "STRAIN.property for a strain in the design's arms"
        )
    seen: set[str] = set()
    out = []
    for name in names:
        if name in seen:
            raise AssuranceError(f"--parameters: {name!r} is named twice")
        seen.add(name)
        lo, hi = _bounds(name, spec, library, used, "--parameters")
        prior = None
        if "." in name:
            sid, prop = name.split(".", 1)
            prior = library[sid].properties[prop].prior
        out.append(Uncertain(name, prior or Prior.from_range(lo, hi)))
    return PriorUncertainty(tuple(out))


def read_ensemble(path: str | Path, *, label: str | None = None) -> EnsembleUncertainty:
    """Read an ensemble of parameter sets from a CSV file.

    Format: a header row, then one row per member. Columns: model parameter names (the
    member's population median of each) and/or ``STRAIN.property`` names; optionally
    ``weight`` (>= 0, not all 0; normalised over the rows used; equal weights if absent) and
    ``member`` (a label). Every cell of a quantity column is a finite number. The names are
    checked against the model and the design when the run starts (:func:`assurance`).

    Parameters
    ----------
    path : str or Path
        The CSV file.
    label : str, optional
        Name recorded as the source (default: the path).

    Raises
    ------
    AssuranceError
        One line naming the file, the row or column and what is allowed.
    """
    p = Path(path)
    where = label or str(p)
    try:
        size = p.stat().st_size
        if size > MAX_ENSEMBLE_BYTES:
            raise AssuranceError(
                f"--uncertainty: {where} is {size} bytes; at most {MAX_ENSEMBLE_BYTES} allowed"
            )
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise AssuranceError(f"--uncertainty: cannot read ensemble file {where} ({why})") from None
    rows = list(csv.reader(text.splitlines()))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise AssuranceError(f"--uncertainty: {where} is empty; expected a header row of names")
    header = [h.strip() for h in rows[0]]
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise AssuranceError(f"--uncertainty: {where}: column(s) {dup} appear more than once")
    if any(not h for h in header):
        raise AssuranceError(f"--uncertainty: {where}: a column has an empty name")
    names = [h for h in header if h not in ENSEMBLE_RESERVED]
    if not names:
        raise AssuranceError(
            f"--uncertainty: {where}: no parameter columns (only {', '.join(header)}); "
            "expected model parameter names or STRAIN.property"
        )
    body = rows[1:]
    if not body:
        raise AssuranceError(f"--uncertainty: {where} has a header but no rows")
    values: list[tuple[float, ...]] = []
    weights: list[float] = []
    members: list[str] = []
    for i, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise AssuranceError(
                f"--uncertainty: {where}, line {i}: {len(r)} fields, the header has {len(header)}"
            )
        cells = dict(zip(header, (c.strip() for c in r), strict=True))
        values.append(tuple(_cell(cells[n], where, i, n) for n in names))
        w = _cell(cells["weight"], where, i, "weight") if "weight" in cells else 1.0
        if w < 0:
            raise AssuranceError(
                f"--uncertainty: {where}, line {i}, column 'weight': must be >= 0, got {w:g}"
            )
        weights.append(w)
        members.append(cells.get("member", str(i - 2)))
    if not sum(weights) > 0:
        raise AssuranceError(f"--uncertainty: {where}, column 'weight': the weights sum to 0")
    return EnsembleUncertainty(where, tuple(names), tuple(values), tuple(weights), tuple(members))


def _cell(text: str, where: str, line: int, col: str) -> float:
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not math.isfinite(x):
        raise AssuranceError(
            f"--uncertainty: {where}, line {line}, column {col!r}: expected a finite number, "
            f"got {text!r}"
        )
    return x


def _check_source(
    uncertainty: Uncertainty, spec: ModelSpec, library: Mapping[str, Strain], design: Design
) -> None:
    """Every name known, and every ensemble value inside its allowed range."""
    used = _design_strains(design, library)
    if isinstance(uncertainty, PriorUncertainty):
        for q in uncertainty.quantities:
            _bounds(q.name, spec, library, used, "--parameters")
        return
    option = f"--uncertainty {uncertainty.source}"
    for j, name in enumerate(uncertainty.names):
        lo, hi = _bounds(name, spec, library, used, option)
        col = [row[j] for row in uncertainty.values]
        bad = next((k for k, v in enumerate(col) if not lo <= v <= hi), None)
        if bad is not None:
            raise AssuranceError(
                f"{option}: row {bad + 1}, column {name!r}: {col[bad]:g} is outside the "
                f"allowed range [{lo:g}, {hi:g}]"
            )


# -- the run -------------------------------------------------------------------------------
def _variant(
    spec: ModelSpec, library: Mapping[str, Strain], values: Mapping[str, float]
) -> tuple[ModelSpec, dict[str, Strain]]:
    """The model and strain library of one draw."""
    params = {k: float(v) for k, v in values.items() if "." not in k}
    lib = dict(library)
    by_strain: dict[str, dict[str, float]] = {}
    for k, v in values.items():
        if "." in k:
            sid, prop = k.split(".", 1)
            by_strain.setdefault(sid, {})[prop] = float(v)
    for sid, props in by_strain.items():
        try:
            lib[sid] = lib[sid].with_values(**props)
        except StrainError as exc:  # pragma: no cover - checked in _check_source
            raise AssuranceError(str(exc)) from None
    return (spec.with_parameters(**params) if params else spec), lib


@dataclass(frozen=True)
class _Job:
    """What a worker needs to run draws (pickled once per chunk)."""

    design: Design
    grid: list[int]
    seed: int
    replicates: int
    comparisons: list[Comparison] | None
    spec: ModelSpec
    strains: dict[str, Strain]
    solver: SolverOptions
    population: Personalisation | None
    pool_size: int | None
    pool: Any = None  # a shared PatientPool part (strain-only uncertainty), else None
    reps: list[Any] | None = None  # its replicate draws, renumbered to the part


def _draw_chunk(job: _Job, items: list[tuple[int, dict[str, float]]]) -> list[dict[str, Any]]:
    """Every replicate row of the draws ``items`` (``(draw, values)``; draw -1: point)."""
    from gutskin.trial.pool import build_pool, pool_seed

    rows: list[dict[str, Any]] = []
    if job.pool is not None:
        # the arms no draw of the chunk changes (e.g. placebo) are simulated once, here
        assert job.reps is not None
        design, spec0 = job.pool.design, job.pool.spec
        libs = [_variant(job.spec, job.strains, values)[1] for _, values in items]
        stable = [
            arm.name
            for arm in design.arms
            if all(
                arm_treatment_of(design, spec0, arm.name, lib)
                == arm_treatment_of(design, spec0, arm.name, job.strains)
                for lib in libs
            )
        ]
        job.pool.simulate_arms(job.reps, arms=stable)
    for d, values in items:
        spec, lib = _variant(job.spec, job.strains, values)
        if job.pool is not None:
            vp, reps = job.pool.with_strains(lib), job.reps
        else:
            vp = build_pool(
                job.design,
                seed=pool_seed(job.seed),
                size=job.pool_size,
                solver=job.solver,
                population=job.population,
                model=spec,
                strains=lib,
            )
            reps = [vp.draw(replicate_seed(job.seed, r)) for r in range(job.replicates)]
        assert reps is not None
        vp.simulate_arms(reps)
        for r, rep in enumerate(reps):
            for row in _rows(vp.trial(rep), job.grid, r, job.comparisons):
                rows.append({"draw": d, **row, "pool": vp.n_eligible_reference})
    return rows


def weighted_quantile(
    x: Iterable[float], w: Iterable[float], q: float | Sequence[float]
) -> NDArray[np.float64]:
    """Weighted quantiles by midpoint plotting positions (Hazen's rule for equal weights).

    Value ``i`` of the sorted sample sits at cumulative probability ``F_i - w_i / 2``
    (weights normalised); quantiles interpolate linearly between, and are clamped to the
    smallest and largest value outside.
    """
    xs = np.asarray(list(x), dtype=np.float64)
    ws = np.asarray(list(w), dtype=np.float64)
    order = np.argsort(xs, kind="stable")
    xs, ws = xs[order], ws[order] / ws.sum()
    pos = np.cumsum(ws) - ws / 2.0
    return np.asarray(np.interp(np.asarray(q, dtype=np.float64), pos, xs), dtype=np.float64)


def _exact_mean(values: Sequence[float], weights: Sequence[float]) -> float:
    """Weighted mean in exact rational arithmetic (equal values give exactly that value)."""
    fw = [Fraction(float(w)) for w in weights]
    num = sum((Fraction(float(v)) * w for v, w in zip(values, fw, strict=True)), Fraction(0))
    return float(num / sum(fw, Fraction(0)))


@dataclass(frozen=True, eq=False)
class AssuranceResult:
    """The outputs of :func:`assurance`.

    Attributes
    ----------
    summary : DataFrame
        Per comparison (``endpoint, method, visit_week, arm, reference``) × ``n``:
        ``point_power`` (the model at its point values), ``assurance`` (power averaged
        over the draws, weighted), ``power_median``, ``power_q10``, ``power_q90`` (median
        and 80 % interval of power across draws, weighted quantiles), ``n_draws``,
        ``n_replicates``.
    draws : DataFrame
        Per draw × comparison: ``draw``, ``member`` (ensemble runs), each quantity's value,
        ``weight``, ``true_effect`` (the mean estimate over the draw's replicate trials at
        the largest n: the effect the trial estimates under that parameter set),
        ``power_n<N>`` per sample size, and ``pool`` (eligible candidates of its virtual
        population).
    power : DataFrame
        Per draw × comparison × n: ``power``, ``ci_low``, ``ci_high``, ``n_replicates``,
        ``mean_estimate``.
    point : DataFrame
        The point-estimate power curve, as :func:`gutskin.trial.power.power_curve` returns it.
    raw : DataFrame
        Every replicate's comparison of every draw (``draw`` -1: the point values).
    names : tuple of str
        The uncertain quantities.
    source : str
        ``prior``, ``calibrated`` or the ensemble file.
    """

    summary: pd.DataFrame
    draws: pd.DataFrame
    power: pd.DataFrame
    point: pd.DataFrame
    raw: pd.DataFrame
    names: tuple[str, ...]
    source: str

    def smallest_n(self, target: float = 0.8) -> pd.DataFrame:
        """Smallest n of the grid whose assurance reaches ``target``, per comparison."""
        keys = ["endpoint", "method", "visit_week", "arm"]
        rows = []
        for key, g in self.summary.groupby(keys, sort=False):
            ok = g[g["assurance"] >= target].sort_values("n")
            rows.append(
                {
                    **dict(zip(keys, key, strict=True)),
                    "target_assurance": target,
                    "smallest_n": int(ok["n"].iloc[0]) if len(ok) else None,
                    "assurance_at_largest_n": float(g.sort_values("n")["assurance"].iloc[-1]),
                }
            )
        return pd.DataFrame(rows)


def assurance(
    design: Design,
    n_grid: Sequence[int],
    *,
    uncertainty: Uncertainty,
    replicates: int,
    draws: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    solver: SolverOptions | None = None,
    population: Personalisation | None = None,
    pool: int | None = None,
    analyses: Literal["primary", "all"] | str = "primary",
    strains: Mapping[str, Strain] | None = None,
    model: ModelSpec | None = None,
    progress: Callable[[int, int], None] | None = None,
    stage: Callable[[str], None] | None = None,
    scheduler: Literal["inprocess", "dask"] | str = "inprocess",
    address: str | None = None,
) -> AssuranceResult:
    """Assurance and the power band over parameter uncertainty, at each total sample size.

    Parameters
    ----------
    design : Design
        The trial design.
    n_grid : sequence of int
        Total sample sizes.
    uncertainty : PriorUncertainty or EnsembleUncertainty
        Where the parameter sets come from (:func:`prior_uncertainty`,
        :func:`read_ensemble`).
    replicates : int
        Replicate trials per parameter set (each analysed at every size).
    draws : int, optional
        Parameter sets: default :data:`DEFAULT_DRAWS` for a prior, every row of an
        ensemble (fewer: sampled without replacement).
    seed : int
        Fixes every number of the run; replicate ``r`` of every draw uses power's seed
        :func:`~gutskin.trial.power.replicate_seed` ``(seed, r)``.
    workers : int, optional
        Processes (default: one per core); results are identical for any number.
    solver : SolverOptions, optional
        Engine settings.
    population : Personalisation, optional
        Source seeding the candidates (a design with ``population.from_table``).
    pool : int, optional
        Eligible candidates in each virtual population (default as
        :func:`~gutskin.trial.pool.build_pool`).
    analyses : {"primary", "all"}
        The design's primary comparison or every planned one.
    strains : mapping, optional
        Strain library (a user strain YAML merged, with its priors); default packaged.
    model : ModelSpec, optional
        The model at its point values (default: the design's named one).
    progress : callable, optional
        ``progress(done, total)`` as parameter sets finish (the point values included).
    stage : callable, optional
        Called with a short text when a stage starts.
    scheduler : {"inprocess", "dask"}
        Where draws run (:func:`gutskin.engine.workers.replicate_executor`).
    address : str, optional
        Scheduler address of an existing Dask cluster.

    Returns
    -------
    AssuranceResult

    References
    ----------
    O'Hagan A, Stevens JW, Campbell MJ. Assurance in clinical trial design. *Pharm Stat*
    2005;4(3):187-201. doi:10.1002/pst.175
    """
    from gutskin.trial.pool import build_pool, pool_seed

    grid = sorted({int(n) for n in n_grid})
    if not grid or grid[0] < 2 * len(design.arms):
        raise AssuranceError(
            f"--n: every sample size must be >= {2 * len(design.arms)} "
            f"(2 per arm), got {list(n_grid)}"
        )
    if replicates < 1:
        raise AssuranceError(f"--replicates must be >= 1, got {replicates}")
    if analyses not in ANALYSES:
        raise AssuranceError(f"--analyses must be one of {', '.join(ANALYSES)}, got {analyses!r}")
    if pool is not None and not (isinstance(pool, int) and pool >= 1):
        raise AssuranceError(
            f"--pool must be a positive integer with --uncertainty ('fresh' is not supported), "
            f"got {pool!r}"
        )
    spec0 = model if model is not None else get_model(design.model)
    lib0 = dict(strains) if strains is not None else load_strains()
    _check_source(uncertainty, spec0, lib0, design)
    table = uncertainty.table(draws, seed)
    names = tuple(uncertainty.names)
    strain_only = all("." in n for n in names)
    comparisons = [design.primary_comparison()] if analyses == "primary" else None
    big = design.model_copy(update={"sample_size": grid[-1]})
    opts = solver or SolverOptions()
    items: list[tuple[int, dict[str, float]]] = [(-1, {})] + [
        (int(r["draw"]), {n: float(r[n]) for n in names}) for _, r in table.iterrows()
    ]
    job = _Job(big, grid, seed, replicates, comparisons, spec0, lib0, opts, population, pool)
    if strain_only:
        if stage:
            stage("virtual population")
        base = build_pool(
            big,
            seed=pool_seed(seed),
            size=pool,
            solver=opts,
            population=population,
            model=spec0,
            strains=lib0,
        )
        reps = [base.draw(replicate_seed(seed, r)) for r in range(replicates)]
        part, moved = base.part(reps, states=True)
        job = _Job(
            big, grid, seed, replicates, comparisons, spec0, lib0, opts, population, pool,
            part, moved,
        )  # fmt: skip
    if stage:
        stage(f"{len(items) - 1} parameter sets x {replicates} replicate trials")
    n_workers = _workers(workers, len(items))
    parallel = n_workers > 1 or scheduler == "dask"
    n_chunks = 1 if not parallel else min(len(items), 4 * n_workers)
    bounds = np.linspace(0, len(items), n_chunks + 1).astype(int)
    chunks = [items[a:b] for a, b in pairwise(bounds) if b > a]
    rows: list[dict[str, Any]] = []
    done = 0
    if not parallel:
        for it in items:
            rows.extend(_draw_chunk(job, [it]))
            done += 1
            if progress:
                progress(done, len(items))
    else:
        with replicate_executor(n_workers, scheduler=scheduler, address=address) as ex:
            futs = [ex.submit(_draw_chunk, job, c) for c in chunks]
            sizes = {id(f): len(c) for f, c in zip(futs, chunks, strict=True)}
            for fut in as_completed(futs):
                done += sizes[id(fut)]
                if progress:
                    progress(done, len(items))
            for fut in futs:  # in draw order: results never depend on workers
                rows.extend(fut.result())
    raw = pd.DataFrame(rows)
    return _summarise(raw, table, names, grid, design.analysis.alpha, uncertainty.label)


_KEYS = ["endpoint", "method", "visit_week", "arm", "reference"]


def _summarise(
    raw: pd.DataFrame,
    table: pd.DataFrame,
    names: tuple[str, ...],
    grid: list[int],
    alpha: float,
    source: str,
) -> AssuranceResult:
    from gutskin.trial.summaries import power_from_pvalues

    per: list[dict[str, Any]] = []
    for key, g in raw.groupby(["draw", *_KEYS, "n"], sort=False):
        pw = power_from_pvalues(g["p_value"].to_numpy(dtype=float), alpha=alpha)
        per.append(
            {
                **dict(zip(["draw", *_KEYS, "n"], key, strict=True)),
                **pw,
                "mean_estimate": float(np.nanmean(g["estimate"].to_numpy(dtype=float))),
                "pool": int(g["pool"].iloc[0]),
            }
        )
    power = pd.DataFrame(per).sort_values(["draw", *_KEYS, "n"], kind="stable")
    power = power.reset_index(drop=True)
    point = power[power["draw"] == -1].drop(columns="draw").reset_index(drop=True)
    by_draw = power[power["draw"] >= 0].merge(table[["draw", "weight"]], on="draw")
    summary = []
    for key, g in by_draw.groupby([*_KEYS, "n"], sort=False):
        p = g["power"].to_numpy(dtype=float)
        w = g["weight"].to_numpy(dtype=float)
        q10, q50, q90 = weighted_quantile(p, w, [0.1, 0.5, 0.9])
        pt = point
        for k, v in zip([*_KEYS, "n"], key, strict=True):
            pt = pt[pt[k] == v]
        summary.append(
            {
                **dict(zip([*_KEYS, "n"], key, strict=True)),
                "point_power": float(pt["power"].iloc[0]) if len(pt) else math.nan,
                "assurance": _exact_mean(p.tolist(), w.tolist()),
                "power_median": float(q50),
                "power_q10": float(q10),
                "power_q90": float(q90),
                "n_draws": len(g),
                "n_replicates": int(g["n_replicates"].iloc[0]),
            }
        )
    summ = pd.DataFrame(summary)
    # one row per draw x comparison: the draw's values, its effect and power per n
    largest = power[(power["draw"] >= 0) & (power["n"] == grid[-1])]
    wide = largest[["draw", *_KEYS, "mean_estimate", "pool"]].rename(
        columns={"mean_estimate": "true_effect"}
    )
    for n in grid:
        col = power[(power["draw"] >= 0) & (power["n"] == n)][["draw", *_KEYS, "power"]]
        wide = wide.merge(col.rename(columns={"power": f"power_n{n}"}), on=["draw", *_KEYS])
    draws = table.merge(wide, on="draw").sort_values(["draw", *_KEYS], kind="stable")
    return AssuranceResult(
        summary=summ,
        draws=draws.reset_index(drop=True),
        power=power,
        point=point,
        raw=raw,
        names=names,
        source=source,
    )
