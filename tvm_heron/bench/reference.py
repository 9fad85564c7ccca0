"""A workload whose reference output is computed once (it is compared three times per case)."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import numpy as np


def memoized_reference(reference: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """``reference`` remembering its last result, keyed by the identity of its arguments."""
    last: dict = {}

    def cached(*logical):
        key = tuple(id(x) for x in logical)
        if last.get("key") != key:
            last["value"] = reference(*logical)
            last["key"] = key
            last["args"] = logical  # keep the arguments alive so that their ids stay theirs
        return last["value"]

    return cached


def with_cached_reference(workload):
    """A copy of ``workload`` (a :class:`~tvm_heron.ops.Workload`) with a memoized reference."""
    return attrs.evolve(workload, reference=memoized_reference(workload.reference))
