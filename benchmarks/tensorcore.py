"""fp16 TensorCore benchmark: tvm-heron (heron-cga) vs MetaSchedule cuda-tensorcore vs PyTorch.

On the GPU of this machine: fp16 GEMM 1024^3 and 4096^3 and the paper's
``c2d.C3``, tuned by both at the same trial budget, checked, and timed
interleaved with PyTorch's cuBLAS / cuDNN call (:mod:`tvm_heron.bench.tensorcore`).
Writes ``results.json`` and ``REPORT.md`` to ``--out``.

    python benchmarks/tensorcore.py --trials 1000 --out benchmarks/results/tensorcore
    python benchmarks/tensorcore.py --dry-run   # no GPU: build workloads and spaces only
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import tvm

import tvm_heron  # noqa: F401  (registers the strategies)
from tvm_heron.bench.tensorcore import CASES, dry_run, gpu_target, report, run_case
from tvm_heron.intrinsics import wmma
from tvm_heron.target import parse_target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--target", default=None, help="default: this machine's GPU")
    parser.add_argument("--cases", nargs="*", default=None, help=f"of {[c[0] for c in CASES]}")
    parser.add_argument("--out", default="benchmarks/results/tensorcore")
    parser.add_argument("--dry-run", action="store_true",
                        help="build workloads and spaces only (no GPU needed)")
    args = parser.parse_args()
    if args.dry_run:
        for line in dry_run(parse_target(args.target or "nvidia/nvidia-a100")):
            print(line, flush=True)
        return 0
    if not tvm.cuda(0).exist:
        print("tensorcore benchmark: no CUDA device on this machine; it tunes and times on an "
              "NVIDIA GPU. Use --dry-run to build the workloads and spaces only.", file=sys.stderr)
        return 2
    target = gpu_target(args.target)
    # A resumed run compiles database records that name our wmma intrinsics.
    wmma.register_all()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"gpu": tvm.cuda(0).device_name, "target": str(target), "trials": args.trials,
            "rounds": args.rounds, "seed": args.seed, "host": platform.node(),
            "tvm": tvm.__version__}
    rows = []
    for name, op, shape in CASES:
        if args.cases and name not in args.cases:
            continue
        rows.append(run_case(name, op, shape, trials=args.trials, rounds=args.rounds,
                             seed=args.seed, target=target, out=out))
        (out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
        (out / "REPORT.md").write_text(report(rows, meta))
        print(report(rows, meta), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
