"""Request bodies of the web explorer's API: their models, limits and checks.

Every input is bounded and validated here, before a job is queued: a bad request gets
HTTP 422 with ``{"error": message, "field": name}``; a full queue gets 429.  Numbers are
read strictly: a boolean is not a number, a string is not a number, a fraction is not an
integer, and NaN/Infinity are refused ("must be a finite number").

:data:`LIMITS` bounds every request; :class:`SimulateRequest` and
:class:`TrialRequest` are the bodies of ``POST /api/simulate`` and ``POST /api/trial``;
:func:`design_from_request` turns a trial request into a checked
:class:`~gutskin.trial.design.Design` (via :func:`gutskin.trial.design.parse_design`),
and regimen doses are checked by :func:`gutskin.model.interventions.resolve`.  The
routes that use them are in :mod:`gutskin.explorer.app`.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gutskin.engine.spec import ModelSpec
from gutskin.scenario import RegimenSpec

__all__ = [
    "BASE_MODEL",
    "LIMITS",
    "ApiError",
    "ArmRequest",
    "SimulateRequest",
    "TrialRequest",
    "design_from_request",
]

#: Server-side bounds of every request (also sent to the page by ``/api/model``).
LIMITS: dict[str, int] = {
    "patients": 500,
    "days": 365,
    "n_per_arm": 200,
    "arms_min": 2,
    "arms_max": 4,
    "duration_weeks": 52,
    "regimens": 6,
    "max_pending_jobs": 3,
    "body_bytes": 65536,
}

#: Model every explorer run uses.
BASE_MODEL = "acne"


class ApiError(Exception):
    """A request error: HTTP status, one-line message and the field it concerns."""

    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.message, self.field, self.status = message, field, status


# ---------------------------------------------------------------------- requests
class SimulateRequest(BaseModel):
    """Body of ``POST /api/simulate``.

    ``mode="population"`` simulates ``patients`` virtual patients whose per-patient
    parameters vary around the ``baseline`` medians (5–95 % bands); ``"typical"``
    simulates one patient with every parameter at its median (between-patient
    variation switched off).  ``sex`` applies the model's covariate effects
    (:data:`gutskin.population.covariates.COVARIATE_EFFECTS`) to those medians; the
    nominal parameters are the female ones.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)
    mode: Literal["population", "typical"] = "population"
    sex: Literal["F", "M"] = "F"
    patients: int = Field(default=100, ge=1, le=LIMITS["patients"])
    days: float = Field(default=84.0, gt=0, le=LIMITS["days"])
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    baseline: dict[str, float] = Field(default_factory=dict)
    regimens: list[RegimenSpec] = Field(default_factory=list, max_length=LIMITS["regimens"])
    compare_untreated: bool = True


class ArmRequest(BaseModel):
    """One trial arm: a name and its regimens (empty: no intervention)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)
    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.+\-]*$")
    regimens: list[RegimenSpec] = Field(default_factory=list, max_length=LIMITS["regimens"])


class TrialRequest(BaseModel):
    """Body of ``POST /api/trial``: a quick parallel-group trial.

    Two to four arms: the explorer compares every arm with the first (control) arm, so a
    one-arm trial has nothing to compare and is refused here (``gutskin trial`` runs
    one-arm designs, with a warning).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)
    arms: list[ArmRequest]
    n_per_arm: int = Field(default=30, ge=2, le=LIMITS["n_per_arm"])
    duration_weeks: float = Field(default=12.0, ge=1, le=LIMITS["duration_weeks"])
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    adherence: float = Field(default=0.9, ge=0, le=1)
    female_fraction: float = Field(default=0.6, ge=0, le=1)
    age_min: float = Field(default=12.0, ge=0, le=100)
    age_max: float = Field(default=40.0, ge=0, le=100)
    iga_min: int = Field(default=2, ge=0, le=4)
    iga_max: int = Field(default=3, ge=0, le=4)

    @field_validator("arms")
    @classmethod
    def _arm_count(cls, arms: list[ArmRequest]) -> list[ArmRequest]:
        lo, hi = LIMITS["arms_min"], LIMITS["arms_max"]
        if len(arms) < lo:
            raise ValueError(
                f"needs {lo} to {hi} arms, got {len(arms)}: the explorer compares each arm "
                "with the first (control) arm, so a one-arm trial has no comparison; run "
                "one-arm designs with `gutskin trial DESIGN.yaml`"
            )
        if len(arms) > hi:
            raise ValueError(f"at most {hi} arms, got {len(arms)}")
        return arms

    @model_validator(mode="after")
    def _ordered(self) -> TrialRequest:
        seen: set[str] = set()
        for i, arm in enumerate(self.arms):
            if arm.name in seen:
                raise ValueError(f"arms[{i}].name: arm name {arm.name!r} is used twice")
            seen.add(arm.name)
        if self.age_min > self.age_max:
            raise ValueError(f"age_max: {self.age_max:g} is below age_min ({self.age_min:g})")
        if self.iga_min > self.iga_max:
            raise ValueError(f"iga_max: {self.iga_max} is below iga_min ({self.iga_min})")
        return self


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


#: What a field of each pydantic type error allows (strict mode: no coercion).
_TYPE_MESSAGES = {
    "int_type": "must be a whole number (a JSON integer; not a boolean, string or fraction)",
    "int_from_float": "must be a whole number (a JSON integer, not a fraction)",
    "float_type": "must be a number (not a boolean or a string)",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
}

#: A validator message that names its own field (``"age_max: ..."``, ``"dose: ..."``).
_NAMED = re.compile(r"^([A-Za-z_]\w*(?:\[\d+\])?(?:\.[A-Za-z_]\w*)*): ")


def _parse(model: type[BaseModel], data: Any) -> Any:
    """Validate ``data`` strictly (no type coercion); errors name the field."""
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = _loc(tuple(err["loc"]))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] in _TYPE_MESSAGES:
            value = err.get("input")
            shown = json.dumps(value) if isinstance(value, bool | int | float | str) else None
            msg = _TYPE_MESSAGES[err["type"]] + (f", got {shown}" if shown else "")
        else:
            m = _NAMED.match(msg)
            if m:
                name = m.group(1)
                field = f"{field}.{name}" if field and not name.startswith(field) else name
                msg = msg[m.end() :]
        raise ApiError(f"{field or 'body'}: {msg}", field or None) from None


_REGIMEN_FIELD = re.compile(r"^regimen\[(\d+)\](?:\.(\w+))?")


def _check_regimens(regimens: list[RegimenSpec], days: float, where: str) -> None:
    """Window within the run, doses within range, at most three strains (via ``resolve``)."""
    from gutskin.model.interventions import InterventionError, resolve

    for i, r in enumerate(regimens):
        if r.start_day >= days:
            raise ApiError(
                f"{where}[{i}].start_day: {r.start_day:g} is not before the end of the run "
                f"(day {days:g})",
                f"{where}[{i}].start_day",
            )
        if r.stop_day is not None and r.stop_day > days:
            raise ApiError(
                f"{where}[{i}].stop_day: {r.stop_day:g} is after the end of the run (day {days:g})",
                f"{where}[{i}].stop_day",
            )
    regs = [
        {**r.model_dump(), "stop_day": days if r.stop_day is None else r.stop_day} for r in regimens
    ]
    try:
        resolve(regs)
    except InterventionError as exc:
        text = str(exc)
        m = _REGIMEN_FIELD.match(text)
        field = where
        if m:
            field = f"{where}[{m.group(1)}]" + (f".{m.group(2)}" if m.group(2) else "")
            text = field + text[m.end() :]
        raise ApiError(text, field) from None


def _check_baseline(values: dict[str, float], typical: bool) -> None:
    spec = _spec()
    for name, value in values.items():
        field = f"baseline.{name}"
        if name not in spec.parameter_names:
            raise ApiError(f"{field}: unknown model parameter {name!r}", field)
        p = spec.parameter(name)
        if not math.isfinite(value):
            raise ApiError(f"{field}: must be a finite number, got {value!r}", field)
        lo = p.lower if p.lower is not None else -math.inf
        hi = p.upper if p.upper is not None else math.inf
        if not lo <= value <= hi:
            raise ApiError(
                f"{field}: {value:g} is outside the parameter's range {lo:g} to {hi:g}"
                + ("" if p.unit == "1" else f" {p.unit}"),
                field,
            )
        if not typical and p.cv > 0 and value <= 0:
            raise ApiError(
                f"{field}: a per-patient parameter needs a positive median in population "
                f"mode, got {value:g}",
                field,
            )


def design_from_request(req: TrialRequest) -> Any:
    """Build and validate the trial :class:`~gutskin.trial.design.Design` of a request.

    Visits every 4 weeks and at the end; planned comparisons: inflammatory,
    non-inflammatory and total lesions at the last visit, each arm vs the first arm
    (ANCOVA on change from baseline).  Errors name the field.
    """
    from gutskin.trial.design import DesignError, parse_design

    days = req.duration_weeks * 7.0
    for a, arm in enumerate(req.arms):
        _check_regimens(arm.regimens, days, f"arms[{a}].regimens")
    weeks = sorted({0.0, *[float(w) for w in range(4, int(req.duration_weeks), 4)]})
    if req.duration_weeks not in weeks:
        weeks.append(float(req.duration_weeks))
    data = {
        "name": "explorer-trial",
        "title": f"Explorer quick trial: {' vs '.join(a.name for a in req.arms)}",
        "model": BASE_MODEL,
        "sample_size": req.n_per_arm * len(req.arms),
        "duration_weeks": req.duration_weeks,
        "visits_weeks": weeks,
        "arms": [
            {
                "name": a.name,
                "regimens": [r.model_dump(exclude_none=True) for r in a.regimens],
            }
            for a in req.arms
        ],
        "population": {
            "age": {"min": req.age_min, "max": req.age_max},
            "female_fraction": req.female_fraction,
            "inclusion": {"iga": {"min": req.iga_min, "max": req.iga_max}},
        },
        "adherence": {"mean": req.adherence},
        "analysis": {
            "comparisons": [
                {"endpoint": e, "method": "ancova"}
                for e in ("inflammatory", "noninflammatory", "total")
            ]
        },
    }
    try:
        return parse_design(data, where="trial")
    except DesignError as exc:
        m = re.search(r"field '([^']+)'", str(exc))
        raise ApiError(str(exc), m.group(1) if m else None) from None


# ---------------------------------------------------------------------- model
@functools.lru_cache(maxsize=1)
def _spec() -> ModelSpec:
    from gutskin.simulation import get_model

    return get_model(BASE_MODEL)
