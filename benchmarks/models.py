"""Whole-model benchmark: tvm-heron vs MetaSchedule's evolutionary search vs PyTorch.

    python benchmarks/models.py --models bert-base resnet50 --trials 512 --out benchmarks/results/models
"""

from __future__ import annotations

import argparse
import logging

import tvm_heron  # noqa: F401  (registers the strategies and intrinsics)
from tvm_heron.bench.models import run_models
from tvm_heron.models import MODELS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["bert-base", "resnet50"], choices=sorted(MODELS))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--trials", type=int, default=256, help="global budget per tuner and model")
    parser.add_argument("--trials-per-round", type=int, default=8)
    parser.add_argument("--max-trials-per-task", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=10, help="interleaved timing rounds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/models")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("tvm.s_tir.meta_schedule").setLevel(logging.WARNING)
    results = run_models(args.models, args.out, batch=args.batch, trials=args.trials,
                         trials_per_round=args.trials_per_round,
                         max_trials_per_task=args.max_trials_per_task, rounds=args.rounds, seed=args.seed)
    for m in results["models"]:
        print(m["model"], {k: round(v, 4) for k, v in m["median_ms"].items()}, m["speedup"])


if __name__ == "__main__":
    main()
