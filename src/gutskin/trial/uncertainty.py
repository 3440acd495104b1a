"""Sources of uncertainty for assurance: priors on parameters and strain properties, and
ensembles of parameter sets (``--uncertainty prior|calibrated|FILE``).

:mod:`gutskin.trial.assurance` draws from these in its outer loop; the file format and the
prior rules are documented in docs/assurance.md.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gutskin.engine import ModelSpec
from gutskin.engine.random import name_key, uniforms
from gutskin.engine.structure import influential_parameters
from gutskin.model.interventions import get_intervention
from gutskin.model.priors import Prior
from gutskin.model.strains import STRAIN_PROPERTIES, Strain, load_strains
from gutskin.model.strains import property_bounds as strain_bounds
from gutskin.population.sampling import NOISE_INPUT
from gutskin.simulation import get_model
from gutskin.trial.design import Design, DesignError
from gutskin.trial.run import MODEL_OUTPUTS, arm_treatment_of

__all__ = [
    "DEFAULT_DRAWS",
    "ENSEMBLE_RESERVED",
    "MAX_ENSEMBLE_BYTES",
    "AssuranceError",
    "EnsembleUncertainty",
    "PriorUncertainty",
    "Uncertain",
    "Uncertainty",
    "default_quantities",
    "prior_uncertainty",
    "read_ensemble",
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
