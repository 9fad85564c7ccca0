"""Multiply-adds per task, and the share of a model's that ran on a tensorized kernel.

A task's multiply-adds are those of its multiply-accumulate blocks (``C += A *
B``, :func:`~tvm_heron.rules._util.is_multiply_accumulate`): the product of
the block's iteration extents, once per call of the task. A task ran on a
tensorized kernel when it was planned in Heron's space (every design space of
the DL Boost rule is tensorized) and the database had a valid record for it:
without one, the build keeps the unscheduled loop nest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
from tvm.ir import IRModule
from tvm.s_tir import Schedule

from .. import isa
from ..rules._util import is_multiply_accumulate


def kernel_macs(mod: IRModule) -> int:
    """Multiply-adds of one call of ``mod``'s ``main`` (a task's PrimFunc)."""
    sch = Schedule(mod)
    total = 0
    for block in sch.get_child_blocks(sch.get_sblock("root")):
        sblock = sch.get(block)
        if is_multiply_accumulate(sblock):
            count = 1
            for iter_var in sblock.iter_vars:
                count *= int(iter_var.dom.extent)
            total += count
    return total


def task_macs(extracted) -> dict[str, int]:
    """Multiply-adds of one call of each of MetaSchedule's extracted tasks, by task name."""
    return {task.task_name: kernel_macs(task.dispatched[0]) for task in extracted}


@attrs.frozen
class MacShare:
    """Where a model's multiply-adds ran (counts for one inference).

    Attributes
    ----------
    total : int
        Every multiply-add of the model's tasks (calls counted).
    int8 : int
        Those on a tensorized int8 kernel (a dot-product intrinsic).
    float32 : int
        Those on a tensorized float32 kernel (the fused multiply-add intrinsic).
    """

    total: int
    int8: int = 0
    float32: int = 0

    @property
    def tensorized(self) -> int:
        """Multiply-adds on any tensorized kernel."""
        return self.int8 + self.float32

    def share(self, part: int) -> float | None:
        """``part / total`` (None for a model without multiply-adds)."""
        return part / self.total if self.total else None

    def to_json(self) -> dict:
        """Counts and shares."""
        return {"total": self.total, "int8": self.int8, "float32": self.float32,
                "tensorized_share": self.share(self.tensorized), "int8_share": self.share(self.int8),
                "float32_share": self.share(self.float32)}

    @classmethod
    def from_json(cls, data: dict) -> MacShare:
        """The inverse of :meth:`to_json`."""
        return cls(total=data["total"], int8=data["int8"], float32=data["float32"])


def mac_share(tasks: Sequence, macs: Mapping[str, int]) -> MacShare:
    """Where the multiply-adds of a tuned model ran.

    Parameters
    ----------
    tasks : sequence of TaskResult
        The tuning run's tasks (:class:`~tvm_heron.relax.tune.TaskResult`).
    macs : mapping of str to int
        Multiply-adds of one call of each task (:func:`task_macs`).
    """
    by_dtype = {"int8": 0, "float32": 0}
    total = 0
    for task in tasks:
        count = macs.get(task.name, 0) * task.weight
        total += count
        if not (task.tensorized and task.best_latency_s is not None):
            continue
        described = isa.intrinsic(task.intrinsic) if task.intrinsic else None
        dtype = described.dtype if described is not None else None
        if dtype in by_dtype:
            by_dtype[dtype] += count
    return MacShare(total=total, **by_dtype)


__all__ = ["MacShare", "kernel_macs", "mac_share", "task_macs"]
