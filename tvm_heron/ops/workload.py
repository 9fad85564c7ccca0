"""A tunable operator instance: its TensorIR, inputs and numpy reference."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import numpy as np
from tvm import tirx


@attrs.frozen
class Workload:
    """One operator at one shape and data type.

    Attributes
    ----------
    op : str
        Operator name, e.g. ``"gemm"``.
    shape : tuple of int
        The shape fields of the operator (see :data:`tvm_heron.ops.FIELDS`).
    dtype : str
        Input data type (``"int8"`` means uint8 activations x int8 weights
        accumulated in int32, as VNNI computes).
    func : tvm.tirx.PrimFunc
        The computation; its parameters are the activation, the weight (as
        packed for the kernel), the bias (with an epilogue) and the output, last.
    flops : int
        Multiply-adds times two.
    make_inputs : callable
        ``make_inputs(rng) -> (args, logical)``: the arrays to pass to ``func``
        (output zero-filled, last) and the logical operands for the reference:
        ``(activation, weight in its logical layout[, bias])``.
    reference : callable
        ``reference(*logical) -> numpy.ndarray``, the expected output.
    exact : bool
        Whether outputs must match exactly (integers) or to a tolerance.
    layout : str
        Weight layout inside the kernel, ``"packed"`` or ``"plain"``.
    data_layout : str or None
        Activation layout of a convolution (``"NHWC"``, ``"NCL"``, ...); None otherwise.
    epilogue : str
        Fused epilogue (:mod:`tvm_heron.ops.epilogue`), ``"none"`` by default.
    rtol, atol : float
        Tolerance of :meth:`check` when not ``exact`` (``numpy.allclose``).
    acc_dtype : str or None
        Accumulator dtype when it is not the default of ``dtype`` (float16
        inputs accumulated in float32); it is also the output's dtype.
    int8_range : str
        Declared range of int8 activations: ``"u8"`` (0..255) or ``"u7"`` (0..127).
    """

    op: str
    shape: tuple[int, ...]
    dtype: str
    func: tirx.PrimFunc = attrs.field(eq=False, repr=False)
    flops: int
    make_inputs: Callable = attrs.field(eq=False, repr=False)
    reference: Callable = attrs.field(eq=False, repr=False)
    exact: bool = True
    layout: str = "packed"
    data_layout: str | None = None
    epilogue: str = "none"
    rtol: float = 1e-3
    atol: float = 1e-3
    acc_dtype: str | None = None
    int8_range: str = "u8"

    @property
    def name(self) -> str:
        """A readable name such as ``gemm_64x64x64_int8``.

        Options other than the defaults are appended: ``_plain`` (weight
        layout), the channel-first activation layout (``_nchw``), the epilogue
        (``_bias_relu``), a wider accumulator (``_acc_float32``), e.g. ``c2d_1x8x8x16x16x3x3x1x1x1_int8_plain_nchw_requant``.
        """
        parts = [self.op, "x".join(map(str, self.shape)), self.dtype]
        if self.layout != "packed":
            parts.append(self.layout)
        if self.data_layout is not None and self.data_layout.startswith("NC"):
            parts.append(self.data_layout.lower())
        if self.epilogue != "none":
            parts.append(self.epilogue)
        if self.acc_dtype is not None:
            parts.append(f"acc_{self.acc_dtype}")
        if self.int8_range != "u8":
            parts.append(self.int8_range)
        return "_".join(parts)

    def check(self, output: np.ndarray, logical) -> tuple[bool, float]:
        """Compare ``output`` with the reference; returns (correct, max abs error)."""
        expected = self.reference(*logical)
        error = float(np.max(np.abs(output.astype(np.float64) - expected.astype(np.float64))))
        if self.exact:
            return bool(np.array_equal(output, expected)), error
        return bool(np.allclose(output, expected, rtol=self.rtol, atol=self.atol)), error
