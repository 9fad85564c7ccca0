"""Shared machinery of the model-guided strategies (CGA, GA, SA).

Keeps what was measured (this run and, for a warm start, the database),
trains the fitness model after every round, and picks what to measure from a
scored pool of individuals with epsilon-greedy, never a program measured before.

Fitness models (``fitness=``):

``"knob"`` (default)
    Heron's: one XGBoost model per design space learning the normalised
    throughput directly from the decision vector (:class:`KnobModel`). A
    prediction costs no lowering, so generations of hundreds of individuals
    stay cheap.
``"tvm"``
    MetaSchedule's cost model of the tuning run (``XGBModel`` on per-store
    features by default, updated by MetaSchedule's own measure callback). Each
    scored individual is replayed and postprocessed first.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from tvm.s_tir import Schedule
from tvm.s_tir.meta_schedule.arg_info import ArgInfo
from tvm.s_tir.meta_schedule.search_strategy import MeasureCandidate

from ..errors import HeronError
from ..search import Individual, KnobModel, epsilon_greedy
from ..space import postprocess, replay
from .base import HeronStrategy
from .options import GuidedOptions

logger = logging.getLogger(__name__)


class ModelGuidedStrategy(HeronStrategy):
    """Base of strategies that score candidates with a fitness model.

    Parameters
    ----------
    **options
        The fields of :class:`~tvm_heron.strategies.options.GuidedOptions`
        (``seed``, ``population_size``, ``top_k``, ``epsilon``, ``fitness``).
    """

    Options = GuidedOptions

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.measured: dict[tuple, float | None] = {}  # individual key -> latency (None: failed)
        self.models: list[KnobModel] = []
        self.survivors: list[Individual] = []
        self._sch_cache: dict[tuple, Schedule | None] = {}

    # -- lifecycle ---------------------------------------------------------------------
    def _on_pre_tuning(self) -> None:
        self.measured = {}
        self.survivors = []
        self._sch_cache = {}
        seed = int(self.rng.integers(2**31 - 1))
        self.models = [KnobModel(seed=seed + i) for i in range(len(self.spaces))]
        self._warm_start()
        self._retrain()

    def _on_results(self, candidates, latencies) -> None:
        batch = self.emitted[-len(candidates) :]
        for emitted, latency in zip(batch, latencies):
            self.measured[emitted.proposal.key] = latency
        self._retrain()

    def _warm_start(self) -> None:
        """Learn from, and never re-measure, the database's records of this workload."""
        for record in self.records:
            for index, space in enumerate(self.spaces):
                point = space.point_of_json(record.trace)
                if point is None or not space.model.is_feasible(point):
                    continue
                self.measured[self.proposal(index, point).key] = record.latency
                break
        if self.measured:
            logger.info("warm start: %d records of this workload in the database", len(self.measured))

    # -- fitness -----------------------------------------------------------------------------
    def _retrain(self) -> None:
        if self.options.fitness != "knob":
            return
        good = [v for v in self.measured.values() if v is not None]
        best = min(good) if good else None
        for index, (space, model) in enumerate(zip(self.spaces, self.models)):
            rows, ys = [], []
            for key, latency in self.measured.items():
                if key[0] == index:
                    rows.append(key[1])
                    ys.append(best / latency if latency is not None else 0.0)
            if len(rows) >= 2:
                model.fit(np.asarray(rows, dtype=float), np.asarray(ys, dtype=float))

    def fitness(self, individuals) -> np.ndarray:
        """Predicted fitness (>= 0, higher is better) of individuals of any space."""
        scores = np.zeros(len(individuals))
        if self.options.fitness == "tvm":
            return self._tvm_fitness(individuals)
        by_space: dict[int, list[int]] = {}
        for i, ind in enumerate(individuals):
            by_space.setdefault(ind.space, []).append(i)
        for space, idx in by_space.items():
            model = self.models[space]
            if model.is_fitted:
                rows = np.asarray([individuals[i].key[1] for i in idx], dtype=float)
                scores[idx] = model.predict(rows)
            else:
                scores[idx] = 1.0
        return np.clip(scores, 0.0, None)

    def _tvm_fitness(self, individuals) -> np.ndarray:
        scores = np.zeros(len(individuals))
        cands, where = [], []
        for i, ind in enumerate(individuals):
            sch = self._schedule(ind)
            if sch is not None:
                cands.append(MeasureCandidate(sch, ArgInfo.from_entry_func(sch.mod, True)))
                where.append(i)
        if cands and self._cost_model is not None:
            predicted = np.asarray(self._cost_model.predict(self.context, cands), dtype=float)
            scores[where] = predicted - min(0.0, float(predicted.min()))
        return scores

    def _schedule(self, ind: Individual) -> Schedule | None:
        if ind.key not in self._sch_cache:
            space = self.spaces[ind.space]
            try:
                sch = postprocess(replay(space, self.context.mod, ind.point), self.context.space_generator.postprocs)
            except HeronError:
                sch = None
            self._sch_cache[ind.key] = sch
        return self._sch_cache[ind.key]

    # -- populations -----------------------------------------------------------------------
    def individual(self, space: int, point: dict) -> Individual:
        """An :class:`Individual` with its key."""
        return Individual(space, point, self.proposal(space, point).key)

    def elite(self) -> list[Individual]:
        """The ``top_k`` best measured programs."""
        good = sorted((lat, key) for key, lat in self.measured.items() if lat is not None)
        out = []
        for _, key in good[: self.options.top_k]:
            space = self.spaces[key[0]]
            out.append(self.individual(key[0], space.model.from_tuple(key[1])))
        return out

    def random_individuals(self, count: int) -> list[Individual]:
        """``count`` constrained random points spread over the design spaces."""
        if count <= 0:
            return []
        per_space = -(-count // len(self.spaces))
        out = []
        for index, space in enumerate(self.spaces):
            out.extend(self.individual(index, p) for p in space.solver.sample(per_space, rng=self.rng))
        return out

    def _search(self, n: int) -> tuple[list[Individual], np.ndarray]:
        """The scored pool to pick ``n`` measurements from (subclasses)."""
        raise NotImplementedError

    def _propose(self, n: int):
        pool, scores = self._search(n)
        fresh = [i for i, ind in enumerate(pool) if ind.key not in self.measured]
        order = epsilon_greedy(
            [float(scores[i]) for i in fresh], min(len(fresh), 2 * n), epsilon=self.options.epsilon, rng=self.rng
        )
        proposed = set(self.measured)
        for j in order:
            ind = pool[fresh[j]]
            proposed.add(ind.key)
            yield self.proposal(ind.space, ind.point)
        # Too few new programs in the pool (a small space, or many duplicates): fill at random.
        yield from self.random_proposals(2 * n, proposed)

    def best_latency(self) -> float:
        """Best latency measured so far (inf if none)."""
        good = [v for v in self.measured.values() if v is not None]
        return min(good) if good else math.inf

