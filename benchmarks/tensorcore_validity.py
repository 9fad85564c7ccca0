"""How many random points of a TensorCore space build, without a GPU: Heron vs MetaSchedule.

For each fp16 operator of the paper's TensorCore list (its first shape, and the
first strided transposed conv), draws N random points of Heron's CUDA space
and of MetaSchedule's ``cuda-tensorcore`` space and counts those that pass the
postprocessors, ``tvm.compile`` to CUDA C, ``nvcc -ptx`` and have
``wmma.mma.sync`` in every PTX (:mod:`tvm_heron.bench.tensorcore_validity`).
Writes ``validity.json`` and ``REPORT.md`` to ``--out``.

    python benchmarks/tensorcore_validity.py --points 8 --out benchmarks/results/tensorcore_validity
    python benchmarks/tensorcore_validity.py --points 8 --acc-dtype float32 \
        --out benchmarks/results/tensorcore_validity_fp32acc
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import tvm

import tvm_heron  # noqa: F401
from tvm_heron.bench.cuda_build import ARCHS, nvcc_path
from tvm_heron.bench.profiles import tensorcore_cases
from tvm_heron.bench.tensorcore_validity import measure_case, report
from tvm_heron.target import parse_target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=8)
    parser.add_argument("--ops", nargs="*", default=None, help="operators (default: all)")
    parser.add_argument("--target", default="nvidia/nvidia-a100")
    parser.add_argument("--archs", nargs="+", default=list(ARCHS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--acc-dtype", default=None, choices=("float32",),
                        help="accumulate in float32 (default: float16)")
    parser.add_argument("--out", default="benchmarks/results/tensorcore_validity")
    args = parser.parse_args()
    if nvcc_path() is None:
        raise SystemExit("nvcc not found on PATH: the validity check compiles CUDA C to PTX")
    target = parse_target(args.target)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start, rows = time.perf_counter(), []
    for name, op, shape in tensorcore_cases(args.ops):
        row = measure_case(name, op, shape, target=target, points=args.points, seed=args.seed,
                           archs=args.archs, acc_dtype=args.acc_dtype)
        print(f"{name:10s} heron {row['heron']['valid']}/{row['heron']['total']}  "
              f"ms {row['metaschedule']['valid']}/{row['metaschedule']['total']} "
              f"{row['metaschedule']['stages']}", flush=True)
        rows.append(row)
    elapsed = time.perf_counter() - start
    meta = {"target": args.target, "archs": args.archs, "points": args.points, "seed": args.seed,
            "acc_dtype": args.acc_dtype or "float16",
            "tvm": tvm.__version__, "seconds": round(elapsed, 1)}
    (out / "validity.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    (out / "REPORT.md").write_text(report(rows, meta, elapsed))
    print(f"wrote {out / 'validity.json'} and {out / 'REPORT.md'}")


if __name__ == "__main__":
    main()
