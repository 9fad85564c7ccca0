"""TVM's CPU thread pool gets every core (TVM's own default is half the vCPUs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, os
import tvm_heron, tvm
from tvm_heron.target import host_target
threads = tvm.runtime.num_threads()
print(json.dumps({"threads": threads, "env": os.environ.get("TVM_NUM_THREADS"),
                  "cores": int(host_target().attrs["num-cores"])}))
"""


def _probe(env_update: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("TVM_NUM_THREADS", "OMP_NUM_THREADS")}
    env.update(env_update)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                         check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


CORES = len(os.sched_getaffinity(0))


@pytest.mark.skipif(CORES < 2, reason="needs at least 2 CPUs to tell the counts apart")
def test_import_sizes_the_pool_to_every_core():
    got = _probe({})
    assert got == {"threads": CORES, "env": str(CORES), "cores": CORES}


def test_a_count_the_user_chose_wins():
    got = _probe({"TVM_NUM_THREADS": "1"})
    assert got["threads"] == 1 and got["env"] == "1"
    # A one-thread pool pins the thread that made it to CPU 0; the target's
    # num-cores, read after that, must still count the machine's cores.
    assert got["cores"] == CORES

