"""Measuring over RPC without hangs: a runner that waits a bounded time for servers.

MetaSchedule's ``RPCRunner`` asks the tracker for a session and, with no
server left for its key, each request blocks until its session timeout;
with none at the start the whole run measures nothing. :class:`TrackedRPCRunner`
checks the tracker before every batch: no server for the key for
``wait_s`` seconds is a :class:`~tvm_heron.errors.RPCUnavailableError` naming
the tracker and the key (the tuning run stops with it, every record measured
so far kept). A server killed mid-batch fails only the candidates it held,
as a lost connection or a time-out: transient failures
(:class:`~tvm_heron.outcome.Failure`), measured again in a later run; the
batch goes on with the servers left.
"""

from __future__ import annotations

import logging
import time

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.runner import PyRunner, RPCConfig, RPCRunner

from .errors import RPCUnavailableError

logger = logging.getLogger(__name__)


def count_servers(config: RPCConfig) -> int:
    """RPC servers the tracker has for the config's key (0 when the tracker cannot be reached)."""
    try:
        return int(config.count_num_servers(allow_missing=True))
    except Exception:  # pylint: disable=broad-except  # tracker down: no server either
        return 0


def wait_for_servers(config: RPCConfig, wait_s: float, *, poll_s: float = 1.0) -> int:
    """The number of servers for the key, waiting up to ``wait_s`` for one to register.

    Raises
    ------
    RPCUnavailableError
        When none is registered within ``wait_s`` seconds.
    """
    deadline = time.monotonic() + wait_s
    while True:
        servers = count_servers(config)
        if servers:
            return servers
        if time.monotonic() >= deadline:
            raise RPCUnavailableError(
                f"no RPC server for key {config.tracker_key!r} at tracker "
                f"{config.tracker_host}:{config.tracker_port} after waiting {wait_s:.0f} s; start "
                f"one with: python -m tvm.exec.rpc_server --tracker {config.tracker_host}:"
                f"{config.tracker_port} --key {config.tracker_key} --port 9090 --port-end 9190"
            )
        time.sleep(poll_s)


@derived_object
class TrackedRPCRunner(PyRunner):
    """``RPCRunner`` that waits a bounded time for a server before every batch.

    Parameters
    ----------
    tracker_host, tracker_port, tracker_key : str, int, str
        The tracker and the key the servers registered with.
    max_workers : int
        Candidates measured at once (one session each).
    session_timeout_s : float
        Seconds a candidate's session may take (a dead server fails within it).
    wait_s : float
        Seconds to wait for a server before a batch.
    """

    def __init__(self, *, tracker_host: str, tracker_port: int, tracker_key: str,
                 max_workers: int = 1, session_timeout_s: float = 60.0, wait_s: float = 60.0) -> None:
        super().__init__()
        self.config = RPCConfig(tracker_host=tracker_host, tracker_port=int(tracker_port),
                                tracker_key=tracker_key, session_timeout_sec=int(session_timeout_s))
        self.wait_s = float(wait_s)
        self.max_workers = max_workers
        self.failure: RPCUnavailableError | None = None
        # Made at the first batch, once a server is there: RPCRunner's start checks the
        # tracker from a new worker process (seconds), which a run with no server need not wait for.
        self._inner: RPCRunner | None = None

    def run(self, runner_inputs):
        try:
            servers = wait_for_servers(self.config, self.wait_s)
        except RPCUnavailableError as err:
            # Crossing MetaSchedule's C++ turns the exception into a plain ValueError:
            # the tuning layer re-raises this one (tvm_heron.tuning.tune).
            self.failure = err
            raise
        logger.debug("RPC: %d servers for key %s", servers, self.config.tracker_key)
        if self._inner is None:
            self._inner = RPCRunner(rpc_config=self.config, max_workers=self.max_workers)
        return self._inner.run(runner_inputs)


def parse_tracker(text: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port); a :class:`~tvm_heron.errors.BadInputError` otherwise."""
    from .errors import BadInputError  # pylint: disable=import-outside-toplevel

    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadInputError(f"--rpc-tracker must be HOST:PORT, got {text!r}")
    return host, int(port)
