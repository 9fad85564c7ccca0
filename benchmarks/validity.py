"""How many random points of a space are valid: feasible, replayable, built, ran.

For each int8 GEMM shape, draws N random points from Heron's space and N random
samples of MetaSchedule's own default space for the target, then builds and
runs all of them and counts each stage (:mod:`tvm_heron.bench.validity`).

    python benchmarks/validity.py --shapes 64,64,64 512,512,512 --points 200
"""

from __future__ import annotations

import argparse
import json

import tvm_heron  # noqa: F401
from tvm_heron.bench.msvnni import patch_metaschedule_vnni
from tvm_heron.bench.validity import SAMPLERS, measure, table
from tvm_heron.target import host_target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", nargs="+", default=["64,64,64", "512,512,512"])
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--json", default=None)
    parser.add_argument(
        "--patch-ms-vnni",
        action="store_true",
        help="give MetaSchedule's VNNI rule our working intrinsic under its name dot_16x4_vnni",
    )
    args = parser.parse_args()
    target = host_target()
    if args.patch_ms_vnni:
        patch_metaschedule_vnni()
    rows = []
    for text in args.shapes:
        shape = tuple(int(x) for x in text.split(","))
        for space in SAMPLERS:
            row = measure(shape, space, target, points=args.points, seed=args.seed,
                          timeout=args.timeout)
            if args.patch_ms_vnni and space == "metaschedule":
                row["space"] = "metaschedule+heron-intrinsic"
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n" + table(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"target": str(target), "rows": rows}, out, indent=1)


if __name__ == "__main__":
    main()
