"""Shared machinery of the model-guided strategies (CGA, GA, SA).

Keeps what was measured (this run and, for a warm start, the database),
trains the fitness model after every round, and picks what to measure from a
scored pool of individuals with epsilon-greedy, never a program measured before.
An individual that turns out to make a program measured under other decisions
(:meth:`~tvm_heron.strategies.base.HeronStrategy._on_duplicate`) is learnt at
that program's latency and never proposed again.
Before any model has learnt (:meth:`ModelGuidedStrategy.model_guides`), a round
is constrained random samples.

Fitness models (``fitness=``):

``"knob"`` (default)
    Heron's: XGBoost learning from the decisions (:class:`KnobModel`), with
    no lowering, so generations of hundreds of individuals stay cheap. By
    default one model serves all the task's design spaces
    (``shared_model``), on engineered columns (``features``, see
    :class:`~tvm_heron.search.FeatureMap`) and a log target (``target``);
    ``shared_model=False, features="raw", target="ratio"`` is Heron's: one
    model per space on the raw knob vector and the normalised throughput.
``"tvm"``
    MetaSchedule's cost model of the tuning run (``XGBModel`` on per-store
    features by default, updated by MetaSchedule's own measure callback). Each
    scored individual is replayed and postprocessed first.
"""

from __future__ import annotations

import json
import logging
import math

import numpy as np
from tvm.s_tir import Schedule
from tvm.s_tir.meta_schedule.arg_info import ArgInfo
from tvm.s_tir.meta_schedule.search_strategy import MeasureCandidate

from ..errors import HeronError
from ..search import FeatureMap, Individual, KnobEnsemble, KnobModel, epsilon_greedy, fitness_targets
from ..space import postprocess, replay
from .base import HeronStrategy
from .options import GuidedOptions

logger = logging.getLogger(__name__)


def _as_text(value):
    # A trace's JSON writes an integer as 4 or as "4" depending on where it comes from.
    return [_as_text(v) for v in value] if isinstance(value, (list, tuple)) else str(value)


def _sketch(insts) -> tuple:
    """Kinds and inputs of a trace's instructions before its postprocessing (JSON form).

    Attributes are left out: the same attribute prints differently in a
    trace and in a stored record (``1`` and ``T.bool(True)``).
    """
    out = []
    for inst in insts or ():
        if inst[0] == "EnterPostproc":
            break
        out.append(json.dumps(_as_text(inst[:2])))
    return tuple(out)


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
        # Individuals that make a program measured under another key (same latency): learnt from and
        # never proposed again, but not the elite (it would repeat one program).
        self.duplicates: dict[tuple, float | None] = {}
        self.models: list[KnobModel] = []
        self.feature_maps: list[FeatureMap] = []
        self._model_of: list[int] = []  # space -> index of its model and feature map
        self.survivors: list[Individual] = []
        self._sch_cache: dict[tuple, Schedule | None] = {}

    # -- lifecycle ---------------------------------------------------------------------
    def _on_pre_tuning(self) -> None:
        self.measured = {}
        self.duplicates = {}
        self.survivors = []
        self._sch_cache = {}
        seed = int(self.rng.integers(2**31 - 1))
        models = [space.model for space in self.spaces]
        engineered = self.options.features == "engineered"
        if self.options.shared_model:
            self.feature_maps = [FeatureMap(models, engineered=engineered)]
            self._model_of = [0] * len(models)
        else:
            self.feature_maps = [FeatureMap([m], engineered=engineered) for m in models]
            self._model_of = list(range(len(models)))
        floor = 0.0 if self.options.target == "ratio" else None
        size = self.options.ensemble
        self.models = [
            KnobModel(seed=seed + i, floor=floor) if size == 1
            else KnobEnsemble(size, seed=seed + 1000 * i, floor=floor)
            for i in range(len(self.feature_maps))
        ]
        self._warm_start()
        self._retrain()

    def _on_results(self, candidates, latencies) -> None:
        batch = self.emitted[-len(candidates) :]
        for emitted, latency in zip(batch, latencies):
            self.measured[emitted.proposal.key] = latency
        self._retrain()

    def _on_duplicate(self, proposal, latency) -> None:
        if proposal.key not in self.measured:
            self.duplicates[proposal.key] = latency

    def known(self) -> set:
        """Keys of the individuals whose latency is known (measured, or their program was)."""
        return set(self.measured) | set(self.duplicates)

    def _warm_start(self) -> None:
        """Learn from, and never re-measure, the database's records of this workload.

        A record belongs to the space whose instructions it repeats: spaces
        that differ only in where a block is computed have their sampling
        instructions at the same places, and reading the decisions alone
        would give a record of one to the other. A record whose instructions
        match no space (a trace that MetaSchedule simplified) goes to the
        first space its decisions fit.
        """
        sketches = [_sketch(space.trace.as_json()[0]) for space in self.spaces]
        for record in self.records:
            mine = _sketch(record.trace[0]) if record.trace else None
            order = sorted(range(len(self.spaces)), key=lambda i: sketches[i] != mine)
            for index in order:
                space = self.spaces[index]
                point = space.point_of_json(record.trace)
                if point is None or not space.model.is_feasible(point):
                    continue
                self.measured[self.proposal(index, point).key] = record.latency
                break
        if self.measured:
            logger.info("warm start: %d records of this workload in the database", len(self.measured))

    # -- fitness -----------------------------------------------------------------------------
    def features(self, space: int, rows) -> np.ndarray:
        """Feature rows of points of ``space`` (given as ``model.as_tuple`` rows) for its model."""
        local = space if self.options.shared_model else 0
        return self.feature_maps[self._model_of[space]].rows(local, rows)

    def _retrain(self) -> None:
        if self.options.fitness != "knob":
            return
        learnt = {**self.duplicates, **self.measured}
        keys = list(learnt)
        targets = fitness_targets([learnt[k] for k in keys], self.options.target)
        for index, model in enumerate(self.models):
            mine = [i for i, key in enumerate(keys) if self._model_of[key[0]] == index]
            if len(mine) < 2:
                continue
            by_space: dict[int, list[int]] = {}
            for i in mine:
                by_space.setdefault(keys[i][0], []).append(i)
            x = np.vstack([self.features(space, [keys[i][1] for i in idx]) for space, idx in by_space.items()])
            y = np.concatenate([targets[idx] for idx in by_space.values()])
            model.fit(x, y)

    def fitness(self, individuals) -> np.ndarray:
        """Predicted fitness (higher is better) of individuals of any space.

        On the ``"ratio"`` target it is >= 0; an unfitted model scores every
        individual as the best (1, or 0 on the log target).
        """
        if self.options.fitness == "tvm":
            return self._tvm_fitness(individuals)
        scores = np.zeros(len(individuals))
        best = 0.0 if self.options.target == "log" else 1.0
        by_space: dict[int, list[int]] = {}
        for i, ind in enumerate(individuals):
            by_space.setdefault(ind.space, []).append(i)
        for space, idx in by_space.items():
            model = self.models[self._model_of[space]]
            if model.is_fitted:
                rows = self.features(space, [individuals[i].key[1] for i in idx])
                if isinstance(model, KnobEnsemble) and self.options.ucb > 0:
                    mean, std = model.predict_with_std(rows)
                    scores[idx] = mean + self.options.ucb * std  # optimistic: unsure and maybe good
                else:
                    scores[idx] = model.predict(rows)
            else:
                scores[idx] = best
        return scores

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
        """The ``top_k`` best measured programs, at most ``elite_share`` of those measured.

        Without the share, early rounds (fewer measured than ``top_k``) would
        inject every measured program, the poor ones included.
        """
        good = sorted((lat, key) for key, lat in self.measured.items() if lat is not None)
        count = min(self.options.top_k, int(self.options.elite_share * len(self.measured)))
        out = []
        for _, key in good[:count]:
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

    def model_guides(self) -> bool:
        """Whether the fitness model can tell individuals apart: MetaSchedule's cost model always
        can; Heron's models once one of them has learnt from two measured programs."""
        return self.options.fitness != "knob" or any(model.is_fitted for model in self.models)

    def _propose(self, n: int):
        if not self.model_guides():
            # A task's first round (no records to start from): every individual would score the
            # same, so evolving or annealing a population would cost seconds of CPU a round and
            # still pick at random. Measure constrained random samples, as Heron's first round does.
            yield from self.random_proposals(2 * n, self.known())
            return
        pool, scores = self._search(n)
        known = self.known()
        fresh = [i for i, ind in enumerate(pool) if ind.key not in known]
        # Shuffled: equal scores (an unfitted model scores all alike) are then
        # broken at random, not in favour of the first space's samples.
        fresh = [fresh[i] for i in self.rng.permutation(len(fresh))]
        fresh_scores = [float(scores[i]) for i in fresh]
        # The batch itself is epsilon-greedy: n picks, the random share among
        # them (asking for more and keeping the first n would drop it).
        picked = epsilon_greedy(fresh_scores, min(len(fresh), n), epsilon=self.options.epsilon, rng=self.rng)
        # Replacements for picks the base class rejects: the next best.
        taken = set(picked)
        backup = [j for j in np.argsort(-np.asarray(fresh_scores), kind="stable") if int(j) not in taken]
        proposed = known
        for j in [*picked, *(int(j) for j in backup)]:
            ind = pool[fresh[j]]
            proposed.add(ind.key)
            yield self.proposal(ind.space, ind.point, score=fresh_scores[j])
        # Too few new programs in the pool (a small space, or many duplicates): fill at random.
        yield from self.random_proposals(2 * n, proposed)

    def best_latency(self) -> float:
        """Best latency measured so far (inf if none)."""
        good = [v for v in self.measured.values() if v is not None]
        return min(good) if good else math.inf

