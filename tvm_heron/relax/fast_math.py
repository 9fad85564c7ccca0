"""Transcendental functions as polynomials that vectorise, not one libm call per element.

TVM legalizes ``exp``, ``erf``, ``tanh`` and what is built on them (softmax,
GELU, sigmoid, SiLU) to TIR intrinsics that LLVM lowers, on x86 and
aarch64, to libm calls (``expf``, ``erff``): one call per element, and a call
in a vectorised loop scalarises the whole expression around it. On BERT-base
(Zen 5, 2 threads) the 12 GELUs took about 30 ms of a 165 ms run, an int8
FFN kernel with its GELU and quantize steps 25 ms instead of 2, and each
softmax over 12 x 128 x 128 scores 0.37 ms.

On CPU targets :func:`passes` rewrites them with TOPI's polynomial forms
(``fast_exp``, ``fast_erf``, ``fast_tanh``: float32 error about 1e-7, other
types keep the exact functions): TVM's ``FastMathTransform`` for softmax,
``exp``, ``erf`` and ``tanh``, and :data:`LEGALIZE` (on every target) for
the operators it does not cover, GELU, sigmoid and SiLU, which legalize to
the exact functions otherwise.
"""

from __future__ import annotations

from tvm import relax, te, tirx, topi
from tvm.target import Target


def passes(target: Target) -> list:
    """The Relax passes that make ``softmax``, ``exp``, ``erf`` and ``tanh`` polynomials (CPU only)."""
    return [relax.transform.FastMathTransform()] if target.kind.name == "llvm" else []


def _erf(x: te.Tensor) -> te.Tensor:
    return topi.fast_erf(x) if x.dtype in ("float32", "float16") else topi.erf(x)


def _sigmoid(x: te.Tensor) -> te.Tensor:
    """``1 / (1 + exp(-x))`` with ``fast_exp`` (float32; other types the exact sigmoid)."""
    if x.dtype != "float32":
        return topi.sigmoid(x)
    one = tirx.const(1.0, x.dtype)
    return topi.divide(one, topi.add(one, topi.fast_exp(topi.negative(x))))


def _gelu(bb: relax.BlockBuilder, call: relax.Call) -> relax.Expr:
    def gelu(x: te.Tensor):
        dtype = x.dtype
        inner = x * tirx.const(0.5**0.5, dtype)
        return x * (tirx.const(0.5, dtype) + _erf(inner) * tirx.const(0.5, dtype))

    return bb.call_te(gelu, call.args[0], primfunc_name_hint="gelu")


def _erf_op(bb: relax.BlockBuilder, call: relax.Call) -> relax.Expr:
    return bb.call_te(_erf, call.args[0], primfunc_name_hint="erf")


def _sigmoid_op(bb: relax.BlockBuilder, call: relax.Call) -> relax.Expr:
    return bb.call_te(_sigmoid, call.args[0], primfunc_name_hint="sigmoid")


def _silu(bb: relax.BlockBuilder, call: relax.Call) -> relax.Expr:
    return bb.call_te(lambda x: topi.multiply(x, _sigmoid(x)), call.args[0], primfunc_name_hint="silu")


#: ``LegalizeOps``' custom map, every target: the operators ``FastMathTransform`` leaves to the
#: exact functions, and ``erf`` (which it rewrites on CPUs only).
LEGALIZE = {"relax.nn.gelu": _gelu, "relax.erf": _erf_op, "relax.sigmoid": _sigmoid_op, "relax.nn.silu": _silu}
