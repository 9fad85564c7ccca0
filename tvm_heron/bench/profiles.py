"""Benchmark profiles: which cases, at which trial budget and timing settings (no TVM).

A workloads file (the package's ``data/workloads.json``, :func:`load_workloads`) has the paper's case lists
under ``suites`` (``{"gemm.G1": {"op", "shape", ...}}``) and named profiles
under ``profiles``::

    "smoke": {"about": "...", "trials": 8, "trials_per_round": 8, "rounds": 3,
              "batch_seconds": 0.1, "dtypes": ["int8", "float32"],
              "cases": {"gemm.S64": {"op": "gemm", "shape": [64, 64, 64]}}}

``cases`` is a dict of inline cases, a list of names of the ``suite``
(default ``dlboost``), or the name of a whole suite; ``extra`` adds inline
cases to a suite's. Every case is run in
every one of the profile's ``dtypes``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path

import attrs

#: The workloads file shipped with the package (package data, in ``tvm_heron/bench/data``).
WORKLOADS_FILE = "workloads.json"
#: The TensorCore case list shipped with the package (:func:`tensorcore_cases`).
TENSORCORE_WORKLOADS_FILE = "tensorcore_workloads.json"
#: Data types the suite knows (int8 = u8 x s8 -> s32).
DTYPES = ("int8", "float32")


@attrs.frozen
class Case:
    """One operator at one shape and data type.

    Attributes
    ----------
    name : str
        The case's name in the workloads file, e.g. ``gemm.G1``.
    op : str
        Operator (``gemm``, ``c2d``...).
    shape : tuple of int
        Shape fields, in the order of the file's ``fields``.
    dtype : str
        ``int8`` or ``float32``.
    """

    name: str
    op: str
    shape: tuple[int, ...] = attrs.field(converter=tuple)
    dtype: str

    @property
    def id(self) -> str:
        """Unique id, also the work directory's name: ``gemm.G1-int8``."""
        return f"{self.name}-{self.dtype}"


@attrs.frozen
class Profile:
    """What one benchmark run measures (see the module docstring)."""

    name: str
    cases: tuple[Case, ...]
    trials: int
    trials_per_round: int = 16
    rounds: int = 10
    batch_seconds: float = 0.1
    about: str = ""

    def __attrs_post_init__(self) -> None:
        for field in ("trials", "trials_per_round", "rounds"):
            if getattr(self, field) < 1:
                raise ValueError(f"profile {self.name}: {field} must be positive")
        if self.batch_seconds <= 0:
            raise ValueError(f"profile {self.name}: batch_seconds must be positive")


def package_data(name: str) -> dict:
    """A JSON file of the package's ``data`` folder, parsed (read as a resource: works installed)."""
    return json.loads((resources.files(__package__) / "data" / name).read_text(encoding="utf-8"))


def load_workloads(path: str | Path | None = None) -> dict:
    """The parsed workloads file: ``path``, or by default the package's :data:`WORKLOADS_FILE`."""
    if path is None:
        return package_data(WORKLOADS_FILE)
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def tensorcore_cases(ops: Iterable[str] | None = None) -> list[tuple[str, str, tuple[int, ...]]]:
    """(case name, op, shape): the first TensorCore case of each operator (of ``ops``, default
    all) in :data:`TENSORCORE_WORKLOADS_FILE`, and of transposed conv also the first strided
    one (one reduction per output phase)."""
    workloads = package_data(TENSORCORE_WORKLOADS_FILE)
    keep = set(ops) if ops else None
    seen, cases = set(), []
    for name, case in workloads["suites"]["tensorcore"].items():
        op, shape = case["op"], tuple(case["shape"])
        strided = op == "t2d" and shape[workloads["fields"][op].index("stride")] > 1
        if (op, strided) in seen or (keep is not None and op not in keep):
            continue
        seen.add((op, strided))
        cases.append((name, op, shape))
    return cases


def profile_names(data: Mapping) -> list[str]:
    """The profiles a workloads file defines."""
    return list(data.get("profiles", {}))


def load_profile(
    data: Mapping,
    name: str,
    *,
    trials: int | None = None,
    ops: Iterable[str] | None = None,
    dtypes: Iterable[str] | None = None,
    rounds: int | None = None,
) -> Profile:
    """Resolve profile ``name`` of a workloads file, with command-line overrides.

    Parameters
    ----------
    trials, rounds : int, optional
        Replace the profile's.
    ops : iterable of str, optional
        Keep only these operators.
    dtypes : iterable of str, optional
        Replace the profile's data types.

    Raises
    ------
    KeyError
        Unknown profile, suite or case (the message lists the known ones).
    ValueError
        Unknown data type, or nothing left to run.
    """
    profiles = data.get("profiles", {})
    if name not in profiles:
        raise KeyError(f"unknown profile {name!r}; known: {', '.join(profiles) or 'none'}")
    spec = profiles[name]
    chosen = tuple(dtypes) if dtypes is not None else tuple(spec.get("dtypes", DTYPES))
    for dtype in chosen:
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPES)}")
    keep = set(ops) if ops is not None else None
    cases = tuple(
        Case(case_name, case["op"], case["shape"], dtype)
        for case_name, case in _named_cases(data, spec)
        if keep is None or case["op"] in keep
        for dtype in chosen
    )
    if not cases:
        raise ValueError(
            f"profile {name}: no case left (ops={sorted(keep or [])}, dtypes={chosen})")
    return Profile(
        name=name,
        cases=cases,
        trials=trials if trials is not None else int(spec["trials"]),
        trials_per_round=int(spec.get("trials_per_round", 16)),
        rounds=rounds if rounds is not None else int(spec.get("rounds", 10)),
        batch_seconds=float(spec.get("batch_seconds", 0.1)),
        about=str(spec.get("about", "")),
    )


def _named_cases(data: Mapping, spec: Mapping) -> list[tuple[str, Mapping]]:
    suites = data.get("suites", {})
    cases = spec.get("cases", {})
    if isinstance(cases, Mapping):
        return list(cases.items())
    suite_name = spec.get("suite", "dlboost")
    if isinstance(cases, str):
        suite_name, cases = cases, None
    if suite_name not in suites:
        raise KeyError(f"unknown suite {suite_name!r}; known: {', '.join(suites)}")
    suite = suites[suite_name]
    names: Sequence[str] = list(suite) if cases is None else cases
    missing = [n for n in names if n not in suite]
    if missing:
        raise KeyError(f"cases not in suite {suite_name}: {', '.join(missing)}")
    extra = list(spec.get("extra", {}).items())  # inline cases next to the suite's
    return [(n, suite[n]) for n in names] + extra
