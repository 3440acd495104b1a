"""The web explorer: a small Starlette app over the public gutskin API.

Endpoints (all JSON unless noted)::

    GET    /                          the page (static/index.html)
    GET    /api/health                {ready, error, version}: model loaded?
    GET    /api/model                 limits, parameters (with sources), states, interventions
    GET    /api/causal.svg            causal diagram at nominal values (SVG)
    POST   /api/simulate              queue a simulation        -> 202 {job}
    POST   /api/trial                 queue a quick trial       -> 202 {job}
    GET    /api/jobs/{id}             state, stage, progress, result
    DELETE /api/jobs/{id}             cancel
    GET    /api/jobs/{id}/files/{f}   a job's figure or download (design.yaml, results.json, ...)

Every input is bounded and validated here, before a job is queued: a bad request gets
HTTP 422 with ``{"error": message, "field": name}``; a full queue gets 429.  Numbers are
read strictly: a boolean is not a number, a string is not a number, a fraction is not an
integer, and NaN/Infinity are refused ("must be a finite number").  Jobs run one at a
time on a worker thread (:mod:`gutskin.explorer.jobs`), report progress and can be
cancelled.

Every request, on every route, first passes :class:`RequestGuard` (the server listens
on this machine and must not be driven by the web pages its user visits):

* ``Host`` must be a loopback name (``127.0.0.1``, ``localhost``, ``[::1]``, any port)
  or the ``--host``/``--allow-host`` the server was started with, else 421: a DNS
  rebinding page (``evil.example`` resolving to 127.0.0.1) cannot read results;
* an ``Origin`` header, when present, must be this server's own origin (scheme http or
  https, the same host and port as ``Host``), else 403: no cross-site page can queue
  or cancel jobs (no Origin: a non-browser client, accepted);
* a POST body must be ``application/json`` (else 415), so a cross-site form or
  ``text/plain`` fetch cannot even be sent without a CORS preflight, which this server
  never grants;
* a body is at most ``LIMITS["body_bytes"]``: a larger ``Content-Length`` is refused
  (413) before anything is read, and a body without one (chunked) is read piece by
  piece and refused as soon as it passes the cap.

The app holds no model or statistics logic: simulations go through
:func:`gutskin.simulation.simulate`, trials through
:func:`gutskin.trial.design.parse_design`, :func:`gutskin.trial.run.run_trial` and
:func:`gutskin.outputs.write_trial_outputs` (the same files as ``gutskin trial``),
doses through :func:`gutskin.model.interventions.resolve`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from gutskin._version import __version__
from gutskin.engine.spec import ModelSpec
from gutskin.explorer.jobs import Job, JobManager, QueueFull
from gutskin.scenario import SCENARIOS, RegimenSpec, Scenario

__all__ = [
    "BASELINE_CONTROLS",
    "LIMITS",
    "LOOPBACK_HOSTS",
    "ApiError",
    "RequestGuard",
    "SimulateRequest",
    "TrialRequest",
    "create_app",
    "design_from_request",
    "model_info",
]

STATIC = Path(__file__).resolve().parent / "static"

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

#: Baseline controls shown first on the page: per-patient parameters of the acne model
#: whose population median the user sets (label, what it stands for).  The model has no
#: sex or age: androgen tone and host IGF-1 are the nearest host factors.
BASELINE_CONTROLS: tuple[tuple[str, str], ...] = (
    ("gut_dysbiosis", "Gut dysbiosis (higher: lower gut diversity)"),
    ("keratinization", "Follicular hyperkeratinisation (comedonal severity)"),
    ("immune_reactivity", "Innate reactivity to C. acnes (inflammatory severity)"),
    ("androgen_tone", "Androgen / sebaceous tone (sebum; nearest to sex, puberty)"),
    ("igf1_host", "Host IGF-1 (nearest to age, puberty, diet)"),
    ("flare_sd", "Flare variability (fast noise on skin inflammation)"),
    ("activity_sd", "Disease-activity variability (weeks-long waxing and waning)"),
)

#: Model every explorer run uses, and the untreated run-in before day 0.
BASE_MODEL = "acne"
BURN_IN_DAYS = SCENARIOS["acne-untreated"].burn_in_days
#: Patients per compiled call: small, so progress and cancellation come often.
CHUNK = 25


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


# ---------------------------------------------------------------------- model data
@functools.lru_cache(maxsize=1)
def _spec() -> ModelSpec:
    from gutskin.simulation import get_model

    return get_model(BASE_MODEL)


def _edges() -> tuple[tuple[str, str, int], ...]:
    with _MODEL_LOCK:
        return _edges_cached()


@functools.lru_cache(maxsize=1)
def _edges_cached() -> tuple[tuple[str, str, int], ...]:
    from gutskin.report.model_doc import causal_edges

    return tuple(causal_edges(_spec()))


def _groups() -> dict[str, str]:
    return dict(_spec().metadata.get("compartments", {}))


#: Serialises the one-off SymPy work behind the cached model data (warm-up vs. requests).
_MODEL_LOCK = threading.RLock()


def model_info() -> dict[str, Any]:
    """What the page needs to build its forms: limits, parameters, states, interventions."""
    with _MODEL_LOCK:
        return _model_info()


@functools.lru_cache(maxsize=1)
def _model_info() -> dict[str, Any]:
    from gutskin.model.interventions import INTERVENTIONS
    from gutskin.population.covariates import COVARIATE_EFFECTS

    spec = _spec()
    pnames = set(spec.parameter_names)
    rates = spec.expanded_rates
    states = [
        {
            "name": s.name,
            "unit": s.unit,
            "description": s.description,
            "group": _groups().get(s.name, ""),
            "parameters": sorted(str(x) for x in rates[s.name].free_symbols if str(x) in pnames),
        }
        for s in spec.states
    ]
    params = [{**dataclasses.asdict(p), "per_patient": p.cv > 0} for p in spec.parameters]
    interventions = [
        {
            "name": iv.name,
            "description": iv.description,
            "kind": iv.kind,
            "dose_unit": iv.dose_unit,
            "default_dose": iv.default_dose,
            "dose_min": iv.dose_range[0],
            "dose_max": iv.dose_range[1],
            "mechanism": iv.mechanism,
            "source": iv.source,
        }
        for iv in INTERVENTIONS.values()
    ]
    effects = [
        {"parameter": e.parameter, "sex": e.sex, "factor": e.factor, "source": e.source}
        for e in COVARIATE_EFFECTS
    ]
    return {
        "version": __version__,
        "covariate_effects": effects,
        "model": {"name": spec.name, "version": spec.version, "description": spec.description},
        "limits": LIMITS,
        "burn_in_days": BURN_IN_DAYS,
        "baseline_controls": [{"name": n, "label": lab} for n, lab in BASELINE_CONTROLS],
        "parameters": params,
        "states": states,
        "interventions": interventions,
    }


def _nominal_svg() -> str:
    with _MODEL_LOCK:
        return _nominal_svg_cached()


@functools.lru_cache(maxsize=1)
def _nominal_svg_cached() -> str:
    from gutskin.explorer.plots import causal_svg

    spec = _spec()
    nominal = dict(zip(spec.state_names, spec.initial_values(), strict=True))
    return causal_svg(spec.states, _edges(), _groups(), nominal=nominal)


@functools.lru_cache(maxsize=32)
def _variant(values: tuple[tuple[str, float], ...], typical: bool) -> ModelSpec:
    spec = _spec().with_parameters(**dict(values)) if values else _spec()
    if typical:
        spec = dataclasses.replace(
            spec, parameters=[dataclasses.replace(p, cv=0.0) for p in spec.parameters]
        )
    return spec


def _medians(baseline: dict[str, float], sex: str) -> dict[str, float]:
    """Parameter medians that differ from nominal: the user's, then the sex covariate effects."""
    import numpy as np

    from gutskin.population.covariates import apply_covariates

    spec = _spec()
    nominal = spec.parameter_values()
    row = np.array([[baseline.get(n, nominal[n]) for n in spec.parameter_names]])
    adjusted = apply_covariates(spec, row, [sex])[0]
    return {
        n: float(v)
        for n, v in zip(spec.parameter_names, adjusted, strict=True)
        if n in baseline or v != nominal[n]
    }


def _model_for(values: dict[str, float], typical: bool) -> ModelSpec | None:
    """The model to simulate: ``None`` for the acne model itself, else a variant object.

    A variant is the acne spec with new parameter medians
    (:meth:`~gutskin.engine.spec.ModelSpec.with_parameters`) and, for a typical patient,
    no between-patient variation; it is passed to ``simulate(..., model=...)`` and never
    registered anywhere (``gutskin.simulation.MODELS`` is read-only). Same structure, so
    the same compiled kernel. :func:`_variant` keeps the last 32 variants.
    """
    if not values and not typical:
        return None
    key = tuple(sorted((k, float(v)) for k, v in values.items()))
    return _variant(key, typical)


# ---------------------------------------------------------------------- jobs
def _simulate_job(req: SimulateRequest) -> Callable[[Job], dict[str, Any]]:
    def run(job: Job) -> dict[str, Any]:
        from gutskin.explorer.plots import band_summary, causal_svg, node_values, trajectory_png
        from gutskin.simulation import simulate

        typical = req.mode == "typical"
        n = 1 if typical else req.patients
        model = _model_for(_medians(req.baseline, req.sex), typical)
        treated = Scenario(
            name="explorer",
            model=BASE_MODEL,
            description="web explorer run",
            burn_in_days=BURN_IN_DAYS,
            regimens=req.regimens,
        )
        runs = [("treated", treated)]
        if req.compare_untreated and req.regimens:
            runs.append(("untreated", treated.model_copy(update={"regimens": []})))
        out = {}
        for k, (label, sc) in enumerate(runs):
            stage = f"simulating {n} patient(s), {label}"

            def tick(done: int, k: int = k, stage: str = stage) -> None:
                job.report(stage, (k + done / n) / len(runs) * 0.95)

            job.report(stage + " (burn-in)", k / len(runs) * 0.95)
            out[label] = simulate(
                sc,
                patients=n,
                days=req.days,
                seed=req.seed,
                chunk_size=CHUNK,
                progress=tick,
                model=model,
            )
        job.report("drawing", 0.96)
        ds, unt = out["treated"], out.get("untreated")
        windows = [
            (r.start_day, req.days if r.stop_day is None else r.stop_day, r.intervention)
            for r in req.regimens
        ]
        (job.workdir / "trajectories.png").write_bytes(trajectory_png(ds, unt, windows))
        spec = _spec()
        values = node_values(ds, spec.state_names)
        svg = causal_svg(spec.states, _edges(), _groups(), values)
        (job.workdir / "causal.svg").write_text(svg)
        base = f"/api/jobs/{job.id}/files"
        return {
            "kind": "simulate",
            "mode": req.mode,
            "sex": req.sex,
            "patients": n,
            "days": req.days,
            "seed": req.seed,
            "n_failed": int((ds["status"].values != 0).sum()),
            "plot": f"{base}/trajectories.png",
            "causal": f"{base}/causal.svg",
            "summary": band_summary(ds, unt),
            "nodes": {k: list(v) for k, v in values.items()},
            "request": req.model_dump(mode="json"),
        }

    return run


def _trial_job(design: Any, seed: int) -> Callable[[Job], dict[str, Any]]:
    def run(job: Job) -> dict[str, Any]:
        from gutskin.io.provenance import now_iso
        from gutskin.microbiome import population_for_design
        from gutskin.outputs import write_trial_outputs
        from gutskin.trial.run import run_trial

        started = now_iso()
        population = population_for_design(design, seed)

        def tick(stage: str, done: int, total: int) -> None:
            share = 0.45 if stage == "screening" else 0.9
            base = 0.0 if stage == "screening" else 0.45
            job.report(f"{stage} {done}/{total}", base + (share - base) * done / max(total, 1))

        job.report("screening", 0.0)
        result = run_trial(design, seed=seed, progress=tick, population=population)
        job.report("analysing and drawing", 0.92)
        out = job.workdir / "trial"
        results = write_trial_outputs(
            result, out, started=started, extra={"command": "gutskin explore"}
        )
        base = f"/api/jobs/{job.id}/files/trial"
        figures = {
            p.stem: f"{base}/figures/{p.name}" for p in sorted((out / "figures").glob("*.png"))
        }
        return {
            "kind": "trial",
            "seed": seed,
            "screening": results["screening"],
            "arms": results["arms"],
            "comparisons": results["comparisons"],
            "solver_failures": results["solver_failures"],
            "figures": figures,
            "downloads": {
                "design.yaml": f"{base}/design.yaml",
                "results.json": f"{base}/results.json",
                "report.html": f"{base}/report.html",
                "endpoints.parquet": f"{base}/endpoints.parquet",
                "patients.csv": f"{base}/patients.csv",
            },
        }

    return run


# ---------------------------------------------------------------------- handlers
def _error(exc: ApiError) -> JSONResponse:
    return JSONResponse({"error": exc.message, "field": exc.field}, status_code=exc.status)


def _too_large() -> ApiError:
    return ApiError(f"request body over {LIMITS['body_bytes']} bytes", None, 413)


async def _body(request: Request) -> Any:
    """The JSON object of a request body, read piece by piece and never past the cap.

    A declared ``Content-Length`` over the cap was already refused by
    :class:`RequestGuard`; this catches bodies without one (chunked) and bodies longer
    than they declared.
    """
    cap = LIMITS["body_bytes"]
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > cap:
            raise _too_large()
        parts.append(part)
    raw = b"".join(parts)
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError("request body is not valid JSON", None, 400) from None
    if not isinstance(data, dict):
        raise ApiError("request body must be a JSON object", None, 422)
    if not _valid_unicode(data):
        # JSON may escape a lone surrogate (\\ud800); such a string cannot be written
        # out as UTF-8 later, so it is refused here (it was a 500)
        raise ApiError("request body holds text that is not valid Unicode", None, 400)
    return data


def _valid_unicode(value: Any) -> bool:
    """Whether every string (and key) in parsed JSON encodes as UTF-8 (no lone surrogate)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return True


# ---------------------------------------------------------------------- request guard
#: Host names always accepted (with any port): this machine's loopback names.
LOOPBACK_HOSTS: frozenset[str] = frozenset({"127.0.0.1", "localhost", "[::1]"})

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_PORT = re.compile(r"^\d{1,5}$")


def normalise_host(name: str) -> str:
    """A host name as it appears in a ``Host`` header: lower case, IPv6 in brackets."""
    name = name.strip().lower().rstrip(".")
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    return name


def _split_netloc(netloc: str) -> tuple[str, str] | None:
    """``(host, port)`` of ``host[:port]`` (port ``""`` if absent); None if malformed."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            return None
        host, rest = netloc[: end + 1], netloc[end + 1 :]
    else:
        host, sep, port = netloc.partition(":")
        rest = sep + port
    if rest and not (rest.startswith(":") and _PORT.match(rest[1:])):
        return None
    if not host or any(c in host for c in "/@?# \t\\"):
        return None
    return host.rstrip("."), rest[1:]


class RequestGuard:
    """ASGI middleware: Host, Origin, Content-Type and Content-Length checks on every route.

    See the module docstring for the rules.  Refusals are JSON ``{"error", "field"}``
    with 421 (Host), 403 (Origin), 415 (Content-Type), 413 (size) or 400 (a malformed
    header).
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = LOOPBACK_HOSTS | {normalise_host(h) for h in allowed_hosts if h.strip()}

    def check(self, method: str, headers: Headers) -> ApiError | None:
        """The refusal of a request with these headers, or None if it may pass."""
        allowed = ", ".join(sorted(self.allowed))
        host_header = headers.get("host")
        if host_header is None:
            return ApiError(f"Host header missing; allowed hosts: {allowed}", "Host", 421)
        parts = _split_netloc(host_header)
        if parts is None or parts[0] not in self.allowed:
            return ApiError(
                f"Host {host_header[:100]!r} is not served here; allowed hosts: {allowed} "
                "(any port; start with --host or --allow-host to add one)",
                "Host",
                421,
            )
        origin = headers.get("origin")
        if origin is not None:
            o = urlsplit(origin.strip()) if origin.strip().lower() != "null" else None
            o_parts = _split_netloc(o.netloc) if o and o.scheme in ("http", "https") else None
            default = {"http": "80", "https": "443"}.get(o.scheme if o else "", "")
            if (
                o_parts is None
                or o is None
                or o.path not in ("", "/")
                or o_parts[0] != parts[0]
                or (o_parts[1] or default) != (parts[1] or default)
            ):
                return ApiError(
                    f"cross-origin request refused: Origin {origin[:100]!r} is not this "
                    f"server ({host_header[:100]}); use the explorer page itself",
                    "Origin",
                    403,
                )
        if method in _BODY_METHODS:
            ctype = headers.get("content-type", "")
            media = ctype.split(";", 1)[0].strip().lower()
            if media != "application/json":
                shown = repr(ctype[:100]) if ctype else "none"
                return ApiError(
                    f"Content-Type must be application/json, got {shown}", "Content-Type", 415
                )
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                return ApiError(
                    f"Content-Length must be a whole number of bytes, got {length[:40]!r}",
                    "Content-Length",
                    400,
                )
            if int(length) > LIMITS["body_bytes"]:
                return _too_large()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self.check(scope.get("method", "GET"), Headers(scope=scope))
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await _error(refusal)(scope, receive, send)
        else:  # pragma: no cover - no websocket routes
            await send({"type": "websocket.close", "code": 1008})


def _jobs(request: Request) -> JobManager:
    jobs: JobManager = request.app.state.jobs
    return jobs


def _submit(request: Request, kind: str, func: Callable[[Job], dict[str, Any]]) -> Response:
    try:
        job = _jobs(request).submit(kind, func)
    except QueueFull as exc:
        return _error(ApiError(str(exc), None, 429))
    return JSONResponse({"job": job.to_dict()}, status_code=202)


async def index(request: Request) -> Response:
    """The single page."""
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def health(request: Request) -> Response:
    """Whether the model is loaded (the first start compiles it)."""
    jobs = _jobs(request)
    return JSONResponse(
        {"ready": jobs.ready.is_set(), "error": jobs.warm_error, "version": __version__}
    )


def model(request: Request) -> Response:
    """Model metadata for the page's forms and parameter table (run in the thread pool)."""
    return JSONResponse(model_info())


def causal(request: Request) -> Response:
    """The causal diagram with nominal values (run in the thread pool)."""
    return Response(_nominal_svg(), media_type="image/svg+xml")


async def post_simulate(request: Request) -> Response:
    """Validate a simulation request and queue it."""
    try:
        req: SimulateRequest = _parse(SimulateRequest, await _body(request))
        _check_baseline(req.baseline, req.mode == "typical")
        _check_regimens(req.regimens, req.days, "regimens")
    except ApiError as exc:
        return _error(exc)
    return _submit(request, "simulate", _simulate_job(req))


async def post_trial(request: Request) -> Response:
    """Validate a trial request, build its design and queue it."""
    try:
        req: TrialRequest = _parse(TrialRequest, await _body(request))
        design = design_from_request(req)
    except ApiError as exc:
        return _error(exc)
    return _submit(request, "trial", _trial_job(design, req.seed))


def _job_or_404(request: Request) -> Job:
    job = _jobs(request).get(request.path_params["job_id"])
    if job is None:
        raise ApiError("no such job (unknown, or finished long ago)", "job_id", 404)
    return job


async def get_job(request: Request) -> Response:
    """A job's state, progress and (when done) result."""
    try:
        job = _job_or_404(request)
    except ApiError as exc:
        return _error(exc)
    return JSONResponse(job.to_dict())


async def delete_job(request: Request) -> Response:
    """Cancel a queued or running job."""
    try:
        job = _job_or_404(request)
    except ApiError as exc:
        return _error(exc)
    _jobs(request).cancel(job.id)
    return JSONResponse(job.to_dict())


_MEDIA = {
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".yaml": "application/x-yaml",
    ".html": "text/html",
    ".csv": "text/csv",
    ".parquet": "application/octet-stream",
}


async def job_file(request: Request) -> Response:
    """A file a job wrote (figures inline, data files as downloads)."""
    try:
        job = _job_or_404(request)
    except ApiError as exc:
        return _error(exc)
    root = job.workdir.resolve()
    path = (root / request.path_params["name"]).resolve()
    if job.state != "done" or not path.is_file() or root not in path.parents:
        return _error(ApiError("no such file", "name", 404))
    inline = path.suffix in (".png", ".svg", ".html")
    return FileResponse(
        path,
        media_type=_MEDIA.get(path.suffix, "application/octet-stream"),
        filename=None if inline else path.name,
        headers={"Cache-Control": "no-store"},
    )


def create_app(
    *,
    max_pending: int = LIMITS["max_pending_jobs"],
    warm_up: bool = True,
    keep: int = 40,
    allowed_hosts: Iterable[str] = (),
) -> Starlette:
    """The explorer as an ASGI app.

    Parameters
    ----------
    max_pending : int
        Most jobs queued or running at once (more get HTTP 429).
    warm_up : bool
        Load (on a fresh kernel cache: compile) the model when the app starts, so the
        first run is fast; ``/api/health`` reports ``ready`` once done.
    keep : int
        Finished jobs kept for polling and downloads.
    allowed_hosts : iterable of str
        Host names accepted in the ``Host`` header besides :data:`LOOPBACK_HOSTS`
        (``gutskin explore`` passes its ``--host`` and ``--allow-host`` values).

    Returns
    -------
    starlette.applications.Starlette
        Serve it with uvicorn (``gutskin explore``) or test it with Starlette's TestClient.
    """

    def warm() -> None:
        from gutskin.simulation import simulate

        model_info()
        _nominal_svg()
        simulate(Scenario(name="warm-up", model=BASE_MODEL), patients=1, days=1.0, seed=0)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        jobs = JobManager(max_pending=max_pending, keep=keep)
        app.state.jobs = jobs
        jobs.start(warm if warm_up else None)
        try:
            yield
        finally:
            jobs.shutdown()

    routes = [
        Route("/", index),
        Route("/api/health", health),
        Route("/api/model", model),
        Route("/api/causal.svg", causal),
        Route("/api/simulate", post_simulate, methods=["POST"]),
        Route("/api/trial", post_trial, methods=["POST"]),
        Route("/api/jobs/{job_id}", get_job, methods=["GET"]),
        Route("/api/jobs/{job_id}", delete_job, methods=["DELETE"]),
        Route("/api/jobs/{job_id}/files/{name:path}", job_file),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    guard = Middleware(RequestGuard, allowed_hosts=tuple(allowed_hosts))
    return Starlette(routes=routes, lifespan=lifespan, middleware=[guard])
