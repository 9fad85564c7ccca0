"""The options of every Heron search strategy, as frozen, validated attrs classes.

A strategy keeps its options in one object (``strategy.options``) and
``clone()`` rebuilds the strategy from that object, so no option can be
forgotten by a clone. Each class checks its fields on construction with a
``ValueError`` that names the argument, as MetaSchedule and Optuna do.
Nothing here imports TVM.
"""

from __future__ import annotations

import numbers

import attrs

from ..search.selection import SELECTIONS
from ..search.targets import TARGETS

#: Fitness models of the model-guided strategies (see :mod:`tvm_heron.strategies.guided`).
FITNESS_MODELS = ("knob", "tvm")
#: Feature sets of the knob model (see :class:`tvm_heron.search.FeatureMap`).
FEATURES = ("engineered", "raw")
#: Which individuals of a round's generations the measured programs are picked from.
POOLS = ("all", "last")


def _integer_at_least(minimum: int):
    def check(_instance, attribute, value) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise ValueError(f"{attribute.name} must be an integer >= {minimum}, got {value!r}")

    return check


def _fraction(low_open: bool = False):
    def check(_instance, attribute, value) -> None:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        ok = ok and (0.0 < value if low_open else 0.0 <= value) and value <= 1.0
        if not ok:
            interval = "(0, 1]" if low_open else "[0, 1]"
            raise ValueError(f"{attribute.name} must be in {interval}, got {value!r}")

    return check


def _seed(_instance, attribute, value) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{attribute.name} must be a non-negative integer or None, got {value!r}")


def _one_of(allowed: tuple):
    def check(_instance, attribute, value) -> None:
        if value not in allowed:
            raise ValueError(f"{attribute.name} must be one of {allowed}, got {value!r}")

    return check


def _non_negative(_instance, attribute, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{attribute.name} must be a number >= 0, got {value!r}")


def _flag(_instance, attribute, value) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{attribute.name} must be True or False, got {value!r}")


_fitness = _one_of(FITNESS_MODELS)


@attrs.frozen(kw_only=True)
class StrategyOptions:
    """Options every Heron strategy has.

    Attributes
    ----------
    seed : int or None
        Seed of the strategy's random generator; None takes the tuning
        context's ``rand_state`` (``tune_tir(..., seed=...)``).
    """

    seed: int | None = attrs.field(default=None, validator=_seed)

    def to_kwargs(self) -> dict:
        """The constructor arguments that rebuild these options."""
        return attrs.asdict(self, recurse=False)


@attrs.frozen(kw_only=True)
class RandomOptions(StrategyOptions):
    """Options of constrained random search (``heron-crand``).

    Attributes
    ----------
    oversample : int
        Points drawn per wanted candidate in one draw (duplicates and points
        measured before are dropped); at least 1.
    """

    oversample: int = attrs.field(default=2, validator=_integer_at_least(1))


@attrs.frozen(kw_only=True)
class GuidedOptions(StrategyOptions):
    """Options of the model-guided strategies (CGA, GA, SA).

    Attributes
    ----------
    population_size : int
        Individuals per generation (Heron: 200); at least 2.
    top_k : int
        Best measured programs injected into each round's population (Heron: 32).
    epsilon : float
        Share of each round's measurements picked at random (from the
        round's scored pool) rather than by predicted fitness, in [0, 1].
    fitness : str
        ``"knob"`` (Heron's XGBoost on the decisions) or ``"tvm"`` (the tuning
        run's MetaSchedule cost model).
    shared_model : bool
        One knob model for all the task's design spaces (the space is a
        feature, columns of the same loops are shared), rather than one per
        space (Heron's).
    features : str
        ``"engineered"`` (logs, per-level products, footprints and the
        products the target limits: :class:`~tvm_heron.search.FeatureMap`)
        or ``"raw"`` (the decision values, Heron's knob vector).
    target : str
        What the knob model learns (:func:`~tvm_heron.search.fitness_targets`):
        ``"ratio"`` (Heron's normalised throughput), ``"log"`` or ``"rank"``.
    elite_share : float
        The elite injected into a round's population is the ``top_k`` best
        measured programs, but at most this share of the programs measured
        so far, in [0, 1].
    ensemble : int
        1: one knob model; more: a bootstrap ensemble of that many
        (:class:`~tvm_heron.search.KnobEnsemble`).
    ucb : float
        With an ensemble, fitness is ``mean + ucb * std`` of its predictions
        (>= 0; 0 scores by the mean).
    """

    population_size: int = attrs.field(default=200, validator=_integer_at_least(2))
    top_k: int = attrs.field(default=32, validator=_integer_at_least(0))
    epsilon: float = attrs.field(default=0.05, validator=_fraction())
    fitness: str = attrs.field(default="knob", validator=_fitness)
    shared_model: bool = attrs.field(default=True, validator=_flag)
    features: str = attrs.field(default="engineered", validator=_one_of(FEATURES))
    target: str = attrs.field(default="log", validator=_one_of(TARGETS))
    elite_share: float = attrs.field(default=0.5, validator=_fraction())
    ensemble: int = attrs.field(default=1, validator=_integer_at_least(1))
    ucb: float = attrs.field(default=0.0, validator=_non_negative)


@attrs.frozen(kw_only=True)
class GeneticOptions(GuidedOptions):
    """Options of the genetic strategies.

    Attributes
    ----------
    n_select : int
        Parents selected per generation (Heron: 100); at most ``population_size``.
    generations : int
        Generations per round (Heron: 5).
    selection : str
        Roulette weights (:func:`~tvm_heron.search.selection_weights`):
        ``"proportional"`` (Heron's; needs the ``"ratio"`` target),
        ``"min-shifted"`` or ``"rank"``.
    pool : str
        Pick the round's measurements from every individual scored in its
        generations (``"all"``) or from the last generation (``"last"``).
    """

    n_select: int = attrs.field(default=100, validator=_integer_at_least(1))
    generations: int = attrs.field(default=5, validator=_integer_at_least(0))
    selection: str = attrs.field(default="min-shifted", validator=_one_of(SELECTIONS))
    pool: str = attrs.field(default="all", validator=_one_of(POOLS))

    def __attrs_post_init__(self) -> None:
        if self.n_select > self.population_size:
            raise ValueError(
                f"n_select ({self.n_select}) must not exceed population_size ({self.population_size})"
            )
        if self.selection == "proportional" and self.target != "ratio":
            raise ValueError(
                f"selection 'proportional' needs target 'ratio' (non-negative fitness), got {self.target!r}"
            )


@attrs.frozen(kw_only=True)
class CgaOptions(GeneticOptions):
    """Options of Heron's constrained GA (``heron-cga``).

    Attributes
    ----------
    key_ratio : float
        Share of variables treated as key variables, in (0, 1] (Heron: 0.2).
    n_mutate : int
        Key variables freed (mutated) in each crossover.
    key_share : float
        Probability that each other key variable is held to its parents'
        values in a crossover, in (0, 1]: below 1, each child holds a random
        subset of the key variables.
    random_hints : float
        Share of children whose unrestricted variables are hinted at random
        values rather than at their parents', in [0, 1] (Heron's exploration).
    """

    key_ratio: float = attrs.field(default=0.2, validator=_fraction(low_open=True))
    n_mutate: int = attrs.field(default=1, validator=_integer_at_least(0))
    key_share: float = attrs.field(default=1.0, validator=_fraction(low_open=True))
    random_hints: float = attrs.field(default=0.0, validator=_fraction())


@attrs.frozen(kw_only=True)
class GaOptions(GeneticOptions):
    """Options of the unconstrained GA baseline (``heron-ga``).

    Attributes
    ----------
    mutation_rate : float
        Probability of each variable to mutate, in [0, 1].
    """

    mutation_rate: float = attrs.field(default=0.1, validator=_fraction())


@attrs.frozen(kw_only=True)
class SaOptions(GuidedOptions):
    """Options of simulated annealing (``heron-sa``).

    Attributes
    ----------
    n_chains : int
        Annealing chains per round.
    steps : int
        Steps per chain per round.
    """

    n_chains: int = attrs.field(default=16, validator=_integer_at_least(1))
    steps: int = attrs.field(default=40, validator=_integer_at_least(1))
