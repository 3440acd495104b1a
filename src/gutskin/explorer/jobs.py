"""Background jobs of the web explorer: one worker thread, a bounded queue, progress, cancel.

Runs go through the compiled engine, whose parallel kernels must not be entered from
two threads at once (numba's default threading layer is not thread-safe), so jobs run
one at a time on a single worker thread in submission order.  At most ``max_pending``
jobs may be queued or running; a further submission is refused with
:class:`QueueFull` (HTTP 429 in the app) instead of piling up work.

A job's function receives its :class:`Job` and reports progress with
:meth:`Job.report`; that call raises :class:`JobCancelled` once the job has been
cancelled, so cancellation takes effect at the next progress report (runs report
after every small chunk of patients).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["Job", "JobCancelled", "JobManager", "QueueFull"]

State = Literal["queued", "running", "done", "failed", "cancelled"]


class JobCancelled(Exception):
    """Raised inside a job's function when the job has been cancelled."""


class QueueFull(Exception):
    """Too many jobs are queued or running."""


@dataclass
class Job:
    """One unit of background work and what it reports.

    Attributes
    ----------
    id : str
        Random hexadecimal identifier.
    kind : str
        ``"simulate"`` or ``"trial"`` (free text for the page).
    state : {"queued", "running", "done", "failed", "cancelled"}
        Life cycle.
    stage : str
        What the job is doing now (e.g. ``"treatment"``).
    fraction : float
        Progress in [0, 1].
    result : dict or None
        JSON-ready result once ``state == "done"``.
    error : str or None
        One-line reason once ``state == "failed"``.
    workdir : Path
        Private folder for the job's files (figures, downloads); removed on eviction.
    """

    id: str
    kind: str
    func: Callable[[Job], dict[str, Any]]
    workdir: Path
    state: State = "queued"
    stage: str = "queued"
    fraction: float = 0.0
    result: dict[str, Any] | None = None
    error: str | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)

    def report(self, stage: str, fraction: float) -> None:
        """Record progress; raise :class:`JobCancelled` if the job was cancelled.

        Parameters
        ----------
        stage : str
            Short description of the current step.
        fraction : float
            Overall progress, clipped to [0, 1].
        """
        if self.cancel_event.is_set():
            raise JobCancelled
        self.stage = stage
        self.fraction = min(1.0, max(0.0, float(fraction)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view for ``GET /api/jobs/{id}``."""
        now = time.time()
        elapsed = None
        if self.started is not None:
            elapsed = round((self.finished or now) - self.started, 3)
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "stage": self.stage,
            "fraction": round(self.fraction, 4),
            "elapsed_s": elapsed,
            "error": self.error,
            "result": self.result if self.state == "done" else None,
        }


class JobManager:
    """Runs submitted jobs one at a time on a daemon worker thread.

    Parameters
    ----------
    max_pending : int
        Most jobs queued or running at once; more are refused with :class:`QueueFull`.
    keep : int
        Finished jobs kept (with their files) for polling and downloads; older ones
        are evicted and their folders removed.
    root : path, optional
        Folder for job folders (default: a new temporary folder, removed by
        :meth:`shutdown`).
    """

    def __init__(self, *, max_pending: int = 3, keep: int = 40, root: Path | None = None) -> None:
        self.max_pending = max_pending
        self.keep = keep
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="gutskin-explorer-")) if root is None else root
        self.root.mkdir(parents=True, exist_ok=True)
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._queue: deque[Job] = deque()
        self._cv = threading.Condition()
        self._stop = False
        self._warm: Callable[[], None] | None = None
        self.ready = threading.Event()
        self.warm_error: str | None = None
        self._thread = threading.Thread(target=self._loop, name="gutskin-explorer", daemon=True)

    def start(self, warm_up: Callable[[], None] | None = None) -> None:
        """Start the worker; ``warm_up`` (e.g. loading the compiled model) runs first."""
        self._warm = warm_up
        if not self._thread.is_alive():
            self._thread.start()

    def submit(self, kind: str, func: Callable[[Job], dict[str, Any]]) -> Job:
        """Queue ``func(job)``; raise :class:`QueueFull` when ``max_pending`` are active."""
        with self._cv:
            active = sum(j.state in ("queued", "running") for j in self._jobs.values())
            if active >= self.max_pending:
                raise QueueFull(
                    f"{active} jobs are already queued or running (limit {self.max_pending}); "
                    "wait for one to finish or cancel one"
                )
            jid = uuid.uuid4().hex[:16]
            workdir = self.root / jid
            workdir.mkdir()
            job = Job(id=jid, kind=kind, func=func, workdir=workdir)
            self._jobs[jid] = job
            self._queue.append(job)
            self._evict()
            self._cv.notify_all()
            return job

    def get(self, job_id: str) -> Job | None:
        """The job with this id, or None (unknown or evicted)."""
        with self._cv:
            return self._jobs.get(job_id)

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a queued or running job (no effect on finished ones); None if unknown."""
        with self._cv:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if job.state == "queued":
                self._queue.remove(job)
                job.state = "cancelled"
                job.stage = "cancelled"
                job.finished = time.time()
            elif job.state == "running":
                job.cancel_event.set()
                job.stage = "cancelling"
            return job

    def wait(self, job_id: str, timeout: float = 60.0) -> Job:
        """Block until the job has finished (for tests and scripts)."""
        end = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job is None:
                raise KeyError(job_id)
            if job.state in ("done", "failed", "cancelled"):
                return job
            if time.monotonic() > end:
                raise TimeoutError(f"job {job_id} still {job.state} after {timeout} s")
            time.sleep(0.05)

    def shutdown(self) -> None:
        """Cancel everything, stop the worker and remove the job folders."""
        with self._cv:
            self._stop = True
            for job in self._jobs.values():
                job.cancel_event.set()
            self._cv.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ internals
    def _evict(self) -> None:
        done = [j for j in self._jobs.values() if j.state in ("done", "failed", "cancelled")]
        for job in done[: max(0, len(done) - self.keep)]:
            del self._jobs[job.id]
            shutil.rmtree(job.workdir, ignore_errors=True)

    def _loop(self) -> None:
        if self._warm is not None:
            try:
                self._warm()
            except Exception as exc:  # pragma: no cover - reported on /api/health
                self.warm_error = f"{type(exc).__name__}: {exc}"
        self.ready.set()
        while True:
            with self._cv:
                while not self._queue and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                job = self._queue.popleft()
                job.state = "running"
                job.stage = "starting"
                job.started = time.time()
            try:
                result = job.func(job)
            except JobCancelled:
                state: State = "cancelled"
                result, error = None, None
            except Exception as exc:
                state, result, error = "failed", None, _one_line(exc)
            else:
                state, error = "done", None
                if job.cancel_event.is_set():
                    state, result = "cancelled", None
            with self._cv:
                job.result = result
                job.error = error
                job.state = state
                job.stage = state
                if state == "done":
                    job.fraction = 1.0
                job.finished = time.time()
                self._evict()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
