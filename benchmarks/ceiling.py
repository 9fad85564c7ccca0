"""How much faster than the evolutionary search's kernels any kernel could be, for a suite run.

    python benchmarks/ceiling.py benchmarks/results/suite_small/results.json
    python benchmarks/ceiling.py RESULTS.json --launch-us 1.0 --out ceiling.md

For every case of a ``benchmarks/suite.py`` run: the evolutionary search's
time against the least time a kernel could take at the run's measured compute
peak, serially on one core or in parallel on all of them plus what launching
a parallel loop costs in TVM's thread pool (measured here, unless
``--launch-us`` gives it). Memory traffic is ignored: the ceiling is an upper
bound on what any tuner could show over that search
(:func:`tvm_heron.bench.report.ceiling_report`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tvm_heron.bench.report import ceiling_report, cores_of, read_json


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", help="results.json of a suite run")
    parser.add_argument("--launch-us", type=float, default=None,
                        help="launch cost of a parallel loop (default: measured now)")
    parser.add_argument("--out", default=None, help="also write the tables to this file")
    args = parser.parse_args(argv)
    results = read_json(args.results)
    if args.launch_us is None:
        # Imported here: compiling and timing happen only when no cost is given.
        from tvm_heron.bench.launch import launch_floor_s  # pylint: disable=import-outside-toplevel
        from tvm_heron.target import host_target  # pylint: disable=import-outside-toplevel

        launch_s = launch_floor_s(host_target(), threads=cores_of(results) or 1)
        how = "measured now"
    else:
        launch_s, how = args.launch_us * 1e-6, "given"
    text = ceiling_report(results, launch_s, how)
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
