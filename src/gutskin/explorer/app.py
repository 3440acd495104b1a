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

Request bodies are bounded and validated (:mod:`gutskin.explorer.schemas`) before a
job is queued: a bad request gets HTTP 422 with ``{"error": message, "field": name}``;
a full queue gets 429.  Jobs run one at a time on a worker thread
(:mod:`gutskin.explorer.jobs`), report progress and can be cancelled.  Every request,
on every route, first passes :class:`~gutskin.explorer.guard.RequestGuard` (Host,
Origin, Content-Type and size checks; see :mod:`gutskin.explorer.guard`).

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
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gutskin._version import __version__
from gutskin.engine.spec import ModelSpec
from gutskin.explorer.guard import RequestGuard, _body, _error
from gutskin.explorer.jobs import Job, JobManager, QueueFull
from gutskin.explorer.schemas import (
    BASE_MODEL,
    LIMITS,
    ApiError,
    SimulateRequest,
    TrialRequest,
    _check_baseline,
    _check_regimens,
    _parse,
    _spec,
    design_from_request,
)
from gutskin.scenario import SCENARIOS, Scenario

__all__ = [
    "BASELINE_CONTROLS",
    "LIMITS",
    "create_app",
    "model_info",
]

STATIC = Path(__file__).resolve().parent / "static"

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

#: The untreated run-in before day 0 of every explorer run.
BURN_IN_DAYS = SCENARIOS["acne-untreated"].burn_in_days
#: Patients per compiled call: small, so progress and cancellation come often.
CHUNK = 25


# ---------------------------------------------------------------------- model data
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
        Host names accepted in the ``Host`` header besides
        :data:`~gutskin.explorer.guard.LOOPBACK_HOSTS`
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
