"""Simulation scenarios: which model, which exposures, for `gutskin simulate`.

A scenario file (YAML) looks like::

    model: placeholder          # a name from gutskin.simulation.MODELS
    description: antibacterial treatment from week 2 to week 8
    exposures:                  # engine-level inputs of the model
      - {input: treatment, level: 1.0, start_day: 14, stop_day: 56}
    regimens:                   # intervention-level (models with an intervention registry)
      - {intervention: ls03, dose: 1.0e9, start_day: 0, stop_day: 56, pattern: daily,
         adherence: 0.9}

Validation errors name the field and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gutskin.engine.yamlio import YamlInputError, load_yaml

__all__ = [
    "SCENARIOS",
    "ExposureSpec",
    "RegimenSpec",
    "Scenario",
    "ScenarioError",
    "get_scenario",
    "load_scenario",
]


class ScenarioError(ValueError):
    """A scenario is invalid; the message names the field."""


class InputModel(BaseModel):
    """Base of user-input models: unknown keys, NaN/inf and booleans-as-numbers refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                value = data.get(name)
                if isinstance(value, bool) and "bool" not in str(field.annotation):
                    raise ValueError(f"{name}: expected a number, got {value!r}")
        return data


class ExposureSpec(InputModel):
    """One engine-level exposure of a model input."""

    input: str
    level: float = Field(ge=0)
    start_day: float = Field(ge=0)
    stop_day: float
    pattern: Literal["continuous", "daily"] = "continuous"
    adherence: float = Field(default=1.0, ge=0, le=1)

    @model_validator(mode="after")
    def _window(self) -> ExposureSpec:
        if self.stop_day <= self.start_day:
            raise ValueError(
                f"stop_day ({self.stop_day}) must be after start_day ({self.start_day})"
            )
        return self


class RegimenSpec(InputModel):
    """One intervention regimen, resolved through the model's intervention registry."""

    intervention: str
    dose: float | None = Field(default=None, ge=0)
    start_day: float = Field(default=0.0, ge=0)
    stop_day: float | None = None
    pattern: Literal["continuous", "daily"] = "daily"
    adherence: float = Field(default=1.0, ge=0, le=1)

    @model_validator(mode="after")
    def _window(self) -> RegimenSpec:
        if self.stop_day is not None and self.stop_day <= self.start_day:
            raise ValueError(
                f"stop_day ({self.stop_day}) must be after start_day ({self.start_day})"
            )
        return self


class Scenario(InputModel):
    """A named simulation scenario."""

    name: str = Field(default="custom", min_length=1, max_length=100)
    model: str = "placeholder"
    description: str = Field(default="", max_length=2000)
    burn_in_days: float = Field(default=0.0, ge=0)
    exposures: list[ExposureSpec] = Field(default_factory=list)
    regimens: list[RegimenSpec] = Field(default_factory=list)


def _format_validation(exc: ValidationError, where: str) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    return f"{where}: field '{loc}': {err['msg']}"


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    from gutskin.engine.yamlio import MAX_YAML_BYTES, InputFileError, read_text_bounded

    p = Path(path)
    try:
        text = read_text_bounded(p, MAX_YAML_BYTES, "scenario file")
    except InputFileError as exc:
        raise ScenarioError(str(exc)) from None
    try:
        data: Any = load_yaml(text, str(p))
    except YamlInputError as exc:
        raise ScenarioError(str(exc)) from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{p}: expected a mapping with keys model, exposures/regimens")
    trial_keys = [k for k in ("sample_size", "arms", "visits_weeks") if k in data]
    if trial_keys:
        raise ScenarioError(
            f"{p}: this is a trial design (it has {trial_keys[0]!r}), not a scenario; "
            f"run it with `gutskin trial {p}`"
        )
    data.setdefault("name", p.stem[:100])
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_validation(exc, str(p))) from None


#: Built-in scenarios, looked up by name.
SCENARIOS: dict[str, Scenario] = {
    "placeholder-untreated": Scenario(
        name="placeholder-untreated",
        model="placeholder",
        description="Placeholder toy model, no treatment.",
    ),
    "placeholder-treated": Scenario(
        name="placeholder-treated",
        model="placeholder",
        description="Placeholder toy model, antibacterial treatment from day 14 to 56.",
        exposures=[ExposureSpec(input="treatment", level=1.0, start_day=14, stop_day=56)],
    ),
    "acne-untreated": Scenario(
        name="acne-untreated",
        model="acne",
        description="Acne model, untreated virtual patients after a 240-day burn-in.",
        burn_in_days=240,
    ),
    "acne-ls03": Scenario(
        name="acne-ls03",
        model="acne",
        description="Acne model, L. salivarius LS03 1e9 CFU/day for 8 weeks (90 % adherence).",
        burn_in_days=240,
        regimens=[
            RegimenSpec(intervention="LS03", dose=1e9, start_day=0, stop_day=56, adherence=0.9)
        ],
    ),
    "acne-isotretinoin": Scenario(
        name="acne-isotretinoin",
        model="acne",
        description="Acne model, oral isotretinoin 0.5 mg/kg/day for 12 weeks.",
        burn_in_days=240,
        regimens=[
            RegimenSpec(
                intervention="isotretinoin",
                dose=0.5,
                start_day=0,
                stop_day=84,
                pattern="continuous",
            )
        ],
    ),
}


def get_scenario(name: str) -> Scenario:
    """A built-in scenario by name."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ScenarioError(
            f"unknown scenario {name!r}; built-in scenarios: {', '.join(sorted(SCENARIOS))}"
        ) from None
