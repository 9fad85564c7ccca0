"""User-facing progress of a tuning run: one bar over trials, one log line per round.

All progress output of tvm_heron goes through :class:`TuningProgress`; the
stage clock :data:`CLOCK` lets the builder and the strategies account where
wall time goes (search, build, the rest is running) without knowing of each other.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from collections import Counter

from tqdm import tqdm

logger = logging.getLogger(__name__)


class StageClock:
    """Seconds spent per stage (``search``, ``build``), accumulated process-wide."""

    def __init__(self) -> None:
        self._seconds: Counter = Counter()
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        """Account ``seconds`` to ``stage``."""
        with self._lock:
            self._seconds[stage] += seconds

    def snapshot(self) -> dict[str, float]:
        """A copy of the totals."""
        with self._lock:
            return dict(self._seconds)


CLOCK = StageClock()


class TuningProgress:
    """A progress bar over a task's trials with the best latency so far, and round logs.

    Parameters
    ----------
    total : int
        Trial budget of the task.
    name : str
        Task name shown in the bar.
    enabled : bool
        Show the bar (it goes to stderr; it is off when stderr is not a terminal
        unless forced).
    """

    def __init__(self, total: int, name: str, *, enabled: bool | None = None) -> None:
        self.total = total
        self.best = math.inf
        self.round = 0
        enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar = tqdm(total=total, desc=name, unit="trial", disable=not enabled, leave=False)
        self._round_start = time.perf_counter()
        self._clock = CLOCK.snapshot()

    def round_started(self) -> None:
        """Mark the start of a round (before the strategy searches)."""
        self._round_start = time.perf_counter()
        self._clock = CLOCK.snapshot()

    def round_finished(self, *, proposed: int, valid: int, measured: int, latencies) -> dict:
        """Advance the bar by ``measured`` and log one line; returns the round's figures."""
        ok = [s for s in latencies if s is not None]
        if ok:
            self.best = min(self.best, min(ok))
        self.round += 1
        now = CLOCK.snapshot()
        wall = time.perf_counter() - self._round_start
        search = now.get("search", 0.0) - self._clock.get("search", 0.0)
        build = now.get("build", 0.0) - self._clock.get("build", 0.0)
        figures = {
            "round": self.round,
            "proposed": proposed,
            "valid": valid,
            "measured": measured,
            "ran": len(ok),
            "best_s": self.best if ok or self.best < math.inf else None,
            "search_s": search,
            "build_s": build,
            "run_s": max(wall - search - build, 0.0),
        }
        best = f"{self.best * 1e3:.4f} ms" if self.best < math.inf else "-"
        self._bar.set_postfix_str(f"best {best}")
        self._bar.update(measured)
        logger.info(
            "round %d: proposed %d, valid %d, measured %d (%d ran), best %s; "
            "search %.1fs, build %.1fs, run %.1fs",
            self.round, proposed, valid, measured, len(ok), best, search, build, figures["run_s"],
        )
        return figures

    def close(self) -> None:
        """Remove the bar."""
        self._bar.close()
