"""Import a user's ONNX model into Relax, with ONNX Runtime's outputs as the reference.

The conversion is TVM's own (``tvm.relax.frontend.onnx.from_onnx``); this
module adds what a model file needs before it can be tuned:

* every input dimension is made static: a dimension the file leaves dynamic
  (a ``dim_param`` such as ``batch``, or no shape at all) must be given by
  ``shapes`` (``--input NAME=SHAPE`` on the command line), or the import stops
  with a :class:`~tvm_heron.errors.HeronError` naming the input and the
  dimension;
* seeded example inputs (normal floats; small non-negative integers for
  integer inputs such as token ids) and ONNX Runtime's outputs on them (CPU
  provider, default graph optimisations: what a user would run);
* a QDQ-quantized model (QuantizeLinear / DequantizeLinear around its
  convolutions and matmuls) is lowered to integer arithmetic by
  :func:`tvm_heron.relax.qdq.lower_qdq`; what stays float is listed in
  :attr:`Model.fallbacks <tvm_heron.models.model.Model.fallbacks>`.

Needs ``onnx`` and ``onnxruntime`` (``pip install 'tvm-heron[onnx]'``).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import HeronError
from .model import Model

logger = logging.getLogger(__name__)

#: Integer example inputs are drawn from ``[0, INT_INPUT_HIGH)``: valid token ids / indices
#: for any vocabulary or axis of at least this size.
INT_INPUT_HIGH = 16


def _require(name: str):
    try:
        return __import__(name)
    except ImportError as err:
        raise HeronError(f"importing ONNX models needs {name}: pip install 'tvm-heron[onnx]'") from err


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """``"NAME=1,3,224,224"`` (or ``1x3x224x224``) -> ``("NAME", (1, 3, 224, 224))``."""
    name, sep, dims = text.rpartition("=")
    if not sep or not name:
        raise HeronError(f"--input must be NAME=SHAPE (e.g. input=1,3,224,224), got {text!r}")
    try:
        shape = tuple(int(d) for d in dims.replace("x", ",").split(",") if d.strip())
    except ValueError:
        raise HeronError(f"--input {name}: the shape must be integers separated by commas, got {dims!r}") from None
    if not shape and dims.strip():
        raise HeronError(f"--input {name}: empty shape {dims!r}")
    if any(d < 1 for d in shape):
        raise HeronError(f"--input {name}: every dimension must be positive, got {shape}")
    return name, shape


def graph_inputs(model) -> list:
    """The model's real inputs (``graph.input`` without the initializers old exporters list there)."""
    initializers = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in initializers]


def static_shapes(model, shapes: Mapping[str, Sequence[int]] | None = None) -> dict[str, tuple[int, ...]]:
    """A static shape for every input: the file's, with ``shapes`` filling (or overriding) it.

    Raises
    ------
    HeronError
        For a dynamic dimension that ``shapes`` does not give (naming the input
        and the dimension), a name in ``shapes`` that is no input, or a given
        shape that contradicts a static dimension of the file.
    """
    shapes = dict(shapes or {})
    inputs = graph_inputs(model)
    names = [i.name for i in inputs]
    unknown = sorted(set(shapes) - set(names))
    if unknown:
        raise HeronError(f"--input names no input of the model: {', '.join(unknown)}; inputs: {', '.join(names)}")
    result = {}
    for info in inputs:
        given = shapes.get(info.name)
        tensor = info.type.tensor_type
        if not tensor.HasField("shape"):
            if given is None:
                raise HeronError(f"input {info.name!r} has no shape in the model (unknown rank): "
                                 f"give one with --input {info.name}=D0,D1,...")
            result[info.name] = tuple(given)
            continue
        dims = [(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else (d.dim_param or "?"))
                for d in tensor.shape.dim]
        if given is None:
            dynamic = [(axis, d) for axis, d in enumerate(dims) if not isinstance(d, int)]
            if dynamic:
                where = ", ".join(f"dimension {axis} ({name!r})" for axis, name in dynamic)
                example = ",".join(str(d) if isinstance(d, int) else "1" for d in dims)
                raise HeronError(f"input {info.name!r} has a dynamic {where} of shape {_text(dims)}: "
                                 f"give a static shape, e.g. --input {info.name}={example}")
            result[info.name] = tuple(dims)
            continue
        if len(given) != len(dims):
            raise HeronError(f"--input {info.name}: the model's input has rank {len(dims)} "
                             f"({_text(dims)}), got shape {tuple(given)}")
        clash = [(axis, d, g) for axis, (d, g) in enumerate(zip(dims, given)) if isinstance(d, int) and d != g]
        if clash:
            axis, d, g = clash[0]
            raise HeronError(f"--input {info.name}: dimension {axis} is {d} in the model, got {g}")
        result[info.name] = tuple(given)
    return result


def _text(dims) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"


def example_inputs(model, shapes: Mapping[str, tuple[int, ...]], seed: int) -> list[np.ndarray]:
    """Seeded inputs in the order of the model's inputs (floats normal, integers in [0, 16))."""
    from onnx.helper import tensor_dtype_to_np_dtype  # pylint: disable=import-outside-toplevel

    rng = np.random.default_rng(seed)
    arrays = []
    for info in graph_inputs(model):
        dtype = np.dtype(tensor_dtype_to_np_dtype(info.type.tensor_type.elem_type))
        shape = shapes[info.name]
        if dtype.kind == "f":
            arrays.append(rng.standard_normal(shape).astype(dtype))
        elif dtype.kind in "iu":
            arrays.append(rng.integers(0, INT_INPUT_HIGH, size=shape).astype(dtype))
        elif dtype.kind == "b":
            arrays.append(rng.integers(0, 2, size=shape).astype(bool))
        else:
            raise HeronError(f"input {info.name!r}: no example inputs for dtype {dtype}")
    return arrays


def onnxruntime_outputs(
    model, inputs: Sequence[np.ndarray], *, threads: int | None = None, optimize: bool = True
) -> list[np.ndarray]:
    """ONNX Runtime's outputs (CPU provider) on ``inputs``.

    With ``optimize`` (the default) ONNX Runtime fuses the graph as it does
    for a user; without, it runs each operator as ONNX defines it (a QDQ
    pair around a convolution is a float convolution of the dequantized
    values, then a rounding).
    """
    ort = _require("onnxruntime")
    options = ort.SessionOptions()
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed = {info.name: x for info, x in zip(session.get_inputs(), inputs)}
    return [np.asarray(o) for o in session.run(None, feed)]


def import_onnx(
    path: str | os.PathLike | object,
    shapes: Mapping[str, Sequence[int]] | None = None,
    *,
    seed: int = 0,
    integer: bool = True,
    name: str | None = None,
) -> Model:
    """Import an ONNX model (file or ``ModelProto``) as a :class:`~tvm_heron.models.model.Model`.

    Parameters
    ----------
    path : path or onnx.ModelProto
        The model.
    shapes : dict of str to shape, optional
        Static shapes of inputs (required for every dynamic dimension).
    seed : int
        Seed of the example inputs.
    integer : bool
        Lower a QDQ-quantized model's patterns to integer convolutions and
        matmuls (:func:`tvm_heron.relax.qdq.lower_qdq`). Without QDQ nodes
        this changes nothing.
    name : str, optional
        The model's name (default: the file's stem, or the graph's name).

    Returns
    -------
    Model
        Reference: ONNX Runtime's outputs on the example inputs (for a QDQ
        model, unfused: :func:`onnxruntime_outputs` without ``optimize``). A
        float model is compared to a tolerance; a lowered QDQ model to within
        one output quantization step (``quant_steps``).
    """
    onnx = _require("onnx")
    if isinstance(path, (str, os.PathLike)):
        if not Path(path).is_file():
            raise HeronError(f"no ONNX file at {os.fspath(path)!r}")
        try:
            model = onnx.load(os.fspath(path))
        except Exception as err:  # pylint: disable=broad-except  # a protobuf error names no file
            raise HeronError(f"{os.fspath(path)!r} is not a readable ONNX model: {err}") from err
        name = name or Path(path).stem
    else:
        model = path
        name = name or model.graph.name or "onnx-model"
    static = static_shapes(model, shapes)
    inputs = example_inputs(model, static, seed)
    # A QDQ model's reference is ONNX's operator-by-operator meaning. ONNX Runtime's
    # fused u8 x s8 kernels on a CPU without VNNI (AVX2, AVX-512F) use vpmaddubsw,
    # whose 16-bit sums of two products saturate (its quantization guide says so):
    # there its optimized output is off by many steps, and a host-dependent
    # reference would make the same kernel right on one CPU and wrong on another.
    reference = onnxruntime_outputs(model, inputs, optimize=not _has_qdq(model))
    from tvm import relax  # pylint: disable=import-outside-toplevel

    mod, params = relax.frontend.detach_params(_convert(model, static))
    params = [p.numpy() for p in params.get("main", [])]
    if integer and _has_qdq(model):
        from ..relax.pipeline import bind_params  # pylint: disable=import-outside-toplevel
        from ..relax.qdq import lower_qdq  # pylint: disable=import-outside-toplevel

        # the lowering reads weights, scales and zero points: they must be constants
        lowering = lower_qdq(bind_params(mod, params, len(inputs)))
        for fallback in lowering.fallbacks:
            logger.info("%s: %s", name, fallback.text())
        return Model(name=name, mod=lowering.mod, params=[], inputs=inputs, reference=reference,
                     dtype="int8", exact=False, fallbacks=lowering.fallbacks,
                     quant_steps=lowering.output_steps)
    return Model(name=name, mod=mod, params=params, inputs=inputs, reference=reference,
                 dtype="float32", exact=False)


def _has_qdq(model) -> bool:
    return any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node)


def _convert(model, shapes: dict[str, tuple[int, ...]]):
    import tvm  # pylint: disable=import-outside-toplevel
    from tvm.relax.frontend.onnx import from_onnx  # pylint: disable=import-outside-toplevel

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return from_onnx(model, shape_dict={k: list(v) for k, v in shapes.items()},
                             keep_params_in_input=True)
    except tvm.error.OpNotImplemented as err:
        raise HeronError(f"TVM's ONNX frontend cannot convert this model: {err}") from err


__all__ = ["import_onnx", "onnxruntime_outputs", "parse_input_shape", "static_shapes"]
