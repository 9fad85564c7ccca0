"""What the fitness model learns: the measured latencies turned into a training target.

Heron's model learns the normalised throughput (best latency / latency, in
(0, 1], 0 for a failure). On a space whose median program runs at a few per
cent of the best, that target is nearly flat near 0, and squared error
spends the trees on the slow majority. Two alternatives keep the good end
apart:

``"ratio"``
    ``best / latency``; failures 0 (Heron's).
``"log"``
    ``log2(best / latency)`` (0 for the best, -1 for half its speed);
    failures one below the slowest program measured.
``"rank"``
    the throughput's percentile among the programs measured, in (0, 1] (1 for
    the best); failures 0.

Nothing here imports TVM.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .ranks import average_ranks

__all__ = ["TARGETS", "fitness_targets"]

#: Training targets of the fitness model.
TARGETS = ("ratio", "log", "rank")


def fitness_targets(latencies: Sequence[float | None], kind: str = "ratio") -> np.ndarray:
    """The training target of each measurement (None: it failed); higher is better.

    Raises
    ------
    ValueError
        If ``kind`` is not one of :data:`TARGETS` or a latency is not positive.
    """
    if kind not in TARGETS:
        raise ValueError(f"kind must be one of {TARGETS}, got {kind!r}")
    valid = np.asarray([lat for lat in latencies if lat is not None], dtype=float)
    if np.any(valid <= 0):
        raise ValueError("latencies must be positive")
    out = np.zeros(len(latencies))
    if not valid.size:
        return out
    ok = np.asarray([lat is not None for lat in latencies])
    lat = np.asarray([lat if lat is not None else np.nan for lat in latencies], dtype=float)
    if kind == "ratio":
        out[ok] = valid.min() / lat[ok]
    elif kind == "log":
        out[ok] = np.log2(valid.min() / lat[ok])
        out[~ok] = out[ok].min() - 1.0
    else:
        # Average rank among the valid ones (ties share), scaled so that the best is 1.
        throughput = 1.0 / lat[ok]
        out[ok] = average_ranks(throughput) / throughput.size
    return out
