"""A virtual population simulated once, on which many replicate trials are run.

A replicate trial of a power analysis needs fresh *trials*, not necessarily fresh
*patients*. What belongs to a patient (covariates, parameters, adherence, the
disease-activity noise path, the burn-in to the day-0 baseline, the trajectory under
each arm) is simulated once for a pool of candidates who came forward. What belongs to a
trial is drawn anew for each replicate from the replicate's own seed:

- the order in which the trial meets the pool's candidates (stream ``"pool_order"``);
- the screening visit's counting and rater noise, and so who meets the entry criteria;
- allocation, the observation noise at every visit, and dropout.

The trial's arm trajectories are simulated only for the (patient, arm) pairs that some
replicate randomizes. Every patient's trajectory comes from the patient's own streams, so
it is the same whichever replicates use it. A replicate trial is then as exact as a
fresh one. Its patients are drawn from a finite population, not from the model's
infinite one, and that is why the pool is large:

- at least 20 × the trial's sample size;
- and at least 2,000 eligible candidates (counted on a reference screening draw).

``power --pool fresh`` keeps the exact method: new patients in every replicate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gutskin.engine import ModelSpec, SolverOptions
from gutskin.engine.integrate import Status
from gutskin.engine.random import derived_seed, run_rng
from gutskin.model.strains import Strain
from gutskin.population.pipeline import Personalisation
from gutskin.simulation import get_model
from gutskin.trial.design import Design, DesignError
from gutskin.trial.randomization import allocate
from gutskin.trial.result import TrialResult
from gutskin.trial.run import (
    Candidates,
    _adherence,
    _dropout_weeks,
    arm_treatment_of,
    assemble_trial,
    candidate_batches,
    expected_outputs,
    screening_observation,
    treat_arm,
)

__all__ = ["MIN_ELIGIBLE", "POOL_FACTOR", "Draw", "PatientPool", "build_pool", "pool_seed"]

#: The pool holds at least this many times the largest sample size of eligible candidates.
POOL_FACTOR = 20
#: ... and at least this many eligible candidates.
MIN_ELIGIBLE = 2000


def pool_seed(seed: int) -> int:
    """Seed of the patients of the pool of a replicate job with ``seed``."""
    return derived_seed(seed, "pool", 0)


@dataclass(frozen=True)
class Draw:
    """One replicate trial's draw from the pool: who was randomized, to which arm."""

    seed: int
    positions: NDArray[np.intp]  # pool rows of the randomized patients, in enrolment order
    base: pd.DataFrame  # their screening observations (+ sex, age)
    arms: NDArray[np.str_]
    n_screened: int  # candidates met before the sample was full


@dataclass
class PatientPool:
    """Screened, burned-in candidates and their trajectories under the design's arms.

    Attributes
    ----------
    design : Design
        The design (its sample size is the largest a replicate draws).
    seed : int
        Seed of the patients' own streams.
    candidates : Candidates
        Candidates who came forward and whose burn-in succeeded.
    adherence : ndarray (P,)
        Each candidate's fraction of doses taken.
    n_candidates : int
        Candidates drawn to fill the pool (presenting or not).
    n_eligible_reference : int
        Candidates meeting the entry criteria on the pool's reference screening draw.
    model : ModelSpec, optional
        The model (default: the design's named one).
    strains : mapping, optional
        The strain library the arms' probiotics come from (default: the packaged one).
    """

    design: Design
    seed: int
    candidates: Candidates
    adherence: NDArray[np.float64]
    n_candidates: int
    n_eligible_reference: int
    solver: SolverOptions
    model: ModelSpec | None = None
    strains: Mapping[str, Strain] | None = None
    #: per arm: expected value of each observed quantity at the visits (P, V), NaN
    #: where the pair is not simulated yet; solver status (P,); which rows are done
    _expected: dict[str, dict[str, NDArray[np.float64]]] = field(default_factory=dict, repr=False)
    _status: dict[str, NDArray[np.int64]] = field(default_factory=dict, repr=False)
    _done: dict[str, NDArray[np.bool_]] = field(default_factory=dict, repr=False)

    @property
    def size(self) -> int:
        """Candidates in the pool."""
        return len(self.candidates.indices)

    @property
    def spec(self) -> ModelSpec:
        """The model: the one given to :func:`build_pool`, else the design's named one."""
        return self.model if self.model is not None else get_model(self.design.model)

    def draw(self, seed: int) -> Draw:
        """Screen and randomize one replicate trial of the design's sample size."""
        design, spec, cand = self.design, self.spec, self.candidates
        n_target = design.sample_size
        order = run_rng(seed, "pool_order").permutation(self.size)
        rate = max(self.n_eligible_reference / max(self.size, 1), 1e-3)
        step = max(64, math.ceil(2.0 * n_target / rate))
        taken: list[NDArray[np.intp]] = []
        screens: list[pd.DataFrame] = []
        n_taken = 0
        walked = 0
        while n_taken < n_target:
            if walked >= self.size:
                raise DesignError(
                    f"the virtual population of {self.size} candidates holds only {n_taken} "
                    f"eligible for this replicate, {n_target} needed; raise --pool"
                )
            pos = order[walked : walked + step]
            base_exp = {k: v[pos] for k, v in cand.base_expected.items()}
            screen, ok = screening_observation(design, spec, base_exp, cand.indices[pos], seed)
            hit = np.flatnonzero(ok)[: n_target - n_taken]
            if len(hit) and n_taken + len(hit) == n_target:
                walked += int(hit[-1]) + 1
            else:
                walked += len(pos)
            taken.append(pos[hit])
            screens.append(screen.iloc[hit])
            n_taken += len(hit)
        positions = np.concatenate(taken)
        base = pd.concat(screens, ignore_index=True)
        base["sex"] = cand.sex[positions]
        base["age"] = cand.age[positions]
        arms = allocate(design, base, seed)
        return Draw(seed, positions, base, np.asarray(arms), walked)

    def simulate_arms(
        self,
        draws: list[Draw],
        progress: Callable[[int, int], None] | None = None,
        *,
        arms: Sequence[str] | None = None,
    ) -> None:
        """Simulate every (patient, arm) pair the draws randomize and that is not done yet
        (of the arms named in ``arms``, default every arm)."""
        spec, cand = self.spec, self.candidates
        todo: dict[str, NDArray[np.intp]] = {}
        for arm in self.design.arms:
            if arms is not None and arm.name not in arms:
                continue
            done = self._done.setdefault(arm.name, np.zeros(self.size, dtype=bool))
            want = np.zeros(self.size, dtype=bool)
            for d in draws:
                want[d.positions[d.arms == arm.name]] = True
            new = np.flatnonzero(want & ~done)
            if len(new):
                todo[arm.name] = new
        total = sum(len(v) for v in todo.values())
        finished = 0
        for name, pos in todo.items():
            res = treat_arm(
                self.design,
                spec,
                name,
                cand.y0[pos],
                cand.params[pos],
                cand.indices[pos],
                self.seed,
                self.adherence[pos],
                self.solver,
                self.strains,
            )
            exp = expected_outputs(spec, res)
            store = self._expected.setdefault(
                name, {k: np.full((self.size, v.shape[1]), np.nan) for k, v in exp.items()}
            )
            for k, v in exp.items():
                store[k][pos] = v
            self._status.setdefault(name, np.zeros(self.size, dtype=np.int64))[pos] = res.status
            self._done[name][pos] = True
            finished += len(pos)
            if progress:
                progress(finished, total)

    def with_strains(self, strains: Mapping[str, Strain]) -> PatientPool:
        """The same patients, their arms given by another strain library.

        The candidates (parameters, burn-in, baselines) are shared: a strain acts only
        through an arm's treatment. The trajectories of every arm whose treatment the new
        library leaves unchanged are kept; the others are simulated anew by
        :meth:`simulate_arms`.
        """
        keep = {
            arm.name
            for arm in self.design.arms
            if arm_treatment_of(self.design, self.spec, arm.name, self.strains)
            == arm_treatment_of(self.design, self.spec, arm.name, strains)
        }
        return replace(
            self,
            strains=strains,
            _expected={a: v for a, v in self._expected.items() if a in keep},
            _status={a: v for a, v in self._status.items() if a in keep},
            _done={a: v for a, v in self._done.items() if a in keep},
        )

    def part(self, draws: list[Draw], *, states: bool = False) -> tuple[PatientPool, list[Draw]]:
        """The rows of the pool these draws use, and the draws renumbered to them.

        What a worker process needs to make the draws' trials (:meth:`trial`): smaller
        to send than the whole pool, with the same numbers. With ``states``, the
        patients' parameters and day-0 states travel too, so that the part can still
        simulate arms (:meth:`simulate_arms`).
        """
        rows = np.unique(np.concatenate([d.positions for d in draws]))
        new_pos = {int(p): i for i, p in enumerate(rows)}
        # what trial() reads; parameters, states and day-0 values stay behind
        c = replace(
            self.candidates,
            params=self.candidates.params if states else np.empty((self.size, 0)),
            y0=self.candidates.y0 if states else np.empty((self.size, 0)),
            base_expected={},
        )
        small = PatientPool(
            design=self.design,
            seed=self.seed,
            candidates=c.take(rows),
            adherence=self.adherence[rows],
            n_candidates=self.n_candidates,
            n_eligible_reference=self.n_eligible_reference,
            solver=self.solver,
            model=self.model,
            strains=self.strains,
            _expected={a: {k: v[rows] for k, v in e.items()} for a, e in self._expected.items()},
            _status={a: v[rows] for a, v in self._status.items()},
            _done={a: v[rows] for a, v in self._done.items()},
        )
        moved = [
            Draw(
                d.seed,
                np.array([new_pos[int(p)] for p in d.positions], dtype=np.intp),
                d.base,
                d.arms,
                d.n_screened,
            )
            for d in draws
        ]
        return small, moved

    def trial(self, draw: Draw) -> TrialResult:
        """The replicate trial of ``draw`` (its arms simulated by :meth:`simulate_arms`)."""
        design, cand = self.design, self.candidates
        visits: dict[str, dict[str, NDArray[np.float64]]] = {}
        status = np.zeros(len(draw.positions), dtype=np.int64)
        for arm in design.arms:
            sel = np.flatnonzero(draw.arms == arm.name)
            if not len(sel):
                continue
            pos = draw.positions[sel]
            if not self._done.get(arm.name, np.zeros(self.size, bool))[pos].all():
                raise RuntimeError("simulate_arms(draws) must run before trial(draw)")
            visits[arm.name] = {k: v[pos] for k, v in self._expected[arm.name].items()}
            status[sel] = self._status[arm.name][pos]
        failures: dict[str, int] = {}
        for code in np.unique(status):
            if code != Status.OK:
                failures[Status(int(code)).name] = int(np.sum(status == code))
        idx = cand.indices[draw.positions]
        return assemble_trial(
            design,
            self.spec,
            seed=draw.seed,
            base=draw.base,
            arms=draw.arms,
            visits=visits,
            status=status,
            adherence=self.adherence[draw.positions],
            dropout_week=_dropout_weeks(design, idx, draw.seed),
            n_screened=draw.n_screened,
            failures=failures,
            n_candidates=draw.n_screened,
        )


def build_pool(
    design: Design,
    *,
    seed: int,
    size: int | None = None,
    solver: SolverOptions | None = None,
    population: Personalisation | None = None,
    progress: Callable[[int, int], None] | None = None,
    model: ModelSpec | None = None,
    strains: Mapping[str, Strain] | None = None,
) -> PatientPool:
    """Screen and burn in candidates until the pool holds enough eligible ones.

    Parameters
    ----------
    design : Design
        The design; replicates draw ``design.sample_size`` patients each.
    seed : int
        Seed of the pool's patients (see :func:`pool_seed`).
    size : int, optional
        Eligible candidates wanted (on the reference screening draw); default
        ``max(POOL_FACTOR * sample_size, MIN_ELIGIBLE)``.
    solver : SolverOptions, optional
        Engine settings.
    population : Personalisation, optional
        Source seeding the candidates (a microbiome table).
    progress : callable, optional
        ``progress(eligible, wanted)`` after each batch.
    model : ModelSpec, optional
        The model instead of the design's named one (a parameter variant).
    strains : mapping, optional
        The strain library of the arms' probiotics (default: the packaged one).
    """
    spec = model if model is not None else get_model(design.model)
    opts = solver or SolverOptions()
    want = int(size) if size is not None else max(POOL_FACTOR * design.sample_size, MIN_ELIGIBLE)
    if want < design.sample_size:
        raise DesignError(
            f"--pool must hold at least the largest sample size ({design.sample_size}), got {want}"
        )
    limit = math.ceil(design.population.max_screened_per_randomized * want)
    parts: list[Candidates] = []
    n_eligible = 0
    drawn = 0

    def shortfall(drawn: int) -> str:
        return (
            f"population.inclusion: {drawn} candidates gave only {n_eligible} of the "
            f"{want} eligible the virtual population needs; relax population.inclusion "
            "or raise population.max_screened_per_randomized"
        )

    for cand, drawn in candidate_batches(  # noqa: B007 (read after the loop)
        design, spec, seed, opts, population, limit=limit, batch=4096, shortfall=shortfall
    ):
        keep = np.flatnonzero(cand.ok)
        if len(keep):
            cand = cand.take(keep)
            _, ok = screening_observation(design, spec, cand.base_expected, cand.indices, seed)
            n_eligible += int(ok.sum())
            parts.append(cand)
            if progress:
                progress(min(n_eligible, want), want)
        if n_eligible >= want:
            break
    pooled = _concat(parts)
    return PatientPool(
        design=design,
        seed=seed,
        candidates=pooled,
        adherence=_adherence(design, pooled.indices, seed),
        n_candidates=drawn,
        n_eligible_reference=n_eligible,
        solver=opts,
        model=model,
        strains=strains,
    )


def _concat(parts: list[Candidates]) -> Candidates:
    return Candidates(
        indices=np.concatenate([p.indices for p in parts]),
        sex=np.concatenate([p.sex for p in parts]),
        age=np.concatenate([p.age for p in parts]),
        params=np.vstack([p.params for p in parts]),
        y0=np.vstack([p.y0 for p in parts]),
        base_expected={
            k: np.vstack([p.base_expected[k] for p in parts]) for k in parts[0].base_expected
        },
        ok=np.concatenate([p.ok for p in parts]),
    )
