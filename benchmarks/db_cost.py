"""The durable database's cost per trial at 10,000 records, against a trial's wall time.

    python benchmarks/db_cost.py --records 10000 --trial-s 0.43

``--trial-s``: the wall time of one trial to compare with (default 0.43 s:
heron-cga's 64 trials of int8 GEMM 1024^3 in 27.8 s on the AMD EPYC Zen 5 of
benchmarks/results; measure yours with benchmarks/suite.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile

from tvm_heron.bench.db_cost import measure
from tvm_heron.target import host_target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--trial-s", type=float, default=0.43)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as work_dir:
        cost = measure(work_dir, host_target(), records=args.records)
    share = cost.per_trial_s / args.trial_s
    print(f"{cost.records} records: commit {cost.commit_s * 1e3:.3f} ms/record, task start "
          f"{cost.read_s:.3f} s, refresh {cost.refresh_s * 1e3:.2f} ms/round, best record "
          f"{cost.best_s * 1e3:.2f} ms")
    print(f"per trial {cost.per_trial_s * 1e3:.3f} ms = {100 * share:.2f}% of a {args.trial_s} s trial "
          f"(target: under 1%)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({**cost.to_json(), "trial_s": args.trial_s, "share": share}, out, indent=1)


if __name__ == "__main__":
    main()
