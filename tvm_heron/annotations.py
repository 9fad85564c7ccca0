"""Annotation and attribute keys shared across modules, each spelt once.

Most are MetaSchedule's (its postprocessors read them); the ``heron.`` ones
are this package's own.
"""

#: Block annotation read by ``RewriteTensorize``: the intrinsic to tensorize with.
AUTO_TENSORIZE = "meta_schedule.auto_tensorize"
#: Block annotation read by ``RewriteReductionBlock``: the intrinsic of the init block.
AUTO_TENSORIZE_INIT = "meta_schedule.auto_tensorize_init"
#: Block annotation of a weight-layout rewrite that may run ahead of time (Relax folds it).
LAYOUT_REWRITE_PREPROC = "meta_schedule.layout_rewrite_preproc"
#: Root-block annotation read by ``RewriteParallelVectorizeUnroll``: the unroll depth.
UNROLL_EXPLICIT = "meta_schedule.unroll_explicit"
#: Loop annotation read by ``RewriteCooperativeFetch``; its value is the vector width.
COOPERATIVE_FETCH = "meta_schedule.cooperative_fetch"
#: Annotations of MetaSchedule's multi-level tiling: the threads of a block lie in [low, high].
THREAD_EXTENT_BOUNDS = (
    "meta_schedule.thread_extent_low_inclusive",
    "meta_schedule.thread_extent_high_inclusive",
)
#: Block annotation: the block runs on a whole warp (its lanes are ``threadIdx.x``).
WARP_EXECUTION = "warp_execution"
#: Block annotation that marks what the TensorCore rule scheduled (other rules skip it).
TENSORCORE_SCHEDULED = "heron.tensorcore"
#: PrimFunc attribute: the declared int8 range: "u7" (7-bit activations) or "w7" (weights
#: -64..64, set by :mod:`tvm_heron.relax.weight_range`); absent means u8.
INT8_RANGE = "heron.int8_range"
