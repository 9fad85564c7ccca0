"""The benchmarks: the operator suite (heron-cga vs MetaSchedule's evolutionary search vs
PyTorch) and the measurements behind the README's other figures.

Scripts and library: the scripts in ``benchmarks/`` are thin. Each is argument
parsing and a ``main()`` that sets up the process (logging, the environment
PyTorch reads, MetaSchedule's VNNI patch), calls this package and prints or
writes what it returns. Everything a test or another program could want is
here, importable; the library sets no environment variable and configures no
logging (it logs with ``logging.getLogger(__name__)``), and tests import it, never a
script by its path. Data the library reads ships with it (``data/``, read
with :mod:`importlib.resources`).

Run the suite with ``python benchmarks/suite.py --profile smoke --out DIR`` (see
:mod:`tvm_heron.bench.suite`). The modules, one concept each:

=======================  ========================================================
``profiles``             the workloads files (package data) and their profiles
``results``              the typed results of a suite run, ``results.json``
``peak``                 the machine's int8 / fp32 peak, by a compiled micro-benchmark
``path_peak``            the peak of each intrinsic path, with the intrinsic itself
``noise``                the noisy-machine guard (other processes' CPU share, /proc/stat)
``timing``               interleaved timing rounds, min and median
``vendor``               the PyTorch (oneDNN) baseline of each operator
``tuners``               tuning one case with one tuner, resumable, stage times
``kernels``              the best kernel of a database, compiled and checked
``figures``              throughput, % of peak, speedups, several seeds merged
``report``               results.csv, REPORT.md, the ceiling tables
``plots``                speedup_<dtype>.png
``suite``                the whole run
``cuda_build``           CUDA programs without a GPU: CUDA C, nvcc PTX, wmma in the PTX
``sampling``             random programs of MetaSchedule's own spaces
``validity``             valid points of Heron's and MetaSchedule's int8 CPU spaces
``asm_validity``         the same, built for CPUs this machine may lack
``tensorcore_validity``  the same for the TensorCore spaces, without a GPU
``tensorcore``           the fp16 TensorCore benchmark on a GPU
``convergence``          the search ablation: best latency vs trials per strategy
``models``               whole-model tuning and timing
``onnx_models``          ONNX files end to end: tvm-heron vs ONNX Runtime vs OpenVINO
``onnx_runtimes``        the ONNX Runtime and OpenVINO baselines (CPU, same threads)
``onnx_report``          that benchmark's results.json, REPORT.md and chart
``db_cost``              the database's cost per trial
=======================  ========================================================

``figures``, ``machine``, ``noise``, ``onnx_report``, ``onnx_runtimes``, ``peak``,
``plots``, ``profiles``, ``records``, ``report``, ``results``, ``timing`` and
``vendor`` import no TVM
(plain Python, numpy, attrs).
"""
