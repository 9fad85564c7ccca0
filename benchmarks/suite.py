"""Operator benchmark suite: heron-cga vs MetaSchedule's evolutionary search vs PyTorch.

    python benchmarks/suite.py --profile smoke --out /tmp/smoke
    python benchmarks/suite.py --profile small --out runs/small
    python benchmarks/suite.py --profile paper --out runs/paper --ops gemm,c2d --dtypes int8

Profiles and cases are in benchmarks/workloads.json; see tvm_heron/bench/suite.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tvm_heron.bench.suite import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--workloads" not in argv:
        argv += ["--workloads", str(Path(__file__).resolve().parent / "workloads.json")]
    sys.exit(main(argv))
