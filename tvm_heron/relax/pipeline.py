"""Relax passes around tuning: prepare a model into tunable kernels, build it with a database.

Task extraction and the final build must see the *same* fused PrimFuncs, or
the database's records (keyed by the PrimFunc's structure) would not apply.
:func:`prepare` therefore runs, once, everything up to operator fusion, and
:func:`build` applies the database to that prepared module and only lowers it:

1. bind the weights as constants (they are folded through layout changes);
2. decompose inference-only operators (batch norm becomes a scale and shift,
   fused into the convolution's epilogue);
3. on CPUs, convert 2-d convolutions to NHWC activations and OHWI weights:
   the channel is then the innermost axis, which the VNNI / AVX-512 rule
   tensorizes (in NCHW the 4 reduction channels of a dot product are a whole
   image plane apart); a convolution of 3 channels (an RGB image) is padded
   to 4, the intrinsics' depth (:mod:`~tvm_heron.relax.channels`);
4. library dispatch, legalisation to TIR (transcendental functions as
   polynomials that vectorise, :mod:`~tvm_heron.relax.fast_math`), constant
   folding, operator fusion (a QDQ model's table lookups count as
   element-wise, :mod:`~tvm_heron.relax.lookup`);
5. on CPUs with a 7-bit int8 form (AVX2 without VNNI), give each int8 kernel
   whose constant weights lie in -64..64 a copy that may use it
   (:mod:`~tvm_heron.relax.weight_range`);
6. mark each kernel's weight parameters as layout-free, so that a rule may
   repack them: after tuning, :func:`build` splits such packing stages out of
   the kernels and folds them into the constants (packed once, at build time).
"""

from __future__ import annotations

import numpy as np
import tvm
from tvm import relax
from tvm.ir import IRModule
from tvm.ir.transform import PassContext
from tvm.relax import pipeline as relax_pipeline
from tvm.target import Target

from . import fast_math, lookup, weight_range
from .channels import pad_conv_channels_pass

#: Layout of 2-d convolutions on CPU targets: (activations, weights).
CPU_CONV_LAYOUT = ("NHWC", "OHWI")


def bind_params(mod: IRModule, params, num_inputs: int | None = None) -> IRModule:
    """Bind ``params`` (arrays, in the order of ``main``'s parameters after the inputs)."""
    main = mod["main"]
    if num_inputs is None:
        num_inputs = int(main.attrs["num_input"]) if main.attrs and "num_input" in main.attrs else (
            len(main.params) - len(params)
        )
    weights = main.params[num_inputs:]
    if len(weights) != len(params):
        raise ValueError(f"main has {len(weights)} weight parameters, got {len(params)} arrays")
    bound = {var: tvm.runtime.tensor(np.ascontiguousarray(p)) for var, p in zip(weights, params)}
    return relax.transform.BindParams("main", bound)(mod)


def prepare(mod: IRModule, params, target: Target, *, accumulate: str | None = None) -> IRModule:
    """The fused module whose PrimFuncs are the tuning tasks (see the module docstring).

    Parameters
    ----------
    accumulate : str, optional
        On CUDA targets, float32 models compute their matmuls and convolutions
        in float16 (TensorCore) with this accumulator type: ``float16``
        (default) or ``float32`` (``ToMixedPrecision``). Ignored on CPUs.
    """
    mod = bind_params(mod, params)
    passes = [
        relax.transform.DecomposeOpsForInference(),
        relax.transform.CanonicalizeBindings(),
    ]
    if target.kind.name == "cuda":
        passes.append(relax.transform.ToMixedPrecision(out_dtype=accumulate or "float16"))
    if target.kind.name == "llvm":
        data, kernel = CPU_CONV_LAYOUT
        passes.append(relax.transform.ConvertLayout({"relax.nn.conv2d": [data, kernel]}))
        passes.append(pad_conv_channels_pass(target))
    passes += [
        *_or_empty(relax_pipeline.library_dispatch_passes, target),
        *fast_math.passes(target),
        relax.transform.LegalizeOps(customize_legalize_map=fast_math.LEGALIZE),
        relax.transform.AnnotateTIROpPattern(),
        lookup.fuse_as_elementwise,  # a QDQ model's table lookups go into epilogues
        relax.transform.FoldConstant(),
        relax.transform.FuseOps(),
        relax.transform.FuseTIR(),
        weight_range.mark_seven_bit_weights_pass(target),  # a no-op where no 7-bit form exists
        relax.transform.DeadCodeElimination(),
        # lists each kernel's weight parameters, whose layout the rules may change
        relax.transform.AttachAttrLayoutFreeBuffers(),
    ]
    with target, PassContext(opt_level=3):
        return tvm.transform.Sequential(passes)(mod)


def build(prepared: IRModule, target: Target, database=None):
    """Apply ``database`` (if any) to a :func:`prepare`-d module and build it for the VM.

    PrimFuncs without a record keep their unscheduled loop nests (correct,
    slow); the tuning report names them.
    """
    # TVM 0.27's CPU backend has no ``dataflow_lower_passes`` (AttributeError): these
    # are the generic ones, as in ``compile_relax``.
    dataflow_lower = _or_empty(relax_pipeline.dataflow_lower_passes, target) or [
        relax.transform.RewriteDataflowReshape(),
        relax.transform.ToNonDataflow(),
        relax.transform.RemovePurityChecking(),
        relax.transform.CallTIRRewrite(),
    ]
    lower = [*dataflow_lower, *_or_empty(relax_pipeline.finalize_passes, target)]

    @tvm.transform.module_pass(opt_level=0)
    def _lower(mod: IRModule, _ctx) -> IRModule:
        return tvm.transform.Sequential(lower)(mod)

    with target, PassContext(opt_level=3):
        if database is not None:
            prepared = apply_database(prepared, target, database)
        if target.kind.name == "cuda":
            # a GPU kernel needs thread bindings: DLight schedules what has no record
            prepared = _dlight_gpu()(prepared)
        return relax.build(prepared, target=target, relax_pipeline=_lower)


def _dlight_gpu():
    from tvm.s_tir import dlight as dl  # pylint: disable=import-outside-toplevel

    return dl.ApplyDefaultSchedule(
        dl.gpu.Matmul(), dl.gpu.GEMV(), dl.gpu.Reduction(), dl.gpu.GeneralReduction(), dl.gpu.Fallback()
    )


def apply_database(prepared: IRModule, target: Target, database) -> IRModule:
    """Replace each kernel that ``database`` has a record for with its best schedule.

    Weight packing stages marked as layout-rewrite preprocesses are then split
    out of the kernels (``<kernel>_prepacked`` takes the packed weight) and
    folded into the constants, so they run once, at build time.
    """
    with target, database, PassContext(opt_level=3):
        mod = relax.transform.MetaScheduleApplyDatabase()(prepared)
        return tvm.transform.Sequential(
            [
                relax.transform.SplitLayoutRewritePreproc(),
                relax.transform.FoldConstant(),
                relax.transform.DeadCodeElimination(),
            ]
        )(mod)


def _or_empty(passes_for, target: Target) -> list:
    try:
        return list(passes_for(target))
    except (ValueError, AttributeError):
        return []
