"""Lower a QDQ-quantized model to integer arithmetic: u8 x s8 -> s32 convolutions and matmuls.

ONNX Runtime's QDQ format wraps a float operator in QuantizeLinear /
DequantizeLinear nodes; TVM's ONNX frontend keeps them as ``relax.quantize``
and ``relax.dequantize``. This pass finds, in a module whose weights are
bound as constants,

``quantize(relu?(add?(op(dequantize(x_q), dequantize(w_q)), dequantize(b_q))), s_y, z_y)``

with ``op`` a 2-d convolution (any groups: a depthwise one is lowered too,
though Heron's rules do not tensorize it) or a matmul against a constant weight, and replaces it by

1. ``acc = op(x_q, w_q, out_dtype=int32)`` on the raw uint8 activations and
   int8 weights (int8 activations are shifted by 128 to uint8, their zero
   point with them; when the activation's zero point is not 0, a
   convolution's input is padded with the zero point first, so that the
   border is the real value 0);
2. ``acc + offset`` with ``offset[o] = b_q[o] - z_x * sum(w_q[o])``: the
   activation's zero point is subtracted exactly, in integers;
3. the requantize epilogue ``clip(round(float32(acc) * m[o]) + z_y)`` to uint8
   with ``m[o] = s_x * s_w[o] / s_y`` in float32 and round-half-to-even,
   which is how ONNX Runtime's own integer kernels (QLinearConv, QGemm,
   QLinearMatMul) requantize; a ReLU becomes the lower clip bound ``z_y``.

Steps 2-3 are element-wise: operator fusion puts them in the kernel's
epilogue, which Heron's int8 rule fuses into the tensorized kernel's
write-back (:mod:`tvm_heron.rules.dlboost`). The int32 accumulator is exact;
the outputs may differ from ONNX Runtime's float path by one quantization
step where a value lies on a rounding boundary.

A matmul of two activations (attention's ``Q K^T`` and ``P V``),
``quantize(matmul(dequantize(a_q), dequantize(b_q)))``, becomes ``a_q @ (b_q - 128)``
in u8 x s8 -> s32 with the zero points' terms as row and column sums, then
the same requantize.

``quantize(f(dequantize(q, s, z)), s, z)`` with ``f`` a data movement
(reshape, transpose, max pooling) becomes ``f(q)``: exact.

Every other quantize (the producer is an add of two activations, an
average pool, a softmax...) and every float convolution or matmul on
dequantized operands that does not match stays float and is reported as a
:class:`GraphFallback` with the reason. Where such a float chain is a
function of one 8-bit tensor (a GELU on a quantized input), it is then
computed as a table lookup (:mod:`tvm_heron.relax.lookup`).
"""

from __future__ import annotations

import logging

import attrs
import numpy as np
from tvm import relax
from tvm.ir import IRModule, Op
from tvm.ir.expr import Constant

from .lookup import tabulate

logger = logging.getLogger(__name__)

QUANTIZE, DEQUANTIZE = Op.get("relax.quantize"), Op.get("relax.dequantize")
CONV2D, MATMUL = Op.get("relax.nn.conv2d"), Op.get("relax.matmul")
ADD, RESHAPE, PERMUTE = Op.get("relax.add"), Op.get("relax.reshape"), Op.get("relax.permute_dims")
RELU, MEAN = Op.get("relax.nn.relu"), Op.get("relax.mean")
#: Data movements that commute with (de)quantization of the same scale and zero point.
MOVES = {Op.get(name) for name in ("relax.reshape", "relax.permute_dims", "relax.squeeze",
                                   "relax.expand_dims", "relax.nn.max_pool2d")}
#: Output range of each quantized dtype.
QRANGE = {"uint8": (0, 255), "int8": (-128, 127)}


@attrs.frozen
class GraphFallback:
    """A part of a quantized model that stays float.

    Attributes
    ----------
    op : str
        The Relax operator computed in float (``add``, ``nn.avg_pool2d``...).
    var : str
        Name of the Relax variable it is bound to.
    reason : str
        Why it was not lowered to integers.
    """

    op: str
    var: str
    reason: str

    def text(self) -> str:
        """One line for a report."""
        return f"{self.op} ({self.var}) stays float: {self.reason}"

    def to_json(self) -> dict:
        """A JSON-serialisable dict."""
        return attrs.asdict(self)


@attrs.frozen
class Lowering:
    """Result of :func:`lower_qdq`.

    Attributes
    ----------
    mod : IRModule
        The module with the integer patterns.
    lowered : tuple of str
        One line per lowered operator (``conv2d lv3: u8 x s8 -> s32, per-channel``).
    fallbacks : tuple of GraphFallback
        What stays float.
    output_steps : tuple of (float or None)
        Per output of ``main``: the scale of the dequantize that produces it
        (one quantization step), or None.
    """

    mod: IRModule
    lowered: tuple
    fallbacks: tuple
    output_steps: tuple


class _NoMatch(Exception):
    """The pattern does not apply; the message is the reason reported."""


@attrs.frozen
class _Quantized:
    """A dequantized activation: the integer tensor (a Relax expr), its scale and zero point."""

    data: object
    scale: np.float32
    zero: int
    signed: bool = False

    @property
    def unsigned_zero(self) -> int:
        """The zero point of the uint8 form (int8 activations are shifted by 128)."""
        return self.zero + 128 if self.signed else self.zero

    def unsigned(self, mutator) -> relax.Expr:
        """The uint8 tensor: ``x + 128`` of int8 activations (exact: ``x - z == (x + 128) - (z + 128)``)."""
        data = mutator.visit_expr(self.data)
        if not self.signed:
            return data
        key = data if isinstance(data, relax.Var) else None
        if key is not None and key in mutator.unsigned:
            return mutator.unsigned[key]
        wide = relax.op.add(relax.op.astype(data, "int16"), relax.const(np.int16(128)))
        result = mutator.builder_.emit(relax.op.astype(wide, "uint8"))
        if key is not None:
            mutator.unsigned[key] = result
        return result


@attrs.frozen
class _Pattern:
    """A matched ``quantize(op(dequantize(x), dequantize(w)) + b)``, ready to emit in integers."""

    kind: str  # "conv2d" or "matmul"
    call: object  # the float conv2d / matmul
    x: _Quantized
    weight: np.ndarray  # int8: OIHW for conv2d, [K, N] for matmul
    weight_scale: np.ndarray  # float32 [O] (per-channel, or one value repeated)
    bias: np.ndarray  # int32 [O]
    out_scale: np.float32
    out_zero: int
    out_dtype: str
    relu: bool

    def emit(self, mutator) -> relax.Expr:
        bb = mutator.builder_
        x = self.x.unsigned(mutator)
        if self.kind == "conv2d":
            acc = bb.emit(_int_conv(x, self.weight, self.call.attrs, self.x.unsigned_zero))
            shape = (1, -1, 1, 1)
        else:
            acc = bb.emit(relax.op.matmul(x, relax.const(self.weight), out_dtype="int32"))
            shape = (-1,)
        acc = bb.emit(relax.op.add(acc, relax.const(self.offset().astype(np.int32).reshape(shape))))
        # m = s_x * s_w / s_y, in float32 and in this order, as ONNX Runtime computes it
        mult = (np.float32(self.x.scale) * self.weight_scale.astype(np.float32)) / np.float32(self.out_scale)
        return _requantize(bb, acc, mult.reshape(shape), self.out_zero, self.out_dtype, relu=self.relu)

    def offset(self) -> np.ndarray:
        """``b_q[o] - z_x * sum(w_q[o])`` (int64): the bias and the activation zero point's term."""
        axes = (1, 2, 3) if self.kind == "conv2d" else (0,)
        return self.bias.astype(np.int64) - self.x.unsigned_zero * self.weight.astype(np.int64).sum(axis=axes)

    def describe(self, var: str) -> str:
        channels = "per-channel" if len(set(self.weight_scale.tolist())) > 1 else "per-tensor"
        shifted = " (int8 activations shifted to uint8)" if self.x.signed else ""
        return (f"{self.kind} {var}: u8 x s8 -> s32, {channels} weight scale, "
                f"zero point {self.x.zero}{shifted}")


def _operand(value, dtype: str, like: relax.Expr) -> relax.Constant:
    """A constant operand of an element-wise operator on ``like``; a single value has the shape
    ``(1,) * ndim``, not ``()``.

    Legalization writes a 0-d constant into the kernel as an immediate, so every layer's own
    scale or zero point made its own kernel, and so its own tuning task (a QDQ BERT-base: 162
    tasks). As a tensor it is a kernel parameter: the layers share their kernels and their
    tuning. The values and the arithmetic are the same.
    """
    array = np.asarray(value, dtype)
    if array.ndim == 0:
        array = array.reshape((1,) * like.ty.ndim)
    return relax.const(array)


def _requantize(bb, acc, mult: np.ndarray, zero: int, out_dtype: str, *, relu: bool = False):
    """``clip(round(float32(acc) * mult) + zero)`` as ``out_dtype`` (round half to even)."""
    scaled = relax.op.multiply(relax.op.astype(acc, "float32"), _operand(mult, "float32", acc))
    return _round_and_saturate(bb, scaled, zero, out_dtype, low=zero if relu else None)


def _round_and_saturate(bb, scaled, zero: int, out_dtype: str, *, low: int | None = None):
    """``clip(round(scaled) + zero)`` as the 8-bit ``out_dtype``, the lower bound raised to ``low``."""
    rounded = bb.emit(relax.op.round(bb.emit(scaled)))
    shifted = bb.emit(relax.op.add(rounded, _operand(zero, "float32", rounded)))
    lowest, high = QRANGE[out_dtype]
    low = lowest if low is None else max(lowest, low)
    # maximum / minimum, not clip: ConvertLayout keeps them in NHWC (it sends clip back to NCHW)
    bounded = relax.op.maximum(relax.op.minimum(shifted, relax.const(np.float32(high))),
                               _operand(low, "float32", shifted))
    return relax.op.astype(bb.emit(bounded), out_dtype)


def _scaled_sum(bb, x, factor: int, axis: int) -> relax.Expr:
    """``sum(int32(x) * factor)`` over ``axis``, kept: a row or column term of an integer matmul."""
    wide = bb.emit(relax.op.astype(x, "int32"))
    return bb.emit(relax.op.sum(relax.op.multiply(wide, _operand(factor, "int32", wide)), axis=[axis], keepdims=True))


@attrs.frozen
class _ProductPattern:
    """``quantize(matmul(dequantize(a), dequantize(b)))`` of two activations (attention's ``Q K^T``
    and ``P V``), in integers.

    VNNI multiplies u8 by s8: ``b`` is shifted to ``b - 128`` (int8, exact), and
    ``sum_k (a - z_a)(b - z_b) = a @ (b - 128) + (128 - z_b) * sum_k a - z_a * sum_k b + K z_a z_b``:
    the zero points' terms are row and column sums, exact in int32. The requantize is
    ``round(acc * (s_a * s_b / s_y)) + z_y``, ONNX Runtime's QLinearMatMul.
    """

    call: object
    a: _Quantized
    b: _Quantized
    depth: int
    out_scale: np.float32
    out_zero: int
    out_dtype: str

    def emit(self, mutator) -> relax.Expr:
        bb = mutator.builder_
        a, b = self.a.unsigned(mutator), self.b.unsigned(mutator)
        wide_b = bb.emit(relax.op.astype(b, "int16"))
        shifted = bb.emit(relax.op.astype(relax.op.subtract(wide_b, _operand(128, "int16", wide_b)), "int8"))
        acc = bb.emit(relax.op.matmul(a, shifted, out_dtype="int32"))
        za, zb = self.a.unsigned_zero, self.b.unsigned_zero
        # Each term is one reduction, its factor inside: operator fusion then puts the factor in
        # the reduction's kernel, and the matmul's epilogue reads finished terms (a stage
        # ``c * rows`` fused before the epilogue would keep the rule from inlining it).
        if zb != 128:
            acc = bb.emit(relax.op.add(acc, _scaled_sum(bb, a, 128 - zb, axis=-1)))
        if za:
            acc = bb.emit(relax.op.subtract(acc, _scaled_sum(bb, b, za, axis=-2)))
            acc = bb.emit(relax.op.add(acc, _operand(self.depth * za * zb, "int32", acc)))
        mult = (np.float32(self.a.scale) * np.float32(self.b.scale)) / np.float32(self.out_scale)
        return _requantize(bb, acc, mult, self.out_zero, self.out_dtype)

    def describe(self, var: str) -> str:
        return (f"matmul {var}: u8 x s8 -> s32 of two activations (the second shifted by 128), "
                f"zero points {self.a.zero} and {self.b.zero}")


@attrs.frozen
class _MeanPattern:
    """``quantize(mean(dequantize(x), axes), s_y, z_y)``: an integer sum, then requantize."""

    x: _Quantized
    axes: tuple
    keepdims: bool
    count: int
    out_scale: np.float32
    out_zero: int
    out_dtype: str

    def emit(self, mutator) -> relax.Expr:
        bb = mutator.builder_
        wide = bb.emit(relax.op.astype(mutator.visit_expr(self.x.data), "int32"))
        total = bb.emit(relax.op.sum(wide, axis=list(self.axes), keepdims=self.keepdims))
        acc = bb.emit(relax.op.add(total, _operand(-self.x.zero * self.count, "int32", total)))
        # as ONNX Runtime's QLinearGlobalAveragePool: s_x / (s_y * n), in float32
        mult = np.float32(self.x.scale) / (np.float32(self.out_scale) * np.float32(self.count))
        return _requantize(bb, acc, np.asarray(mult), self.out_zero, self.out_dtype)

    def describe(self, var: str) -> str:
        return f"mean {var}: integer sum over {self.count} values, zero point {self.x.zero}"


def _int_conv(x, weight: np.ndarray, attrs_, zero: int):
    """``conv2d(x_q, w_q) -> int32`` with the padding holding the zero point (the real 0)."""
    padding = [int(p) for p in attrs_.padding]
    if zero != 0 and any(padding):
        top, left, bottom, right = padding
        x = relax.op.nn.pad(x, [0, 0, 0, 0, top, bottom, left, right], pad_value=float(zero))
        padding = [0, 0, 0, 0]
    return relax.op.nn.conv2d(x, relax.const(weight), strides=[int(s) for s in attrs_.strides],
                              padding=padding, dilation=[int(d) for d in attrs_.dilation], groups=int(attrs_.groups),
                              out_dtype="int32")


class _Graph:
    """The bindings of ``main``: resolve a variable to the call or constant it is bound to."""

    def __init__(self, func: relax.Function):
        self.bound = {}
        for block in func.body.blocks:
            for binding in block.bindings:
                if isinstance(binding, relax.VarBinding):
                    self.bound[binding.var] = binding.value

    def value(self, expr):
        while isinstance(expr, relax.Var) and expr in self.bound:
            expr = self.bound[expr]
        return expr

    def call(self, expr, op=None):
        value = self.value(expr)
        if isinstance(value, relax.Call) and (op is None or value.op.same_as(op)):
            return value
        return None

    def const(self, expr, what: str) -> np.ndarray:
        value = self.value(expr)
        if not isinstance(value, Constant):
            raise _NoMatch(f"the {what} is not a constant")
        return value.value.numpy()

    def scalar(self, expr, what: str):
        array = self.const(expr, what)
        if array.size != 1:
            raise _NoMatch(f"the {what} is per-channel ({array.size} values); integer lowering needs one")
        return array.reshape(())[()]

    def dequantized(self, expr, what: str) -> relax.Call:
        call = self.call(expr, DEQUANTIZE)
        if call is None:
            raise _NoMatch(f"its {what} is not dequantized (a float tensor)")
        return call

    def activation(self, expr) -> _Quantized:
        call = self.dequantized(expr, "input")
        dtype = str(call.args[0].ty.dtype)
        if dtype not in QRANGE:
            raise _NoMatch(f"the input activation is {dtype}; the int8 kernels take 8-bit activations")
        return _Quantized(call.args[0], np.float32(self.scalar(call.args[1], "input scale")),
                          int(self.scalar(call.args[2], "input zero point")), signed=dtype == "int8")


def _op_name(call) -> str:
    return str(call.op.name).removeprefix("relax.") if isinstance(call.op, Op) else "call"


def _is_activation(graph: _Graph, expr) -> bool:
    """Whether ``expr`` is a dequantized tensor computed by the model (not a constant weight)."""
    call = graph.call(expr, DEQUANTIZE)
    return call is not None and not isinstance(graph.value(call.args[0]), Constant)


def _weight(graph: _Graph, expr, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The int8 weight (OIHW, or [K, N] for a matmul) and its scale per output channel."""
    transposed = False
    perm = graph.call(expr, PERMUTE) if kind == "matmul" else None
    if perm is not None:
        axes = [int(a) for a in perm.attrs.axes] if perm.attrs.axes is not None else [1, 0]
        if axes != [1, 0]:
            raise _NoMatch(f"the weight is permuted by {axes}")
        expr, transposed = perm.args[0], True
    call = graph.dequantized(expr, "weight")
    weight = graph.const(call.args[0], "weight")
    if weight.dtype != np.int8:
        raise _NoMatch(f"the weight is {weight.dtype}; the int8 kernels take int8 weights")
    if kind == "matmul" and weight.ndim != 2:
        raise _NoMatch(f"the weight has rank {weight.ndim}, not 2 (a matmul of two activations?)")
    if np.any(graph.const(call.args[2], "weight zero point") != 0):
        raise _NoMatch("the weight zero point is not 0 (asymmetric weights)")
    scale = graph.const(call.args[1], "weight scale").astype(np.float32).reshape(-1)
    channel_axis = 0 if kind == "conv2d" or transposed else 1
    channels = weight.shape[channel_axis]
    if scale.size not in (1, channels) or (scale.size > 1 and int(call.attrs.axis) % weight.ndim != channel_axis):
        raise _NoMatch("the weight scale is not per output channel")
    if transposed:
        weight = np.ascontiguousarray(weight.T)
    return weight, np.broadcast_to(scale, (channels,)).copy()


def _bias(graph: _Graph, expr, x: _Quantized, weight_scale: np.ndarray) -> np.ndarray:
    """The int32 bias, whose scale must be ``s_x * s_w`` (then it adds to the accumulator exactly)."""
    reshape = graph.call(expr, RESHAPE)
    call = graph.call(reshape.args[0] if reshape is not None else expr, DEQUANTIZE)
    if call is None:
        raise _NoMatch("it adds a tensor that is not a quantized constant bias (e.g. a residual)")
    bias = graph.const(call.args[0], "bias").reshape(-1)
    if bias.dtype != np.int32 or np.any(graph.const(call.args[2], "bias zero point") != 0):
        raise _NoMatch("the bias is not int32 with zero point 0")
    scale = np.broadcast_to(graph.const(call.args[1], "bias scale").astype(np.float32).reshape(-1), bias.shape)
    if not np.allclose(scale, np.float32(x.scale) * weight_scale, rtol=1e-6, atol=0):
        raise _NoMatch("the bias scale is not input scale x weight scale")
    return bias


def _match(graph: _Graph, quantize: relax.Call) -> _Pattern:
    out_dtype = str(quantize.attrs.out_dtype)
    if out_dtype not in QRANGE:
        raise _NoMatch(f"it quantizes to {out_dtype}")
    out_scale = np.float32(graph.scalar(quantize.args[1], "output scale"))
    out_zero = int(graph.scalar(quantize.args[2], "output zero point"))
    mean = graph.call(quantize.args[0], MEAN)
    if mean is not None:
        return _match_mean(graph, mean, out_scale, out_zero, out_dtype)
    value, relu = quantize.args[0], False
    if graph.call(value, RELU) is not None:
        value, relu = graph.call(value, RELU).args[0], True
    add, bias_expr = graph.call(value, ADD), None
    if add is not None:
        products = [a for a in add.args if graph.call(a, CONV2D) is not None or graph.call(a, MATMUL) is not None]
        if not products:
            raise _NoMatch("an add of two tensors (a bias after a MatMul, or a residual) is computed "
                           "in float between dequantize and quantize")
        value = products[0]
        bias_expr = add.args[1] if value.same_as(add.args[0]) else add.args[0]
    op = graph.call(value)
    if op is None or not (op.op.same_as(CONV2D) or op.op.same_as(MATMUL)):
        raise _NoMatch("no integer form of this operator: computed in float between dequantize and quantize")
    kind = "conv2d" if op.op.same_as(CONV2D) else "matmul"
    if kind == "conv2d":
        a = op.attrs
        if (str(a.data_layout), str(a.kernel_layout), str(a.out_layout)) != ("NCHW", "OIHW", "NCHW"):
            raise _NoMatch(f"convolution layout {a.data_layout}/{a.kernel_layout}")
    if kind == "matmul" and bias_expr is None and not relu and _is_activation(graph, op.args[1]):
        return _match_product(graph, op, out_scale, out_zero, out_dtype)
    x = graph.activation(op.args[0])
    weight, weight_scale = _weight(graph, op.args[1], kind)
    channels = weight_scale.size
    bias = _bias(graph, bias_expr, x, weight_scale) if bias_expr is not None else np.zeros(channels, np.int32)
    if bias.size != channels:
        raise _NoMatch("the bias does not have one value per output channel")
    pattern = _Pattern(kind, op, x, weight, weight_scale, bias, out_scale, out_zero, out_dtype, relu)
    if np.abs(pattern.offset()).max(initial=0) >= 2**31:
        raise _NoMatch("the bias and zero-point offset overflows int32")
    return pattern


def _match_product(graph: _Graph, op: relax.Call, out_scale, out_zero: int, out_dtype: str) -> _ProductPattern:
    """``quantize(matmul(dequantize(a), dequantize(b)))`` with ``b`` an activation too."""
    a, b = graph.activation(op.args[0]), graph.activation(op.args[1])
    depth = int(op.args[0].ty.shape[-1])
    if depth * 255 * 255 >= 2**31:
        raise _NoMatch(f"a product over {depth} values may overflow int32")
    return _ProductPattern(op, a, b, depth, out_scale, out_zero, out_dtype)


def _match_mean(graph: _Graph, mean: relax.Call, out_scale, out_zero: int, out_dtype: str) -> _MeanPattern:
    x = graph.activation(mean.args[0])
    shape = [int(d) for d in mean.args[0].ty.shape]
    axes = tuple(range(len(shape))) if mean.attrs.axis is None else tuple(
        int(a) % len(shape) for a in mean.attrs.axis)
    count = int(np.prod([shape[a] for a in axes]))
    if count * 255 >= 2**31:
        raise _NoMatch(f"a sum over {count} values may overflow int32")
    return _MeanPattern(x, axes, bool(mean.attrs.keepdims), count, out_scale, out_zero, out_dtype)


def _move(graph: _Graph, quantize: relax.Call):
    """``f(q)`` for ``quantize(f(dequantize(q, s, z)), s, z)`` with ``f`` a data movement, else None."""
    move = graph.call(quantize.args[0])
    if move is None or not any(move.op.same_as(op) for op in MOVES):
        return None
    source = graph.call(move.args[0], DEQUANTIZE)
    if source is None or str(source.args[0].ty.dtype) != str(quantize.attrs.out_dtype):
        return None
    try:
        same = all(np.array_equal(graph.const(a, "scale"), graph.const(b, "scale"))
                   for a, b in zip(source.args[1:], quantize.args[1:]))
    except _NoMatch:
        return None
    return (move, source.args[0]) if same else None


def _elementwise(mutator, call: relax.Call):
    """A quantize or dequantize left in float, as the element-wise operators it legalizes to.

    TVM's legalization (``relax/transform/legalize_ops/qdq.py``) computes
    ``float32(int32(q) - z) * s`` and ``clip(round(x / s) + z)``; written as
    Relax operators before ``ConvertLayout``, they keep the NHWC layout of
    the convolutions around them. ``relax.quantize`` and ``relax.dequantize``
    have no layout rule: each residual add of a QDQ ResNet (dequantize both,
    add, quantize) was computed in NCHW between two transposes. None when the
    scale or the zero point is per-channel (a weight's: it folds as a
    constant) or the dtypes are not float32 and 8-bit.
    """
    try:
        scale = np.float32(mutator.graph.scalar(call.args[1], "scale"))
        zero = int(mutator.graph.scalar(call.args[2], "zero point"))
    except _NoMatch:
        return None
    out_dtype = str(call.attrs.out_dtype)
    in_dtype = str(call.args[0].ty.dtype)
    data = mutator.visit_expr(call.args[0])
    bb = mutator.builder_
    if call.op.same_as(DEQUANTIZE):
        if out_dtype != "float32" or in_dtype not in QRANGE:
            return None
        wide = bb.emit(relax.op.subtract(relax.op.astype(data, "int32"), _operand(zero, "int32", data)))
        return relax.op.multiply(relax.op.astype(wide, "float32"), _operand(scale, "float32", wide))
    if out_dtype not in QRANGE or in_dtype != "float32":
        return None
    return _round_and_saturate(bb, relax.op.divide(data, _operand(scale, "float32", data)), zero, out_dtype)


@relax.expr_functor.mutator
class _Lower(relax.PyExprMutator):
    def __init__(self, plans: dict, mod: IRModule, graph: _Graph):
        super().__init__(mod)
        self.plans = plans
        self.graph = graph
        self.unsigned = {}  # int8 activation var -> its uint8 form, made once

    def visit_call_(self, call):  # pylint: disable=arguments-renamed
        plan = self.plans.get(call)
        if plan is None:
            if call.op.same_as(QUANTIZE) or call.op.same_as(DEQUANTIZE):
                elementwise = _elementwise(self, call)
                if elementwise is not None:
                    return elementwise
            return self.visit_expr_post_order(call)
        if isinstance(plan, (_Pattern, _MeanPattern, _ProductPattern)):
            return plan.emit(self)
        move, data = plan
        return relax.Call(move.op, [self.visit_expr(data), *move.args[1:]], move.attrs)


def lower_qdq(mod: IRModule) -> Lowering:
    """Lower the QDQ patterns of ``mod``'s ``main`` (see the module docstring).

    ``mod`` must have its weights, scales and zero points bound as constants
    (:func:`tvm_heron.relax.pipeline.bind_params`). The float chains left
    between two quantized tensors that are functions of one 8-bit tensor then
    become table lookups (:func:`tvm_heron.relax.lookup.tabulate`).
    """
    func = mod["main"]
    graph = _Graph(func)
    plans, lowered, fallbacks, consumed = {}, [], [], set()
    for var, value in graph.bound.items():
        if not (isinstance(value, relax.Call) and value.op.same_as(QUANTIZE)):
            continue
        moved = _move(graph, value)
        if moved is not None:
            plans[value] = moved
            continue
        try:
            pattern = _match(graph, value)
        except _NoMatch as why:
            producer = graph.call(value.args[0])
            if producer is not None:  # a quantized graph input is no fallback
                fallbacks.append(GraphFallback(_op_name(producer), _name(value.args[0]), str(why)))
            continue
        plans[value] = pattern
        consumed.add(getattr(pattern, "call", None))
        lowered.append(pattern.describe(var.name))
    reported = {f.var for f in fallbacks}
    for var, value in graph.bound.items():
        if (isinstance(value, relax.Call) and (value.op.same_as(CONV2D) or value.op.same_as(MATMUL))
                and value not in consumed and var.name not in reported
                and any(graph.call(a, DEQUANTIZE) is not None for a in value.args)):
            fallbacks.append(GraphFallback(_op_name(value), var.name,
                                           "its output is not quantized (no QuantizeLinear after it)"))
    new = _Lower(plans, mod, graph).visit_expr(func)
    out = IRModule({"main": new}) if len(mod.functions) == 1 else _replace(mod, new)
    out = relax.transform.DeadCodeElimination()(relax.transform.CanonicalizeBindings()(out))
    out, made = tabulate(out)
    lowered += [table.describe() for table in made]
    for line in lowered:
        logger.info("lowered %s", line)
    return Lowering(out, tuple(lowered), tuple(fallbacks), _output_steps(graph, func))


def _replace(mod: IRModule, func) -> IRModule:
    mod = mod.shallow_copy() if hasattr(mod, "shallow_copy") else IRModule(dict(mod.functions))
    mod["main"] = func
    return mod


def _name(expr) -> str:
    return expr.name if isinstance(expr, relax.Var) else type(expr).__name__


def _output_steps(graph: _Graph, func) -> tuple:
    body = graph.value(func.body.body)
    outputs = list(body.fields) if isinstance(body, relax.Tuple) else [func.body.body]
    steps = []
    for out in outputs:
        call = graph.call(out, DEQUANTIZE)
        try:
            steps.append(float(np.max(graph.const(call.args[1], "scale"))) if call is not None else None)
        except _NoMatch:
            steps.append(None)
    return tuple(steps)


__all__ = ["GraphFallback", "Lowering", "lower_qdq"]
