"""Pad a convolution's input channels to the depth of the target's dot-product intrinsic.

Every CPU intrinsic of :mod:`tvm_heron.isa` reduces ``depth`` (4) consecutive
input channels at once, so the DL Boost rule tensorizes a convolution only
when its channel count is a multiple of that depth. A network's first
convolution reads an RGB image, 3 channels, and ran on MetaSchedule's
default space: on ResNet-50 it took a tenth of the model (4.1 of 43 ms fp32,
2.1 of 15 ms int8, AMD Zen 5, 2 threads).

:func:`pad_conv_channels` pads such a convolution's channels with zeros: the
activations at run time (a pad that fuses with the kernel before it, the
layout change of the image to NHWC) and the constant weight once, at build
time (its pad is constant-folded). Zero weights make the padded channels add
nothing, whatever the activations hold there, so the result is exact in
every data type, the integer convolutions of a QDQ model included (their
zero-point corrections sum over the unpadded weight and activations).

Only a convolution the padding makes tensorizable is padded: NHWC
activations and OHWI constant weights (the CPU layout of
:mod:`~tvm_heron.relax.pipeline`), one group, operand types that one of the
target's intrinsics takes, and at most twice the multiply-adds (3 channels
become 4; 1 channel would become 4 and stays as it is).
"""

from __future__ import annotations

import math

import tvm
from tvm import relax
from tvm.ir import IRModule, Op
from tvm.ir.expr import Constant
from tvm.target import Target

from ..errors import UnsupportedTargetError
from ..target import instruction_set
from ._rewrite import mutate_functions, target_pass

CONV2D = Op.get("relax.nn.conv2d")

#: Padding may at most multiply a convolution's multiply-adds by this.
MAX_GROWTH = 2.0


def intrinsic_depth(target: Target, data: str, weight: str, out: str) -> int | None:
    """The reduction depth of the target's intrinsics for these operand types, or None if none takes them."""
    try:
        chosen = instruction_set(target)
    except UnsupportedTargetError:
        return None
    depths = {i.depth for i in chosen.intrinsics if tuple(i.operands) == (data, weight, out)}
    return max(depths) if depths else None


def padded_channels(channels: int, depth: int) -> int | None:
    """``channels`` rounded up to a multiple of ``depth``, or None when no padding is needed or worth it."""
    if channels % depth == 0:
        return None
    padded = math.ceil(channels / depth) * depth
    return padded if padded <= MAX_GROWTH * channels else None


def pad_conv_channels(mod: IRModule, target: Target) -> IRModule:
    """``mod`` with its convolutions' channels padded where that lets them tensorize (module docstring)."""
    if target.kind.name != "llvm":
        return mod
    return _Pad(mod, target).transform()


def pad_conv_channels_pass(target: Target) -> tvm.transform.Pass:
    """:func:`pad_conv_channels` as a module pass."""
    return target_pass(pad_conv_channels, target, "PadConvChannels")


@relax.expr_functor.mutator
class _Pad(relax.PyExprMutator):
    def __init__(self, mod: IRModule, target: Target):
        super().__init__(mod)
        self.mod_, self.target = mod, target

    def transform(self) -> IRModule:
        return mutate_functions(self, self.mod_)

    def visit_call_(self, call):  # pylint: disable=arguments-renamed
        call = self.visit_expr_post_order(call)
        if not call.op.same_as(CONV2D):
            return call
        padded = self._padded(call)
        return call if padded is None else padded

    def _padded(self, call: relax.Call) -> relax.Call | None:
        data, weight = call.args
        attrs = call.attrs
        if (str(attrs.data_layout), str(attrs.kernel_layout), str(attrs.out_layout)) != ("NHWC", "OHWI", "NHWC"):
            return None
        if int(attrs.groups) != 1 or not self._constant(weight):
            return None
        # the result's type: the attribute is unset (None) where the output keeps the input's type
        depth = intrinsic_depth(self.target, str(data.ty.dtype), str(weight.ty.dtype), str(call.ty.dtype))
        channels = int(weight.ty.shape[3])
        padded = padded_channels(channels, depth) if depth else None
        if padded is None:
            return None
        widths = [0, 0, 0, 0, 0, 0, 0, padded - channels]
        x = self.builder_.emit(relax.op.nn.pad(data, widths, pad_value=0.0))
        wide = self.builder_.emit(relax.op.nn.pad(weight, widths, pad_value=0.0))  # folded: a constant
        return relax.Call(call.op, [x, wide], attrs)

    def _constant(self, expr) -> bool:
        """Whether ``expr`` is computed from constants only (a weight and its layout change)."""
        while isinstance(expr, relax.Var):
            bound = self.lookup_binding(expr)
            if bound is None:
                return False
            expr = bound
        if isinstance(expr, Constant):
            return True
        return isinstance(expr, relax.Call) and isinstance(expr.op, Op) and all(
            self._constant(a) for a in expr.args)
