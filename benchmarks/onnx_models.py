"""ONNX models end to end: tvm-heron vs ONNX Runtime vs OpenVINO (vs PyTorch for float), batch 1.

    python benchmarks/onnx_models.py --models resnet50,bert-base --dtypes float32,int8 \
        --trials-per-task 8 --out benchmarks/results/onnx_models
    python benchmarks/onnx_models.py --small --trials-per-task 2 --out /tmp/onnx_small

``--small`` runs the ``-small`` version of each network (a few layers of the same blocks).
"""

from __future__ import annotations

import argparse
import logging

import tvm_heron  # noqa: F401  (registers the strategies and intrinsics)
from tvm_heron.bench.onnx_models import DTYPES, run_onnx_models
from tvm_heron.bench.onnx_runtimes import RUNTIMES
from tvm_heron.models.onnx_export import ONNX_NETS


def _names(text: str, known, what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown)}; known: {', '.join(known)}")
    return names


def main() -> None:
    full = [n for n in ONNX_NETS if not n.endswith("-small")]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=lambda t: _names(t, full, "model"), default=["resnet50", "bert-base"],
                        help=f"comma-separated, of {', '.join(full)}")
    parser.add_argument("--dtypes", type=lambda t: _names(t, DTYPES, "dtype"), default=list(DTYPES))
    parser.add_argument("--small", action="store_true", help="the -small version of each model")
    parser.add_argument("--trials-per-task", type=int, default=8)
    parser.add_argument("--max-trials", type=int, default=None, help="cap on the global budget")
    parser.add_argument("--trials-per-round", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=10, help="interleaved timing rounds")
    parser.add_argument("--runtimes", type=lambda t: _names(t, RUNTIMES, "runtime"), default=list(RUNTIMES))
    parser.add_argument("--no-pytorch", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reduce-range", action="store_true",
                        help="int8 files with 7-bit weights (ONNX Runtime's advice without VNNI)")
    parser.add_argument("--cache-dir", default=None, help="ONNX files (default OUT/onnx)")
    parser.add_argument("--out", default="benchmarks/results/onnx_models")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("tvm.s_tir.meta_schedule").setLevel(logging.WARNING)
    names = [f"{n}-small" if args.small else n for n in args.models]
    results = run_onnx_models(names, args.out, dtypes=args.dtypes, trials_per_task=args.trials_per_task,
                              max_trials=args.max_trials, trials_per_round=args.trials_per_round,
                              rounds=args.rounds, seed=args.seed, cache_dir=args.cache_dir,
                              runtimes=args.runtimes, pytorch=not args.no_pytorch,
                              reduce_range=args.reduce_range)
    for c in results["cases"]:
        print(c["model"], c["dtype"], {k: round(v, 3) for k, v in c["median_ms"].items()},
              {k: round(v, 2) for k, v in c["speedup"].items()})


if __name__ == "__main__":
    main()
