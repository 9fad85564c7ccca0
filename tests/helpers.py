"""Helpers shared by the tests (imported as ``helpers``)."""

from __future__ import annotations

import tvm
from tvm.s_tir import meta_schedule as ms

import tvm_heron  # noqa: F401  (registers the intrinsic and the strategies)
from tvm_heron.ops import make_workload
from tvm_heron.space import analyze, heron_space
from tvm_heron.target import VNNI_FEATURE, has_feature, host_target

HOST = host_target()
HAS_VNNI = has_feature(HOST, VNNI_FEATURE)


def design_spaces(workload, target=HOST):
    """(mod, context, [Schedule]) of Heron's space for ``workload``."""
    mod = tvm.IRModule({"main": workload.func})
    ctx = ms.TuneContext(
        mod=mod, target=target, space_generator=heron_space(target), task_name="main", num_threads=2
    )
    return mod, ctx, list(ctx.generate_design_space())


def space_models(op, shape, dtype="int8", layout="packed"):
    """The SpaceModel of each Heron design space of an operator."""
    workload = make_workload(op, shape, dtype, layout=layout)
    mod, ctx, spaces = design_spaces(workload)
    return workload, mod, ctx, [analyze(s, mod, HOST) for s in spaces]
