"""What one measurement came to: a latency, or a failure of a known kind.

MetaSchedule reports a candidate as ``run_secs`` (seconds per repeat; a
failure is recorded as ``1e10``) plus an error message whose prefix names
the stage that failed (``LocalBuilder: Timeout, killed after 30 seconds``,
``RPCRunner: An exception occurred ...``). This module turns those into
typed outcomes and keeps the tally a tuning run reports at its end: how many
candidates failed, of which kind, the first message of each kind, and what
to change. Nothing here imports TVM.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable

import attrs
import numpy as np

#: MetaSchedule records a failed build or run with run_secs of 1e10; anything
#: at or above this is a failure.
FAILED_SECS = 1e9


def latency_of(run_secs: Iterable | None) -> float | None:
    """Mean of a record's or result's ``run_secs``; None for a failure (or nothing measured)."""
    secs = [float(s) for s in (run_secs or [])]
    if not secs or max(secs) >= FAILED_SECS:
        return None
    return float(np.mean(secs))


class Failure(enum.Enum):
    """Why a candidate has no latency.

    A *transient* failure (a time-out under load, a lost RPC connection, a
    killed worker) says nothing about the program: it is worth measuring
    again. A permanent one (the program does not build, or crashes) is not.
    """

    BUILD_TIMEOUT = "build-timeout"
    BUILD_ERROR = "build-error"
    RUN_TIMEOUT = "run-timeout"
    RUN_ERROR = "run-error"
    LOST = "lost"

    @property
    def transient(self) -> bool:
        """Whether measuring the same program again may succeed."""
        return self in (Failure.BUILD_TIMEOUT, Failure.RUN_TIMEOUT, Failure.LOST)


#: Words of an error message that mean the worker or the connection went away.
_LOST_WORDS = ("connection", "broken pipe", "worker died", "killed by signal", "session", "tracker",
               "kshutdown", "rpc server")

#: What to change, per failure kind, when every candidate failed that way.
HINTS = {
    Failure.BUILD_TIMEOUT: (
        "the builder timed out: MetaSchedule's LocalBuilder starts new worker processes for "
        "every batch and each imports TVM's tensor intrinsics (30-50 s on a 2-core machine) "
        "within its 30 s timeout; pass builder=tvm_heron.PersistentBuilder() (workers kept, "
        "120 s), or ms.builder.LocalBuilder(timeout_sec=120)"
    ),
    Failure.BUILD_ERROR: (
        "every candidate failed to build: check that the target's CPU has the instructions "
        "of the space (tvm-heron info) and run with -v for the first build log"
    ),
    Failure.RUN_TIMEOUT: (
        "the runner timed out: raise the runner's timeout "
        "(ms.runner.LocalRunner(timeout_sec=...)) or measure on a less loaded machine"
    ),
    Failure.RUN_ERROR: (
        "every candidate failed when run: a target the runner's machine cannot execute "
        "(another CPU) needs an RPC runner on that machine"
    ),
    Failure.LOST: "the runner lost its worker or RPC connection: check the RPC tracker and servers",
}


def classify(error_msg: str) -> Failure:
    """The :class:`Failure` kind of a MetaSchedule builder or runner error message."""
    head = error_msg.strip().splitlines()[0].lower() if error_msg.strip() else ""
    text = error_msg.lower()
    build = "builder" in head
    if "timeout" in head or "timed out" in head:
        return Failure.BUILD_TIMEOUT if build else Failure.RUN_TIMEOUT
    if build:
        return Failure.BUILD_ERROR
    if any(word in text for word in _LOST_WORDS):
        return Failure.LOST
    return Failure.RUN_ERROR


@attrs.define
class FailureTally:
    """Counts of a run's measurements by outcome, with the first message of each failure kind."""

    measured: int = 0
    valid: int = 0
    counts: Counter = attrs.field(factory=Counter)
    first: dict = attrs.field(factory=dict)

    def add(self, error_msg: str | None, latency: float | None = None) -> Failure | None:
        """Count one result; returns its failure kind (None when it ran)."""
        self.measured += 1
        if error_msg is None and latency is not None:
            self.valid += 1
            return None
        kind = classify(error_msg or "no latency reported")
        self.counts[kind] += 1
        self.first.setdefault(kind, (error_msg or "no latency reported").strip())
        return kind

    @property
    def failed(self) -> int:
        """Candidates without a latency."""
        return self.measured - self.valid

    def summary(self) -> str:
        """One paragraph: counts, the most common failure's first message, what to change."""
        if not self.measured:
            return "nothing was measured"
        text = f"{self.valid}/{self.measured} candidates ran"
        if not self.failed:
            return text
        kinds = ", ".join(f"{n} {kind.value}" for kind, n in self.counts.most_common())
        worst = self.counts.most_common(1)[0][0]
        message = self.first[worst].splitlines()
        text += f"; {self.failed} failed ({kinds}); first {worst.value}: {message[0][:300]}"
        if not self.valid:
            text += f". What to change: {HINTS[worst]}"
        return text

    def to_json(self) -> dict:
        """A JSON-serialisable dict (kind names as keys)."""
        return {
            "measured": self.measured,
            "valid": self.valid,
            "failed": {kind.value: n for kind, n in self.counts.items()},
            "first_error": {kind.value: msg[:2000] for kind, msg in self.first.items()},
        }
