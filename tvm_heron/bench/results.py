"""The results of the operator benchmark suite, typed, and ``results.json`` (no TVM).

``results.json`` is :meth:`SuiteResults.to_json`::

    {"schema": SCHEMA, "profile": ..., "started": ..., "finished": ..., "wall_s": ...,
     "settings": Settings, "machine": Machine, "versions": {...},
     "peaks": Peaks, "path_peaks": {"int8": PathPeak, ...}, "cases": [CaseResult, ...]}

and each case (:class:`CaseResult`)::

    {"id": "gemm.G1-int8", "case": "gemm.G1", "op": "gemm", "shape": [...],
     "dtype": "int8", "flops": ..., "status": "ok" | "n/a" | "error", "reason": ...,
     "tuners": {"heron-cga": TuningRun, "evolutionary": TuningRun, "heron-cga@1": ...},
     "candidates": {"heron-cga": Candidate, "evolutionary": Candidate, "vendor": Candidate},
     "speedup": {"vs_evolutionary": ..., "vs_vendor": ...},
     "vendor_paths": {"torch._int_mm": Candidate, ...}}

Absent keys: the flat records (:class:`TuningRun`, :class:`Candidate`,
:class:`Settings`, :class:`Speedup`, :class:`Machine`) write their keys in
groups; the first group always, each other group only when one of its members
is known (``None`` is unknown), and then all its members. ``status`` and
``reason`` are always written, the timing of a candidate only once it was
timed. So results written before a group existed (``path_peaks``,
``vendor_paths``, ``instruction_set``...) load, and
``from_json(x).to_json() == x`` for every form the suite writes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import ClassVar

import attrs

from .peak import Peaks

#: Version tag of the results format.
SCHEMA = "tvm-heron-bench/1"
#: The implementations timed per case, in table order.
CANDIDATES = ("heron-cga", "evolutionary", "vendor")
#: The tuners (candidates that come from a tuning run).
TUNER_NAMES = ("heron-cga", "evolutionary")
#: The candidates heron-cga's speedup is taken over.
RIVALS = ("evolutionary", "vendor")


class Status(str, enum.Enum):
    """Outcome of a case, a tuning run or a candidate (a ``str``: the JSON holds the value)."""

    #: Done: a case or tuning run that produced figures; a candidate checked correct (and timed).
    OK = "ok"
    #: Does not apply: an operator, space or PyTorch path that does not support the case,
    #: or a tuning run that measured nothing.
    NA = "n/a"
    #: A candidate whose output differs from the reference (never timed).
    WRONG = "wrong"
    #: A step raised; ``reason`` has the exception's type and message.
    ERROR = "error"

    def __str__(self) -> str:
        return self.value


def _maybe(convert):
    """An attrs field that defaults to None (unknown) and converts anything else."""
    return attrs.field(default=None,
                       converter=lambda value: None if value is None else convert(value))


def _floats(values) -> tuple[float | None, ...]:
    return tuple(None if v is None else float(v) for v in values)


def _plain(value):
    """A JSON value of a field: an enum's value, a list for a tuple."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


class _Flat:
    """to_json / from_json of a flat record whose keys are written in groups (module doc)."""

    #: The field names by group; the first group is always written.
    GROUPS: ClassVar[tuple[tuple[str, ...], ...]]

    def to_json(self) -> dict:
        """The record as in ``results.json``."""
        out = {}
        for index, group in enumerate(self.GROUPS):
            values = {name: getattr(self, name) for name in group}
            if index == 0 or any(v is not None for v in values.values()):
                out.update((name, _plain(value)) for name, value in values.items())
        return out

    @classmethod
    def from_json(cls, data: Mapping):
        """Inverse of :meth:`to_json`; absent keys are unknown (None).

        Raises
        ------
        ValueError
            A key the record does not have, or a required one missing.
        """
        return cls(**_checked_keys(cls, data))


def _checked_keys(cls, data: Mapping) -> Mapping:
    fields = attrs.fields_dict(cls)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown key(s) {', '.join(unknown)}")
    missing = [n for n, f in fields.items() if f.default is attrs.NOTHING and n not in data]
    if missing:
        raise ValueError(f"{cls.__name__}: missing key(s) {', '.join(missing)}")
    return data


@attrs.frozen
class TuningRun(_Flat):
    """The figures of one tuning run (:func:`~.tuners.tune_case`), or of a tuner's runs merged.

    Attributes
    ----------
    status : Status
        ``ok``, ``n/a`` (the space does not support the case, nothing measured) or ``error``.
    strategy, space : str
        The search strategy and the space it ran in (``heron`` or ``default``).
    space_note : str or None
        Why a tuner asking for Heron's space ran in the default one.
    work_dir : str
        Its work directory (the first run's, for merged runs).
    trials, failed : int
        Records in the database, and of those the ones that failed to build or run.
    failed_share : float
        ``failed / trials``.
    best_runner_s : float or None
        The runner's best latency, seconds.
    tuning_s, build_s, run_s, search_s : float
        Wall time of the tuning, in the builder, in the runner, and the rest (seconds).
    strategy_s : float or None
        Of ``search_s``, the time inside a Heron strategy's own code (None for MetaSchedule's).
    resumed : bool
        Nothing was tuned in this run (all runs, for merged runs).
    runs : int or None
        The number of runs merged (:func:`~.figures.merge_tuner_figures`); None for one run.
    """

    GROUPS = (
        ("status", "reason"),
        ("strategy", "space", "space_note", "work_dir"),
        ("trials", "failed", "failed_share", "best_runner_s", "tuning_s", "build_s", "run_s",
         "search_s", "strategy_s", "resumed"),
        ("runs",),
    )

    status: Status = attrs.field(converter=Status)
    reason: str | None = _maybe(str)
    strategy: str | None = None
    space: str | None = None
    space_note: str | None = None
    work_dir: str | None = _maybe(str)
    trials: int | None = _maybe(int)
    failed: int | None = _maybe(int)
    failed_share: float | None = _maybe(float)
    best_runner_s: float | None = _maybe(float)
    tuning_s: float | None = _maybe(float)
    build_s: float | None = _maybe(float)
    run_s: float | None = _maybe(float)
    search_s: float | None = _maybe(float)
    strategy_s: float | None = _maybe(float)
    resumed: bool | None = _maybe(bool)
    runs: int | None = _maybe(int)


@attrs.frozen
class Candidate(_Flat):
    """One implementation of a case: how it was made, whether it is correct, its timing.

    Attributes
    ----------
    status : Status
        ``ok`` (correct, and timed where timing succeeded), ``n/a``, ``wrong`` or ``error``.
    impl : str or None
        What it is: ``heron-cga in the heron space``, ``torch._int_mm``...
    note : str or None
        The vendor's: how the call was adapted, the other PyTorch paths.
    path : str or None
        The vendor's: the PyTorch path chosen (the fastest correct one).
    correct : bool or None
        Its output matched the reference on the test data.
    max_abs_error : float or None
        Largest absolute difference from the reference.
    rounds_s, noise, other_share, number : tuple, int
        The rounds of :class:`~.timing.Timing` (seconds per call, noise flag,
        other processes' CPU share, calls per batch).
    min_s, median_s : float or None
        Fastest and median round, seconds per call (over the seeds: the fastest
        round of any seed and the median of the seeds' medians).
    noisy_rounds : int or None
        Rounds flagged noisy.
    gops, pct_peak : float or None
        GOP/s and % of peak from ``median_s``; ``gops_min``, ``pct_peak_min`` from ``min_s``.
    seeds, seed_median_s : tuple or None
        A tuner's runs merged (:func:`~.figures.merge_seeds`): each seed and its median.
    """

    GROUPS = (
        ("status", "reason"),
        ("impl",),
        ("note",),
        ("path",),
        ("correct", "max_abs_error"),
        ("rounds_s", "noise", "other_share", "number"),
        ("min_s", "median_s", "noisy_rounds"),
        ("gops", "gops_min", "pct_peak", "pct_peak_min"),
        ("seeds", "seed_median_s"),
    )

    status: Status = attrs.field(converter=Status)
    reason: str | None = _maybe(str)
    impl: str | None = None
    note: str | None = None
    path: str | None = None
    correct: bool | None = _maybe(bool)
    max_abs_error: float | None = _maybe(float)
    rounds_s: tuple[float, ...] | None = _maybe(_floats)
    noise: tuple[str, ...] | None = _maybe(tuple)
    other_share: tuple[float | None, ...] | None = _maybe(_floats)
    number: int | None = _maybe(int)
    min_s: float | None = _maybe(float)
    median_s: float | None = _maybe(float)
    noisy_rounds: int | None = _maybe(int)
    gops: float | None = _maybe(float)
    gops_min: float | None = _maybe(float)
    pct_peak: float | None = _maybe(float)
    pct_peak_min: float | None = _maybe(float)
    seeds: tuple[int, ...] | None = _maybe(tuple)
    seed_median_s: tuple[float | None, ...] | None = _maybe(_floats)

    @property
    def timed(self) -> bool:
        """Correct and timed: it has a median time."""
        return self.status is Status.OK and self.median_s is not None


@attrs.frozen
class Speedup(_Flat):
    """heron-cga's speedups (``theirs / ours``; > 1: heron-cga is faster; None: unknown)."""

    GROUPS = (("vs_evolutionary", "vs_vendor"),)

    vs_evolutionary: float | None = _maybe(float)
    vs_vendor: float | None = _maybe(float)

    def over(self, rival: str) -> float | None:
        """The speedup over one of :data:`RIVALS`."""
        return {"evolutionary": self.vs_evolutionary, "vendor": self.vs_vendor}[rival]


@attrs.frozen
class CaseResult:
    """One case of a run: its tuning runs, its candidates, heron-cga's speedups.

    ``status`` is the case's own: ``n/a`` (an operator or shape tvm-heron does not
    build) or ``error`` end the case before tuning, with empty ``tuners`` and
    ``candidates`` and no ``speedup``.
    """

    id: str
    case: str
    op: str
    shape: tuple[int, ...] = attrs.field(converter=tuple)
    dtype: str
    status: Status = attrs.field(converter=Status)
    reason: str | None = None
    flops: int | None = _maybe(int)
    tuners: dict[str, TuningRun] = attrs.field(factory=dict)
    candidates: dict[str, Candidate] = attrs.field(factory=dict)
    speedup: Speedup | None = None
    vendor_paths: dict[str, Candidate] | None = None

    def candidate(self, name: str) -> Candidate:
        """The candidate ``name``; for one the case never reached, the case's status and reason."""
        found = self.candidates.get(name)
        return found if found is not None else Candidate(status=self.status, reason=self.reason)

    def speedup_over(self, rival: str) -> float | None:
        """heron-cga's speedup over one of :data:`RIVALS` (None: unknown)."""
        return None if self.speedup is None else self.speedup.over(rival)

    def to_json(self) -> dict:
        """The case as in ``results.json``."""
        out = {"id": self.id, "case": self.case, "op": self.op, "shape": list(self.shape),
               "dtype": self.dtype, "flops": self.flops, "status": self.status.value,
               "reason": self.reason, "tuners": _records_json(self.tuners),
               "candidates": _records_json(self.candidates),
               "speedup": {} if self.speedup is None else self.speedup.to_json()}
        if self.vendor_paths is not None:
            out["vendor_paths"] = _records_json(self.vendor_paths)
        return out

    @classmethod
    def from_json(cls, data: Mapping) -> CaseResult:
        """Inverse of :meth:`to_json`."""
        data = _checked_keys(cls, data)
        paths = data.get("vendor_paths")
        return cls(**{
            **data,
            "tuners": _records(TuningRun, data.get("tuners", {})),
            "candidates": _records(Candidate, data.get("candidates", {})),
            "speedup": Speedup.from_json(data["speedup"]) if data.get("speedup") else None,
            "vendor_paths": None if paths is None else _records(Candidate, paths),
        })


def _records(cls, data: Mapping) -> dict:
    return {name: cls.from_json(value) for name, value in data.items()}


def _records_json(records: Mapping) -> dict:
    return {name: record.to_json() for name, record in records.items()}


@attrs.frozen
class Settings(_Flat):
    """How a run tuned and timed: the profile's budget, seeds, noise guard, target.

    ``seeds``: tuning runs per tuner; ``vendor_isa``: oneDNN's ISA limit in force
    (``all``: none); ``ms_vnni_patched``: MetaSchedule's VNNI intrinsic was
    replaced by tvm-heron's. Runs of earlier versions lack ``instruction_set`` and
    ``int8_range``.
    """

    GROUPS = (
        ("trials", "trials_per_round", "rounds", "batch_seconds", "seed", "seeds"),
        ("noise_threshold",), ("noise_attempts",), ("ms_vnni_patched",), ("target",),
        ("instruction_set",), ("int8_range",), ("vendor_isa",),
    )

    trials: int = attrs.field(converter=int)
    trials_per_round: int = attrs.field(converter=int)
    rounds: int = attrs.field(converter=int)
    batch_seconds: float = attrs.field(converter=float)
    seed: int = attrs.field(converter=int)
    seeds: int = attrs.field(default=1, converter=int)
    noise_threshold: float | None = _maybe(float)
    noise_attempts: int | None = _maybe(int)
    ms_vnni_patched: bool | None = _maybe(bool)
    target: str | None = None
    instruction_set: str | None = None
    int8_range: str | None = None
    vendor_isa: str | None = None


@attrs.frozen
class Machine(_Flat):
    """The machine of a run (:func:`~.machine.describe`)."""

    GROUPS = (("cpu", "cores_used", "cpus_online", "flags"), ("system",), ("python",))

    cpu: str | None = None
    cores_used: int | None = _maybe(int)
    cpus_online: int | None = _maybe(int)
    flags: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    system: str | None = None
    python: str | None = None


@attrs.frozen
class PathPeak:
    """The measured peak of one intrinsic path (GOP/s over all cores; None when not run).

    Measured by :func:`~.path_peak.measure_path`.
    """

    isa: str
    intrinsic: str
    dtype: str
    instruction: str
    exact_for: str
    rows: int
    cores: int
    target_cpu: str
    gops: float | None
    reason: str | None = None

    def to_json(self) -> dict:
        """A JSON-serialisable dict."""
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping) -> PathPeak:
        """Inverse of :meth:`to_json`."""
        return cls(**_checked_keys(cls, data))


@attrs.frozen
class SuiteResults:
    """A whole run of the suite: what ``results.json`` holds (module docstring)."""

    profile: str
    settings: Settings
    machine: Machine
    peaks: Peaks
    cases: tuple[CaseResult, ...] = attrs.field(default=(), converter=tuple)
    versions: Mapping[str, object] = attrs.field(factory=dict)
    path_peaks: Mapping[str, PathPeak] | None = None
    started: str | None = None
    finished: str | None = None
    wall_s: float | None = _maybe(float)
    schema: str = SCHEMA

    def cases_of(self, dtype: str) -> list[CaseResult]:
        """The cases of one data type, in run order."""
        return [case for case in self.cases if case.dtype == dtype]

    def dtypes(self) -> list[str]:
        """The data types of the cases, in first-seen order."""
        return list(dict.fromkeys(case.dtype for case in self.cases))

    def to_json(self) -> dict:
        """The run as in ``results.json``."""
        out = {"schema": self.schema, "profile": self.profile, "started": self.started,
               "settings": self.settings.to_json(), "machine": self.machine.to_json(),
               "versions": dict(self.versions), "peaks": self.peaks.to_json()}
        if self.path_peaks is not None:
            out["path_peaks"] = _records_json(self.path_peaks)
        out["cases"] = [case.to_json() for case in self.cases]
        out["wall_s"] = self.wall_s
        if self.finished is not None:  # a run still going has written no end yet
            out["finished"] = self.finished
        return out

    @classmethod
    def from_json(cls, data: Mapping) -> SuiteResults:
        """Inverse of :meth:`to_json`.

        Raises
        ------
        ValueError
            Another schema, an unknown key, or a required one missing.
        """
        data = _checked_keys(cls, data)
        if data.get("schema", SCHEMA) != SCHEMA:
            raise ValueError(f"results of schema {data['schema']!r}; this reads {SCHEMA!r}")
        paths = data.get("path_peaks")
        return cls(**{
            **data,
            "settings": Settings.from_json(data["settings"]),
            "machine": Machine.from_json(data["machine"]),
            "peaks": Peaks.from_json(data["peaks"]),
            "cases": [CaseResult.from_json(case) for case in data.get("cases", ())],
            "path_peaks": None if paths is None else _records(PathPeak, paths),
        })


def first_failure(records: Sequence[TuningRun | Candidate]) -> dict:
    """``status`` and ``reason`` of the first record that is not ``ok`` (empty if none)."""
    bad = next((r for r in records if r.status is not Status.OK), None)
    return {} if bad is None else {"status": bad.status, "reason": bad.reason}
