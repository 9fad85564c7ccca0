"""Small schedule helpers shared by the space-generation rules."""

from __future__ import annotations

from collections.abc import Callable

from tvm.ir.expr import TensorLoad
from tvm.s_tir import Schedule
from tvm.s_tir.schedule import LoopRV, SBlockRV, ScheduleError
from tvm.tirx import Add, BufferStore, Cast, Mul

from .. import tir_utils


def is_reduction_loop(sch: Schedule, block: SBlockRV, loop: LoopRV) -> bool:
    """Whether ``loop`` binds a reduction iterator of ``block``."""
    return tir_utils.is_reduction_loop(sch.get_sref(block), sch.get(loop))


def reorder_ssrsrs(sch: Schedule, spatial: list[list[LoopRV]], reduction: list[list[LoopRV]]):
    """Reorder tile loops with spatial and reduction levels interleaved.

    With 4 spatial levels and 2 reduction levels the order is
    ``S0 S1 R0 S2 R1 S3`` (each ``S``/``R`` standing for that level of every
    spatial/reduction loop), MetaSchedule's CPU structure "SSRSRS".
    """
    n_s = len(spatial[0]) if spatial else 0
    n_r = len(reduction[0]) if reduction else 0
    order: list[LoopRV] = []
    first_r = n_s - n_r - 1  # reduction level r follows spatial level first_r + r
    for s in range(n_s):
        order.extend(tiles[s] for tiles in spatial)
        r = s - first_r
        if 0 <= r < n_r:
            order.extend(tiles[r] for tiles in reduction)
    sch.reorder(*order)


def inline_consumers(
    sch: Schedule, block: SBlockRV, accept: Callable[[SBlockRV], bool] | None = None
) -> None:
    """Inline the chain of injective consumers of ``block`` into it, one at a time.

    ``accept(consumer)`` may refuse a consumer (it then stays a stage of its
    own); one that TVM cannot inline stays too.

    Only a sole consumer is inlined. Where the output fans out (GELU,
    ``x * 0.5 * (1 + erf(x / sqrt(2)))``, reads ``x`` in two blocks), the
    branches are first inlined forward into their common consumer
    (``compute_inline``). TVM's ``reverse_compute_inline`` does not refuse a
    consumer with a sibling: it then leaves the sibling reading a buffer
    nothing writes, and every candidate of the kernel fails to build.
    """
    progress = True
    while progress:
        progress = False
        consumers = sch.get_consumers(block)
        if len(consumers) > 1:
            for branch in consumers:
                try:
                    sch.compute_inline(branch)
                except ScheduleError:
                    continue
                progress = True
                break
            continue
        for consumer in consumers:
            if accept is not None and not accept(consumer):
                continue
            try:
                sch.reverse_compute_inline(consumer)
            except ScheduleError:
                continue
            progress = True
            break


def multiply_accumulate_blocks(mod) -> int:
    """How many blocks of ``mod``'s (unscheduled) ``main`` are multiply-accumulates."""
    if mod is None or "main" not in [gv.name_hint for gv in mod.get_global_vars()]:
        return 0
    sch = Schedule(mod)
    blocks = sch.get_child_blocks(sch.get_sblock("root"))
    return sum(is_multiply_accumulate(sch.get(block)) for block in blocks)


def is_multiply_accumulate(sblock) -> bool:
    """Whether the block's update is ``C = C + load(A) * load(B)`` (loads possibly cast).

    The loop mapping and the tiling probe look at loops and buffers only: a
    layer norm's ``var += (x - mean) * (x - mean)`` passes both, and then
    fails in tensorize, which MetaSchedule's postprocessor only logs.
    """
    body = sblock.body
    if not isinstance(body, BufferStore) or not isinstance(body.value, Add):
        return False

    def load(expr) -> bool:
        while isinstance(expr, Cast):
            expr = expr.value
        return isinstance(expr, TensorLoad)  # what TVM 0.27 calls a BufferLoad

    add = body.value
    for acc, product in ((add.a, add.b), (add.b, add.a)):
        if isinstance(acc, TensorLoad) and acc.source.same_as(body.buffer) and isinstance(product, Mul):
            return load(product.a) and load(product.b)
    return False
