"""TVM's CPU thread pool gets every core (TVM's own default is half the vCPUs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import glob, json, os
import numpy as np
import tvm_heron, tvm
from tvm.script import from_source
from tvm_heron.target import host_target
threads = tvm.runtime.num_threads()
twice = from_source('''
@T.prim_func
def twice(a: T.Buffer((64,), "float32"), b: T.Buffer((64,), "float32")):
    for i in T.parallel(64):
        b[i] = a[i] * T.float32(2)
''')

# Run a parallel loop so that the pool's workers exist, then read every
# thread's CPU mask.
f = tvm.compile(twice, target="llvm")
a = tvm.runtime.tensor(np.ones(64, "float32"))
b = tvm.runtime.tensor(np.zeros(64, "float32"))
f(a, b)
masks = set()
for task in glob.glob("/proc/self/task/*/status"):
    with open(task) as fh:
        masks.update(l.split()[1] for l in fh if l.startswith("Cpus_allowed_list"))
print(json.dumps({"threads": threads, "env": os.environ.get("TVM_NUM_THREADS"),
                  "cores": int(host_target().attrs["num-cores"]),
                  "bind": os.environ.get("TVM_BIND_THREADS"), "masks": sorted(masks),
                  "ok": bool(np.all(b.numpy() == 2))}))
"""


def _probe(env_update: dict) -> dict:
    """Run the probe in a fresh process (one per test: each is mostly its import)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TVM_NUM_THREADS", "OMP_NUM_THREADS", "TVM_BIND_THREADS")}
    env.update(env_update)
    proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


CORES = len(os.sched_getaffinity(0))


@pytest.mark.skipif(CORES < 2, reason="needs at least 2 CPUs to tell the counts apart")
def test_import_sizes_the_pool_to_every_core():
    got = _probe({})
    assert {k: got[k] for k in ("threads", "env", "cores", "ok")} == {
        "threads": CORES, "env": str(CORES), "cores": CORES, "ok": True}


@pytest.mark.slow
@pytest.mark.skipif(CORES < 2, reason="needs at least 2 CPUs for a worker thread to be pinned")
def test_pool_threads_are_not_pinned_unless_the_user_asks():
    # Unpinned: every thread of the process may run on every CPU it has.
    got = _probe({})
    assert got["bind"] == "0" and got["ok"]
    assert got["masks"] == [_cpu_list()]
    # The user's choice wins: TVM then pins its worker threads to single CPUs.
    got = _probe({"TVM_BIND_THREADS": "1"})
    assert got["bind"] == "1" and got["ok"]
    assert len(got["masks"]) > 1


def _cpu_list() -> str:
    with open("/proc/self/status") as fh:
        return next(l.split()[1] for l in fh if l.startswith("Cpus_allowed_list"))


def test_a_count_the_user_chose_wins():
    got = _probe({"TVM_NUM_THREADS": "1"})
    assert got["threads"] == 1 and got["env"] == "1"
    # A one-thread pool pins the thread that made it to CPU 0; the target's
    # num-cores, read after that, must still count the machine's cores.
    assert got["cores"] == CORES

