"""Numerics: model specs compiled to fast batched ODE solvers. Knows no biology."""

from gutskin.engine.integrate import BatchResult, EngineError, Status, integrate
from gutskin.engine.options import SolverOptions
from gutskin.engine.random import normals, uniforms
from gutskin.engine.schedule import Exposure, Schedule, ScheduleError, Treatment, build_schedule
from gutskin.engine.spec import Assignment, Input, ModelSpec, Parameter, SpecError, State

__all__ = [
    "Assignment",
    "BatchResult",
    "EngineError",
    "Exposure",
    "Input",
    "ModelSpec",
    "Parameter",
    "Schedule",
    "ScheduleError",
    "SolverOptions",
    "SpecError",
    "State",
    "Status",
    "Treatment",
    "build_schedule",
    "integrate",
    "normals",
    "uniforms",
]
