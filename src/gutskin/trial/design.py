"""Trial design files: schema, validation with errors that name the field.

The schema is documented field by field in ``docs/design-file.md``; the
built-in designs live in ``gutskin/trial/designs/*.yaml`` and are listed by
``gutskin designs``.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from gutskin.engine.yamlio import YamlInputError, read_yaml_file
from gutskin.scenario import InputModel, RegimenSpec
from gutskin.trial.endpoints import REGISTRY
from gutskin.trial.methods import kinds_of

__all__ = [
    "ENDPOINTS",
    "METHODS",
    "Design",
    "DesignError",
    "builtin_designs",
    "load_design",
    "parse_design",
]

#: Endpoints a design may ask for, with their kind (from the endpoint registry).
ENDPOINTS: dict[str, str] = {e.name: e.kind for e in REGISTRY.values()}
#: Analysis methods and the endpoint kinds they accept (from the method registry).
METHODS: dict[str, tuple[str, ...]] = kinds_of()

MAX_SAMPLE_SIZE = 100_000


#: Analysis covariate of each randomization stratification factor.
STRATUM_COVARIATES: dict[str, str] = {"sex": "sex", "severity": "baseline_iga"}


class DesignError(ValueError):
    """A design file is invalid; the message names the field and what is allowed."""


#: Largest design file accepted (bytes); designs are a few kB.
MAX_DESIGN_BYTES = 1_000_000


class _Strict(InputModel):
    """Unknown keys, NaN/inf and booleans given as numbers are refused."""


class Arm(_Strict):
    """One arm: a name and the regimens its patients receive (empty = no intervention)."""

    name: str = Field(min_length=1, max_length=64)
    regimens: list[RegimenSpec] = Field(default_factory=list)
    ratio: int = Field(default=1, ge=1, le=10)
    description: str = Field(default="", max_length=2000)


class Range(_Strict):
    """A closed interval; ``None`` leaves a side open."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class Inclusion(_Strict):
    """Entry criteria applied to the screening visit's observed values."""

    iga: Range = Field(default_factory=lambda: Range(min=2, max=3))
    inflammatory: Range = Field(default_factory=Range)
    noninflammatory: Range = Field(default_factory=Range)
    nodules_max: int = Field(default=2, ge=0)


class FromTable(_Strict):
    """Seed the screened population from a microbiome table (see docs/microbiome.md).

    Candidate ``i`` takes sample ``i mod n_samples`` (its guild profile sets the
    gut or skin state and parameters) and keeps its own sampled host parameters.
    Relative paths are resolved against the design file's folder.
    """

    table: str
    taxonomy: str | None = None
    metadata: str | None = None
    where: list[str] = Field(default_factory=list)
    kind: Literal["auto", "gut", "skin"] = "auto"
    normalise: Literal["relative", "rarefy"] = "relative"
    depth: int | None = Field(default=None, ge=1)
    drop_empty: bool = False


class Population(_Strict):
    """Who is screened: covariates, burn-in to each patient's own baseline, entry criteria."""

    age: Range = Field(default_factory=lambda: Range(min=12, max=40))
    female_fraction: float = Field(default=0.6, ge=0, le=1)
    burn_in_days: float = Field(default=240.0, ge=30, le=3650)
    inclusion: Inclusion = Field(default_factory=Inclusion)
    max_screened_per_randomized: float = Field(default=50.0, gt=1)
    from_table: FromTable | None = None


class Randomization(_Strict):
    """Allocation procedure."""

    method: Literal["simple", "block", "stratified"] = "block"
    block_size: int | None = Field(default=None, ge=1)
    strata: list[Literal["sex", "severity"]] = Field(default_factory=list)


class Adherence(_Strict):
    """Fraction of daily doses taken; each patient's own fraction ~ Beta around ``mean``."""

    mean: float = Field(default=0.9, ge=0, le=1)
    concentration: float = Field(default=20.0, gt=0)


class Dropout(_Strict):
    """Time to dropout: constant hazard (exponential) or Weibull with ``shape``."""

    rate_per_week: float = Field(default=0.0, ge=0, le=0.5)
    pattern: Literal["constant", "early", "late"] = "constant"


class PlaceboResponse(_Strict):
    """The explicit part of the placebo response (the rest emerges from the model).

    Regression to the mean arises by itself from disease-activity noise and
    counting noise combined with entry criteria.  Two explicit, documented
    components are design parameters: ``skincare`` (level of the model's
    standard skin-care input given to every arm) and ``expectation_bias``
    (fractional under-counting of lesions at post-baseline visits by raters and
    patients expecting improvement; 0 = none).
    """

    skincare: float = Field(default=0.0, ge=0, le=1)
    expectation_bias: float = Field(default=0.0, ge=0, lt=0.5)


class Measurement(_Strict):
    """Observation model: lesion counting and rater variability."""

    count_dispersion: float = Field(default=100.0, ge=0.01, le=10_000)
    rater_cv: float = Field(default=0.10, ge=0, le=1)
    iga_rater_sd: float = Field(default=0.25, ge=0, le=2)
    instrument_cv: float = Field(default=0.10, ge=0, le=1)


class Comparison(_Strict):
    """One planned comparison (each active arm vs the reference)."""

    endpoint: str
    method: str
    visit_week: float | None = None
    primary: bool = False

    @model_validator(mode="after")
    def _kind(self) -> Comparison:
        if self.method not in METHODS:
            raise ValueError(f"method {self.method!r} is unknown; allowed: {', '.join(METHODS)}")
        if self.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {self.endpoint!r}; allowed: {', '.join(ENDPOINTS)}")
        kind = ENDPOINTS[self.endpoint]
        if kind not in METHODS[self.method]:
            raise ValueError(
                f"method {self.method!r} does not apply to {kind} endpoint {self.endpoint!r}"
            )
        return self


class Analysis(_Strict):
    """The analysis plan."""

    reference_arm: str | None = None
    missing: Literal["observed", "locf", "mi"] = "observed"
    alpha: float = Field(default=0.05, gt=0, lt=1)
    adjust_for_strata: bool = True
    comparisons: list[Comparison] = Field(default_factory=list)


class Design(_Strict):
    """A complete in-silico trial design."""

    name: str = Field(min_length=1, max_length=100)
    title: str = Field(default="", max_length=1000)
    reference: str = Field(default="", max_length=2000)
    model: str = "acne"
    sample_size: int = Field(ge=2)
    duration_weeks: float = Field(ge=1, le=260)
    visits_weeks: list[float] = Field(min_length=1)
    arms: list[Arm] = Field(min_length=1)
    population: Population = Field(default_factory=Population)
    randomization: Randomization = Field(default_factory=Randomization)
    adherence: Adherence = Field(default_factory=Adherence)
    dropout: Dropout = Field(default_factory=Dropout)
    placebo_response: PlaceboResponse = Field(default_factory=PlaceboResponse)
    measurement: Measurement = Field(default_factory=Measurement)
    endpoints: list[str] = Field(default_factory=lambda: list(ENDPOINTS))
    analysis: Analysis = Field(default_factory=Analysis)

    @model_validator(mode="after")
    def _consistent(self) -> Design:
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arms: arm names must be unique, got {names}")
        if self.sample_size > MAX_SAMPLE_SIZE:
            raise ValueError(f"sample_size must be <= {MAX_SAMPLE_SIZE}, got {self.sample_size}")
        if self.sample_size < 2 * len(self.arms):
            raise ValueError(
                f"sample_size ({self.sample_size}) must give at least 2 patients per arm "
                f"({len(self.arms)} arms)"
            )
        age = self.population.age
        for side in (age.min, age.max):
            if side is not None and not 0 <= side <= 100:
                raise ValueError(f"population.age: {side:g} is outside 0..100 years")
        inc = self.population.inclusion
        for field_name in ("iga", "inflammatory", "noninflammatory"):
            rng = getattr(inc, field_name)
            top = 4 if field_name == "iga" else 10_000
            for side in (rng.min, rng.max):
                if side is not None and not 0 <= side <= top:
                    raise ValueError(
                        f"population.inclusion.{field_name}: {side:g} is outside 0..{top}"
                    )
        if not self.endpoints:
            raise ValueError("endpoints: the list is empty; name at least one endpoint")
        weeks = self.visits_weeks
        if any(w < 0 for w in weeks) or sorted(set(weeks)) != weeks:
            raise ValueError("visits_weeks must be non-negative, strictly increasing")
        if weeks[0] != 0:
            raise ValueError("visits_weeks must start with the baseline visit 0")
        if weeks[-1] > self.duration_weeks:
            raise ValueError(
                f"visits_weeks: visit at week {weeks[-1]:g} is after the end of the trial "
                f"(duration_weeks = {self.duration_weeks:g})"
            )
        for a in self.arms:
            for r in a.regimens:
                if r.start_day > self.duration_weeks * 7:
                    raise ValueError(
                        f"arms.{a.name}: regimen {r.intervention!r} starts after the trial ends"
                    )
        if sum(c.primary for c in self.analysis.comparisons) > 1:
            raise ValueError("analysis.comparisons: at most one comparison may be primary: true")
        for e in self.endpoints:
            if e not in ENDPOINTS:
                raise ValueError(f"endpoints: unknown endpoint {e!r}; allowed: {list(ENDPOINTS)}")
        block = self.randomization.block_size
        unit = sum(a.ratio for a in self.arms)
        if block is not None and self.randomization.method != "simple" and block % unit:
            raise ValueError(
                f"randomization.block_size: {block} is not a multiple of the sum of the arm "
                f"ratios ({unit}); use {unit}, {2 * unit}, {3 * unit}, ..."
            )
        ref = self.analysis.reference_arm
        if ref is not None and ref not in names:
            raise ValueError(f"analysis.reference_arm {ref!r} is not an arm; arms are {names}")
        if len(weeks) < 2:
            raise ValueError(
                "visits_weeks: a trial needs a post-baseline visit besides the baseline visit 0"
            )
        for c in self.analysis.comparisons:
            if c.visit_week is not None and c.visit_week not in weeks:
                raise ValueError(
                    f"analysis.comparisons: visit_week {c.visit_week:g} is not a visit ({weeks})"
                )
            if c.visit_week == 0:
                raise ValueError(
                    "analysis.comparisons: visit_week 0 is the baseline visit; compare the arms "
                    f"at a post-baseline visit ({', '.join(f'{w:g}' for w in weeks[1:])})"
                )
        return self

    @property
    def reference_arm(self) -> str:
        """The arm every other arm is compared with (default: the first arm)."""
        return self.analysis.reference_arm or self.arms[0].name

    def analysis_covariates(self) -> list[str]:
        """Covariates of the model-based analyses: the randomization strata by default.

        ICH E9 (1998) §5.7 and the EMA guideline on adjustment for baseline covariates
        (EMA/CHMP/295050/2013, 2015) ask that the factors used to stratify randomization
        be included in the primary analysis. ``sex`` enters as ``sex``, ``severity``
        (the baseline IGA grade it stratifies on) as the categorical ``baseline_iga``.
        Empty without stratified randomization or with ``analysis.adjust_for_strata:
        false``.
        """
        r = self.randomization
        if not self.analysis.adjust_for_strata or r.method != "stratified":
            return []
        return [STRATUM_COVARIATES[s] for s in r.strata]

    def primary_comparison(self) -> Comparison:
        """The comparison marked ``primary: true``, else the first planned one."""
        comps = self.resolved_comparisons()
        return next((c for c in comps if c.primary), comps[0])

    def resolved_comparisons(self) -> list[Comparison]:
        """Planned comparisons with the final visit filled in where none was given."""
        if self.analysis.comparisons:
            base = self.analysis.comparisons
        else:
            base = [Comparison(endpoint="inflammatory", method="ancova")]
        last = self.visits_weeks[-1]
        return [
            c if c.visit_week is not None else c.model_copy(update={"visit_week": last})
            for c in base
        ]


def _format(exc: ValidationError, where: str) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where}: field '{loc}': {msg}" if loc else f"{where}: {msg}"


def parse_design(
    data: Any, where: str = "design", *, strains: Mapping[str, Any] | None = None
) -> Design:
    """Validate a design given as plain data (``strains``: a strain library to check
    probiotic regimens against, default the packaged one)."""
    if not isinstance(data, dict):
        raise DesignError(f"{where}: expected a mapping of design fields at the top level")
    try:
        design = Design.model_validate(data)
    except ValidationError as exc:
        raise DesignError(_format(exc, where)) from None
    _check_regimens(design, where, strains)
    return design


def _check_regimens(design: Design, where: str, strains: Mapping[str, Any] | None = None) -> None:
    """Resolve every arm's regimens now, so a bad dose is named before anything runs."""
    from gutskin.model.interventions import InterventionError, resolve

    days = design.duration_weeks * 7.0
    for k, arm in enumerate(design.arms):
        regs = [
            {**r.model_dump(), "stop_day": r.stop_day if r.stop_day is not None else days}
            for r in arm.regimens
        ]
        try:
            resolve(regs, where=f"arms.{k}.regimens", strains=strains)
        except InterventionError as exc:
            raise DesignError(f"{where}: {exc}") from None


def builtin_designs() -> dict[str, Path]:
    """Built-in design files by name."""
    pkg = resources.files("gutskin.trial") / "designs"
    return {Path(str(p)).stem: Path(str(p)) for p in pkg.iterdir() if str(p).endswith(".yaml")}


def load_design(name_or_path: str | Path, *, strains: Mapping[str, Any] | None = None) -> Design:
    """Load a built-in design by name or a design YAML file by path.

    ``strains`` is the strain library its probiotic regimens are checked against
    (:func:`gutskin.model.strains.load_strains` of a user file; default the packaged one).
    """
    builtins = builtin_designs()
    if str(name_or_path) in builtins:
        path = builtins[str(name_or_path)]
    else:
        path = Path(name_or_path)
        if not path.exists():
            raise DesignError(
                f"design {str(name_or_path)!r} is neither a file nor a built-in design "
                f"({', '.join(sorted(builtins))})"
            )
    try:
        data = read_yaml_file(path, max_bytes=MAX_DESIGN_BYTES)
    except YamlInputError as exc:
        raise DesignError(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DesignError(f"{path}: cannot read design file ({exc})") from None
    design = parse_design(data, where=str(path), strains=strains)
    ft = design.population.from_table
    if ft is not None:
        upd = {
            k: str(path.parent / v)
            for k in ("table", "taxonomy", "metadata")
            if (v := getattr(ft, k)) and not Path(v).is_absolute()
        }
        pop = design.population.model_copy(update={"from_table": ft.model_copy(update=upd)})
        design = design.model_copy(update={"population": pop})
    return design
