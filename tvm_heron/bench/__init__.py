"""The operator benchmark suite: heron-cga vs MetaSchedule's evolutionary search vs PyTorch.

Run it with ``python benchmarks/suite.py --profile smoke --out DIR`` (see
:mod:`tvm_heron.bench.suite`). The modules, one concept each:

=================  ==============================================================
``profiles``       the workloads file and its profiles (smoke, small, paper)
``peak``           the machine's int8 / fp32 peak, by a compiled micro-benchmark
``noise``          the noisy-machine guard (other processes' CPU share, /proc/stat)
``timing``         interleaved timing rounds, min and median
``vendor``         the PyTorch (oneDNN) baseline of each operator
``tuners``         tuning one case with one tuner, resumable, stage times
``kernels``        the best kernel of a database, compiled and checked
``report``         results.json, results.csv, REPORT.md
``plots``          speedup_<dtype>.png
``suite``          the whole run and its command line
``cuda_build``     CUDA programs without a GPU: CUDA C, nvcc PTX, wmma in the PTX
=================  ==============================================================

Only ``tuners``, ``kernels``, ``timed_runner``, ``msvnni``, ``cuda_build`` and ``suite``
import TVM themselves (the others are plain Python, numpy, attrs).
"""
