"""Helpers of the TensorCore tests (imported as ``tensorcore_helpers``)."""

from __future__ import annotations

import re

import tvm
from tvm.s_tir import meta_schedule as ms

import tvm_heron  # noqa: F401  (registers the strategies)
from tvm_heron.space import analyze, heron_space
from tvm_heron.target import parse_target

A100 = parse_target("nvidia/nvidia-a100")

#: Small fp16 case of every operator of the paper's TensorCore list.
CASES = [
    ("gemm", (64, 64, 64)),
    ("bmm", (2, 32, 64, 48)),
    ("gemv", (64, 64)),
    ("scan", (32, 48, 64)),
    ("c1d", (1, 32, 16, 32, 3, 1, 1, 1)),
    ("c2d", (1, 8, 8, 16, 32, 3, 3, 1, 1, 1)),
    ("dil", (1, 8, 8, 16, 16, 3, 3, 1, 2, 2)),
    ("c3d", (1, 4, 6, 6, 16, 16, 3, 3, 3, 1, 1, 1)),
    ("t2d", (1, 6, 6, 16, 16, 3, 3, 2, 1, 1, 1)),
]


def space_models(workload, target=A100, space=None):
    """(mod, context, [SpaceModel]) of Heron's CUDA space (or ``space``) for ``workload``."""
    mod = tvm.IRModule({"main": workload.func})
    ctx = ms.TuneContext(
        mod=mod, target=target, space_generator=space or heron_space(target), task_name="main",
        num_threads=1,
    )
    return mod, ctx, [analyze(s, mod, target) for s in ctx.generate_design_space()]


_SHARED = re.compile(r"__shared__\s+(?:alignas\(\d+\)\s+)?(\w+)\s+\w+\[(\d+)\]")
_LAUNCH = re.compile(r"__launch_bounds__\((\d+)\)")
_BYTES = {"half": 2, "float": 4, "int": 4, "signed char": 1, "char": 1}


def kernel_resources(source: str) -> tuple[int, int]:
    """(static shared-memory bytes, threads per block) of a one-kernel CUDA source."""
    shared = sum(_BYTES.get(ty, 4) * int(n) for ty, n in _SHARED.findall(source))
    threads = [int(x) for x in _LAUNCH.findall(source)]
    return shared, max(threads) if threads else 1
