"""Build-only validity per instruction set: Heron's space vs MetaSchedule's, programs with the instruction.

For each operator of a profile (default ``small``: one paper shape per
operator), each instruction-set description (default: every one other than
this machine's, aarch64 included), draws ``--points`` programs of Heron's
space and of MetaSchedule's default space for the description's example CPU,
postprocesses them and builds them to assembly (nothing runs), and counts
those whose assembly holds the description's multiply-accumulate instruction
(:mod:`tvm_heron.bench.asm_validity`).

    python benchmarks/isa_validity.py --points 8 --json /tmp/isa_validity.json
"""

from __future__ import annotations

import argparse
import json
import logging
import time

from tvm_heron import isa
from tvm_heron.bench.asm_validity import SPACES, count, table
from tvm_heron.bench.profiles import load_profile, load_workloads
from tvm_heron.ops import make_workload
from tvm_heron.target import host_target, instruction_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="small")
    parser.add_argument("--points", type=int, default=8)
    parser.add_argument("--dtypes", default="int8", help="comma-separated: int8,float32")
    parser.add_argument("--isas", default=None, help="comma-separated names (default: all but the host's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    host = instruction_set(host_target()).name
    names = args.isas.split(",") if args.isas else [d.name for d in isa.INSTRUCTION_SETS if d.name != host]
    profile = load_profile(load_workloads(), args.profile, dtypes=["int8"])
    cases = {case.op: case for case in profile.cases}  # one shape per operator
    rows = []
    for name in names:
        description = isa.by_name(name)
        for dtype in args.dtypes.split(","):
            for op, case in sorted(cases.items()):
                workload = make_workload(op, case.shape, dtype)
                for space in SPACES:
                    start = time.perf_counter()
                    row = count(workload, description, space, args.points, args.seed).to_json()
                    row["seconds"] = round(time.perf_counter() - start, 1)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    print(f"\nhost: {host}; {args.points} programs per space; built for each description's example CPU\n")
    print(table(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"host": host, "points": args.points, "rows": rows}, out, indent=1)


if __name__ == "__main__":
    main()
