"""The runtimes a user would otherwise run an ONNX file with: ONNX Runtime and OpenVINO (CPU).

Each is opened on the same file as tvm-heron imports, with the run's thread
count and no inter-operator parallelism (one inference at a time, latency):

* ONNX Runtime: ``CPUExecutionProvider``, ``intra_op_num_threads`` = threads,
  ``inter_op_num_threads`` = 1, sequential execution, default graph
  optimisations (all); its int8 kernels for a QDQ file are its own
  (QLinearConv, QGemm... after its QDQ fusions);
* OpenVINO: device ``CPU``, ``INFERENCE_NUM_THREADS`` = threads, one stream,
  the latency hint, and float32 inference precision (on a CPU with bf16
  instructions OpenVINO would otherwise run float layers in bfloat16, which
  is not the float32 model); the quantized layers of a QDQ file run in int8
  (its low-precision transformations).

A runtime is ``run(inputs) -> outputs`` plus ``timer(inputs)``, a batch timer
of :mod:`~.timing`. No TVM here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import HeronError
from .timing import BatchTimer, python_timer


class OnnxRuntime:
    """An ONNX Runtime session on one file (CPU provider)."""

    name = "onnxruntime"
    title = "ONNX Runtime"

    def __init__(self, path: str | os.PathLike, *, threads: int) -> None:
        ort = _require("onnxruntime")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # its unused-initializer warnings are noise here
        self.version = ort.__version__
        self._session = ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
        self._names = [i.name for i in self._session.get_inputs()]

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The outputs on ``inputs`` (in the model's input order)."""
        return [np.asarray(o) for o in self._session.run(None, dict(zip(self._names, inputs)))]

    def timer(self, inputs: Sequence[np.ndarray]) -> BatchTimer:
        """A batch timer of one inference."""
        feed = dict(zip(self._names, inputs))
        return python_timer(lambda: self._session.run(None, feed))


class OpenVino:
    """An OpenVINO compiled model on one file (CPU device)."""

    name = "openvino"
    title = "OpenVINO"

    def __init__(self, path: str | os.PathLike, *, threads: int) -> None:
        ov = _require("openvino")
        core = ov.Core()
        config = {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
                  "INFERENCE_PRECISION_HINT": "f32"}
        self.version = ov.__version__
        self._compiled = core.compile_model(core.read_model(os.fspath(path)), "CPU", config)
        self._request = self._compiled.create_infer_request()

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The outputs on ``inputs`` (copies: the request reuses its buffers)."""
        self._request.infer(list(inputs))
        return [np.array(self._request.get_output_tensor(i).data)
                for i in range(len(self._compiled.outputs))]

    def timer(self, inputs: Sequence[np.ndarray]) -> BatchTimer:
        """A batch timer of one synchronous inference."""
        feed = list(inputs)
        return python_timer(lambda: self._request.infer(feed))


#: Runtime name -> class (``--runtimes`` choices).
RUNTIMES: dict[str, Callable[..., object]] = {OnnxRuntime.name: OnnxRuntime, OpenVino.name: OpenVino}


def open_runtime(name: str, path: str | os.PathLike, *, threads: int):
    """Open runtime ``name`` on ``path``; an unknown name is a HeronError naming the known ones."""
    if name not in RUNTIMES:
        raise HeronError(f"unknown runtime {name!r}; known: {', '.join(RUNTIMES)}")
    return RUNTIMES[name](path, threads=threads)


def _require(module: str):
    try:
        return __import__(module)
    except ImportError as err:
        raise HeronError(f"the {module} baseline needs {module}: pip install 'tvm-heron[bench]'") from err


__all__ = ["RUNTIMES", "OnnxRuntime", "OpenVino", "open_runtime"]
