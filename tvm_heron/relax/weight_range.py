"""Mark the int8 kernels whose constant weights fit in 7 bits (ONNX Runtime's ``reduce_range``).

Without VNNI the fast int8 instruction is ``vpmaddubsw``: u8 x s8 products
summed in pairs into saturating 16-bit lanes. Its sums are exact when every
activation is below 128 (the ``u7`` range a workload may declare) *or* when
every weight lies in ``-64..64``: then ``|a0 w0 + a1 w1| <= 2 * 255 * 64 =
32640``, inside int16 for every u8 activation. ONNX Runtime's quantizer makes
such weights with ``reduce_range=True`` (symmetric, -64..64), which its guide
advises for CPUs without VNNI (its own kernels saturate otherwise).

:func:`mark_seven_bit_weights` finds, after fusion, each call of a kernel
whose multiply-accumulates read their s8 operand from constant arguments
within that range, and gives that call a copy of the kernel with
:data:`~tvm_heron.annotations.INT8_RANGE` = ``w7``. The DL Boost rule then
offers the 7-bit form beside the exact one, and the tuner chooses. A marked
kernel is another workload: its records never serve full-range weights. Only
targets whose instruction set has a 7-bit form are touched.
"""

from __future__ import annotations

import tvm
from tvm import relax
from tvm.ir import IRModule, Op
from tvm.ir.expr import Constant
from tvm.s_tir import Schedule
from tvm.target import Target

from .. import isa
from ..annotations import INT8_RANGE
from ..rules._util import is_multiply_accumulate
from ..rules.dlboost import target_intrinsics
from ._rewrite import mutate_functions, target_pass

#: The weights with which the 7-bit form's pair sums fit in int16 for every u8 activation.
SEVEN_BIT_WEIGHTS = (-64, 64)

CALL_TIR = Op.get("relax.call_tir")


def offers_seven_bit_form(target: Target) -> bool:
    """Whether declaring 7-bit weights gives the DL Boost rule more intrinsics on ``target``."""
    return set(target_intrinsics(target, isa.InputRange.W7)) != set(target_intrinsics(target))


def weight_params(func: tvm.tirx.PrimFunc) -> list[int] | None:
    """Indices of the parameters that the s8 operands of ``func``'s multiply-accumulates read.

    None where ``func`` has no multiply-accumulate with an s8 operand, or one
    whose s8 operand is computed inside the kernel (not a parameter).
    """
    sch = Schedule(IRModule({"main": func}))
    params = [(p, i) for i, p in enumerate(func.params) if isinstance(p, tvm.tirx.Buffer)]
    found: list[int] = []
    for rv in sch.get_child_blocks(sch.get_sblock("root")):
        block = sch.get(rv)
        if not is_multiply_accumulate(block):
            continue
        signed = [r.source for r in block.reads if str(r.source.dtype) == "int8"]
        if len(signed) != 1:
            continue
        index = next((i for buf, i in params if buf.same_as(signed[0])), None)
        if index is None:
            return None
        found.append(index)
    return sorted(set(found)) or None


def within_seven_bits(value: Constant) -> bool:
    """Whether a constant's values all lie in :data:`SEVEN_BIT_WEIGHTS`."""
    array = value.value.numpy()
    low, high = SEVEN_BIT_WEIGHTS
    return array.size > 0 and int(array.min()) >= low and int(array.max()) <= high


def mark_seven_bit_weights(mod: IRModule, target: Target) -> IRModule:
    """``mod`` with each call of a kernel on 7-bit constant weights given a ``w7`` copy (module doc)."""
    if not offers_seven_bit_form(target):
        return mod
    return _Mark(mod).transform()


def mark_seven_bit_weights_pass(target: Target) -> tvm.transform.Pass:
    """:func:`mark_seven_bit_weights` as a module pass (after ``FuseTIR``)."""
    return target_pass(mark_seven_bit_weights, target, "MarkSevenBitWeights")


@relax.expr_functor.mutator
class _Mark(relax.PyExprMutator):
    def __init__(self, mod: IRModule):
        super().__init__(mod)
        self.mod_ = mod
        self.weights: dict = {}  # kernel -> its weight parameters (or None)
        self.marked: dict = {}  # kernel -> its w7 copy

    def transform(self) -> IRModule:
        return mutate_functions(self, self.mod_)

    def visit_call_(self, call):  # pylint: disable=arguments-renamed
        call = self.visit_expr_post_order(call)
        if not call.op.same_as(CALL_TIR) or not self._qualifies(call):
            return call
        return relax.Call(call.op, [self._copy(call.args[0]), *call.args[1:]], call.attrs, call.ty_args)

    def _qualifies(self, call: relax.Call) -> bool:
        gvar, args = call.args[0], call.args[1]
        func = self.mod_[gvar]
        if not isinstance(func, tvm.tirx.PrimFunc) or INT8_RANGE in (func.attrs or {}):
            return False
        if gvar not in self.weights:
            self.weights[gvar] = weight_params(func)
        indices = self.weights[gvar]
        fields = list(args.fields) if isinstance(args, relax.Tuple) else [args]
        return bool(indices) and all(
            i < len(fields) and isinstance(fields[i], Constant) and within_seven_bits(fields[i])
            for i in indices)

    def _copy(self, gvar):
        if gvar not in self.marked:
            func = self.mod_[gvar].with_attr(INT8_RANGE, isa.InputRange.W7.value)
            self.marked[gvar] = self.builder_.add_func(func, f"{gvar.name_hint}_w7")
        return self.marked[gvar]
