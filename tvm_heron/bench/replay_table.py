"""Replay tables: every program of a small design space, measured once, as JSON data (no TVM).

A replay table lets search strategies be compared over hundreds of seeds
without building or timing anything (Kernel Tuner's method): the runner of
:mod:`tvm_heron.bench.replay` answers each candidate from the table. A table
holds

* the :class:`TableSpec` that rebuilds the workload, the target and the
  design-space generator, so that a replay makes the same design spaces;
* the machine it was measured on and how it was measured;
* one :class:`TablePoint` per point of the design spaces' *structural* space
  (every decision MetaSchedule's samplers and mutators can produce: perfect
  tiles with the innermost factor bounded, every categorical candidate), with
  its program's identity (the structural hash of the postprocessed module,
  which is all a MetaSchedule builder sees of a candidate), its latency or
  its failure, and whether it satisfies the target's constraint model (the
  points Heron's strategies can propose);
* a :class:`NoiseModel` from repeated measurements of a sample of programs;
* the *confirmation* of its fastest programs: each measured again in
  interleaved rounds, its latency the median of all its measurements, so
  that a single fast reading (seen: a conv2d's optimum recorded 3.7x too
  fast) cannot become the optimum every strategy is scored against.

Points that decide the same program share one measurement.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import attrs
import numpy as np

#: The ``format`` field of a table file.
TABLE_FORMAT = "tvm-heron-replay-table/1"
#: Design-space generators a table can be made with.
GENERATORS = ("heron", "metaschedule")
#: Failure kinds a point can carry.
FAILURES = ("build-error", "run-error", "wrong-result")


def program_key(structural_hash: int) -> str:
    """The table's identity of a program: its structural hash as 16 hex digits."""
    return f"{int(structural_hash) & 0xFFFFFFFFFFFFFFFF:016x}"


def _freeze(value):
    return tuple(_freeze(v) for v in value) if isinstance(value, (list, tuple)) else value


def _frozen_items(value: Mapping | Iterable | None) -> tuple:
    items = value.items() if isinstance(value, Mapping) else (value or ())
    return tuple(sorted((str(k), _freeze(v)) for k, v in items))


@attrs.frozen(kw_only=True)
class TableSpec:
    """What a table is of: enough to rebuild its workload, target and design spaces.

    Attributes
    ----------
    name : str
        The table's name (its file is ``NAME.json``).
    op, shape, dtype, layout
        The workload (:func:`tvm_heron.ops.make_workload`); ``layout`` None is
        the dtype's default.
    generator : str
        ``"heron"`` (Heron's rules, with ``rule_options`` for its DL Boost
        rule) or ``"metaschedule"`` (MetaSchedule's default rules for the target).
    rule_options : tuple of (str, value)
        Keyword arguments of :class:`~tvm_heron.rules.dlboost.DLBoostRule`
        (empty: Heron's default space).
    target : tuple of (str, value)
        The target's dict form (``kind``, ``mcpu``, ``num-cores``...).
    """

    name: str
    op: str
    shape: tuple = attrs.field(converter=lambda s: tuple(int(v) for v in s))
    dtype: str
    layout: str | None = None
    generator: str = attrs.field(default="heron")
    rule_options: tuple = attrs.field(default=(), converter=_frozen_items)
    target: tuple = attrs.field(default=(), converter=_frozen_items)

    @generator.validator
    def _check_generator(self, _attribute, value) -> None:
        if value not in GENERATORS:
            raise ValueError(f"generator must be one of {GENERATORS}, got {value!r}")

    def to_json(self) -> dict:
        """The JSON object of the spec."""
        return {
            "name": self.name, "op": self.op, "shape": list(self.shape), "dtype": self.dtype,
            "layout": self.layout, "generator": self.generator,
            "rule_options": {k: _plain(v) for k, v in self.rule_options},
            "target": {k: _plain(v) for k, v in self.target},
        }

    @classmethod
    def from_json(cls, obj: Mapping) -> TableSpec:
        """The spec of a :meth:`to_json` object."""
        return cls(
            name=obj["name"], op=obj["op"], shape=obj["shape"], dtype=obj["dtype"],
            layout=obj.get("layout"), generator=obj["generator"],
            rule_options=obj.get("rule_options", {}), target=obj["target"],
        )

    def target_config(self) -> dict:
        """The target as the dict ``tvm.target.Target`` takes."""
        return {k: _plain(v) for k, v in self.target}

    def rule_kwargs(self) -> dict:
        """``rule_options`` as keyword arguments."""
        return {k: _plain(v) for k, v in self.rule_options}


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, tuple) else value


def _decision(value):
    return tuple(int(v) for v in value) if isinstance(value, (list, tuple)) else int(value)


@attrs.frozen
class TablePoint:
    """One point of a design space and what its program measured.

    Attributes
    ----------
    space : int
        Index of the design space (generator order).
    decisions : tuple of (int, decision)
        The free sampling decisions by instruction index of the design-space
        trace: a tuple of factors for a tile, a candidate index for a choice.
    program : str
        :func:`program_key` of the postprocessed module.
    latency_s : float or None
        Seconds per run (the measurement's median); None for a failure.
    error : str or None
        The failure kind (one of :data:`FAILURES`), None when it ran.
    in_model : bool
        Whether the point satisfies the target's constraint model.
    """

    space: int
    decisions: tuple = attrs.field(converter=lambda d: tuple((int(i), _decision(v)) for i, v in d))
    program: str
    latency_s: float | None
    error: str | None = None
    in_model: bool = True

    def __attrs_post_init__(self) -> None:
        if (self.latency_s is None) == (self.error is None):
            raise ValueError(f"a point has a latency or an error, not both or neither: {self}")
        if self.error is not None and self.error not in FAILURES:
            raise ValueError(f"error must be one of {FAILURES}, got {self.error!r}")
        if self.latency_s is not None and not (math.isfinite(self.latency_s) and self.latency_s > 0):
            raise ValueError(f"latency_s must be positive and finite, got {self.latency_s}")

    def to_json(self) -> list:
        """Compact JSON: ``[space, decisions, program, latency_s, error, in_model]``."""
        decisions = [[i, list(v) if isinstance(v, tuple) else v] for i, v in self.decisions]
        return [self.space, decisions, self.program, self.latency_s, self.error, self.in_model]

    @classmethod
    def from_json(cls, row: Sequence) -> TablePoint:
        """The point of a :meth:`to_json` row."""
        space, decisions, program, latency, error, in_model = row
        return cls(int(space), decisions, str(program), None if latency is None else float(latency),
                   error, bool(in_model))


@attrs.frozen
class NoiseModel:
    """Run-to-run noise of the table's machine, from repeated measurements of a sample.

    Attributes
    ----------
    samples : tuple of (str, tuple of float)
        Program and its repeated latencies (seconds), taken in interleaved rounds.
    """

    samples: tuple = attrs.field(converter=lambda s: tuple((str(p), tuple(map(float, v))) for p, v in s))

    @property
    def relative_sd(self) -> float:
        """Median over the sample of the coefficient of variation (0 without repeats)."""
        cvs = [float(np.std(v, ddof=1) / np.mean(v)) for _, v in self.samples if len(v) >= 2]
        return float(np.median(cvs)) if cvs else 0.0

    def perturb(self, latency_s: float, rng: np.random.Generator) -> float:
        """``latency_s`` with multiplicative log-normal noise of :attr:`relative_sd`."""
        sigma = math.sqrt(math.log1p(self.relative_sd**2))
        return float(latency_s * rng.lognormal(-0.5 * sigma**2, sigma)) if sigma > 0 else latency_s

    def to_json(self) -> dict:
        """JSON: the samples and their summary."""
        return {"relative_sd": self.relative_sd, "samples": [[p, list(v)] for p, v in self.samples]}

    @classmethod
    def from_json(cls, obj: Mapping) -> NoiseModel:
        """The model of a :meth:`to_json` object."""
        return cls(obj["samples"])


def confirmed_latency(measurements: Sequence[float]) -> float:
    """A confirmed program's latency: the median of all its measurements, the first included."""
    return float(np.median(np.asarray(measurements, dtype=float)))


@attrs.frozen(kw_only=True)
class ReplayTable:
    """A measured design space (see the module docstring).

    Attributes
    ----------
    spec : TableSpec
    points : tuple of TablePoint
    machine : dict
        :func:`tvm_heron.bench.machine.describe` plus the instruction set.
    measurement : dict
        How latencies were taken (repeats, minimum repeat time, statistic).
    noise : NoiseModel or None
    rejected : int
        Structural points the replay or the postprocessors reject (no program:
        no strategy can propose them).
    created : str
        ISO date of the measurement.
    confirmation : dict
        ``{"count", "repeats", "programs": {program: [first, again, ...]}}``:
        the fastest programs measured again (see :func:`confirmed_latency`);
        empty for a table built before confirmation existed.
    """

    spec: TableSpec
    points: tuple = attrs.field(converter=tuple)
    machine: dict = attrs.field(factory=dict, eq=False)
    measurement: dict = attrs.field(factory=dict, eq=False)
    noise: NoiseModel | None = None
    rejected: int = 0
    created: str = ""
    confirmation: dict = attrs.field(factory=dict, eq=False)
    _programs: dict = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        programs: dict[str, TablePoint] = {}
        for point in self.points:
            programs.setdefault(point.program, point)
        object.__setattr__(self, "_programs", programs)

    def lookup(self, program: str) -> TablePoint | None:
        """The (first) point of ``program``, or None when the table does not have it."""
        return self._programs.get(program)

    @property
    def n_programs(self) -> int:
        """Distinct programs of the table."""
        return len(self._programs)

    @property
    def optimum_s(self) -> float:
        """The best latency of the table (inf when every point failed)."""
        good = [p.latency_s for p in self._programs.values() if p.latency_s is not None]
        return min(good) if good else math.inf

    @property
    def model_optimum_s(self) -> float:
        """The best latency among the points in the constraint model."""
        good = [p.latency_s for p in self.points if p.latency_s is not None and p.in_model]
        return min(good) if good else math.inf

    def summary(self) -> dict:
        """Counts and optima, for reports."""
        latencies = np.asarray([p.latency_s for p in self._programs.values() if p.latency_s is not None])
        return {
            "points": len(self.points),
            "programs": self.n_programs,
            "in_model": sum(p.in_model for p in self.points),
            "failed": sum(p.latency_s is None for p in self._programs.values()),
            "rejected": self.rejected,
            "optimum_s": self.optimum_s,
            "model_optimum_s": self.model_optimum_s,
            "median_fraction_of_optimum": float(np.median(self.optimum_s / latencies)) if latencies.size else 0.0,
            "relative_noise_sd": self.noise.relative_sd if self.noise else None,
        }

    def to_json(self) -> dict:
        """The table file's JSON object."""
        return {
            "format": TABLE_FORMAT,
            "spec": self.spec.to_json(),
            "created": self.created,
            "machine": self.machine,
            "measurement": self.measurement,
            "summary": self.summary(),
            "rejected": self.rejected,
            "noise": self.noise.to_json() if self.noise else None,
            "confirmation": self.confirmation,
            "points": [p.to_json() for p in self.points],
        }

    @classmethod
    def from_json(cls, obj: Mapping) -> ReplayTable:
        """The table of a :meth:`to_json` object.

        Raises
        ------
        ValueError
            If ``obj`` is not a table of this format.
        """
        if obj.get("format") != TABLE_FORMAT:
            raise ValueError(f"not a replay table of format {TABLE_FORMAT}: {obj.get('format')!r}")
        return cls(
            spec=TableSpec.from_json(obj["spec"]),
            points=[TablePoint.from_json(r) for r in obj["points"]],
            machine=dict(obj.get("machine", {})),
            measurement=dict(obj.get("measurement", {})),
            noise=NoiseModel.from_json(obj["noise"]) if obj.get("noise") else None,
            rejected=int(obj.get("rejected", 0)),
            created=str(obj.get("created", "")),
            confirmation=dict(obj.get("confirmation") or {}),
        )

    def save(self, path: str | Path) -> Path:
        """Write the table as JSON (one point per line, so that diffs stay readable)."""
        path = Path(path)
        obj = self.to_json()
        points = obj.pop("points")
        head = json.dumps(obj, indent=1)[:-2]  # without the closing brace
        rows = ",\n".join(json.dumps(p, separators=(",", ":")) for p in points)
        path.write_text(f'{head},\n "points": [\n{rows}\n ]\n}}\n', encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> ReplayTable:
        """Read a table written by :meth:`save`."""
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
