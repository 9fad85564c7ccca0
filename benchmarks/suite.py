"""Operator benchmark suite: heron-cga vs MetaSchedule's evolutionary search vs PyTorch.

    python benchmarks/suite.py --profile smoke --out /tmp/smoke
    python benchmarks/suite.py --profile small --out runs/small
    python benchmarks/suite.py --profile paper --out runs/paper --ops gemm,c2d --dtypes int8

Profiles and cases are in the package's workloads file
(``tvm_heron/bench/data/workloads.json``, also at ``benchmarks/workloads.json``);
``--workloads FILE`` reads another. See :mod:`tvm_heron.bench.suite`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tvm_heron.bench import report
from tvm_heron.bench.noise import NoiseGuard
from tvm_heron.bench.profiles import load_profile, load_workloads
from tvm_heron.bench.suite import run_suite, vendor_environment
from tvm_heron.errors import HeronError
from tvm_heron.target import instruction_set, parse_target


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Operator benchmark: heron-cga vs MetaSchedule's evolutionary search vs "
                    "PyTorch, tuned at the same budget and timed interleaved.")
    parser.add_argument("--profile", default="smoke",
                        help="smoke, small or paper (see --workloads)")
    parser.add_argument("--out", required=True,
                        help="output directory (reused: finished tuning runs are kept)")
    parser.add_argument("--workloads", default=None,
                        help="workloads file (default: the package's, "
                        "tvm_heron/bench/data/workloads.json)")
    parser.add_argument("--trials", type=int, default=None,
                        help="trials per tuner (default: the profile's)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="timing rounds (default: the profile's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1,
                        help="tuning runs per tuner (seeds SEED, SEED+1...); a tuner's time is "
                        "the median over its runs' best kernels")
    parser.add_argument("--ops", default=None,
                        help="comma-separated operators to keep, e.g. gemm,c2d")
    parser.add_argument("--dtypes", default=None,
                        help="comma-separated data types, e.g. int8,float32")
    parser.add_argument("--noise-threshold", type=float, default=0.2,
                        help="largest CPU share of other processes during a quiet timing (0..1)")
    parser.add_argument("--noise-attempts", type=int, default=3,
                        help="timings of a batch at most while the machine is noisy")
    parser.add_argument("--vendor-isa", default=None,
                        help="newest instruction set oneDNN may use (ONEDNN_MAX_CPU_ISA): by "
                        "default that of tvm-heron's kernels on the target (AVX-512 VNNI without "
                        "AMX, AVX2, ...); 'all' leaves oneDNN free")
    parser.add_argument("--target", default=None,
                        help="'host' (default) or a JSON dict of a CPU this machine can run, e.g. "
                        '\'{"kind":"llvm","mcpu":"znver3"}\' for the AVX2 paths')
    parser.add_argument("--int8-range", default="u8", choices=("u8", "u7"),
                        help="u7: the int8 cases declare 7-bit activations (AVX2's vpmaddubsw form)")
    parser.add_argument("--no-patch-ms-vnni", action="store_true",
                        help="keep MetaSchedule's own (broken with LLVM 22) VNNI intrinsic")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; returns the exit status."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        profile = load_profile(
            load_workloads(args.workloads), args.profile, trials=args.trials, rounds=args.rounds,
            ops=args.ops.split(",") if args.ops else None,
            dtypes=args.dtypes.split(",") if args.dtypes else None)
    except (KeyError, ValueError) as err:
        print(f"error: {err.args[0] if err.args else err}", file=sys.stderr)
        return 2
    if args.seeds < 1:
        print(f"error: --seeds must be positive, got {args.seeds}", file=sys.stderr)
        return 2
    try:
        target = parse_target(args.target)
        description = instruction_set(target)
    except HeronError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    # PyTorch reads these at its first operation: before the suite runs.
    for name, value in vendor_environment(description, args.vendor_isa).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    guard = NoiseGuard(threshold=args.noise_threshold, max_attempts=args.noise_attempts)
    results = run_suite(profile, args.out, seed=args.seed, seeds=args.seeds, guard=guard,
                        target=target, patch_ms_vnni=not args.no_patch_ms_vnni,
                        int8_range=args.int8_range)
    print(f"\n{Path(args.out) / 'REPORT.md'}:\n")
    print(report.render_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
