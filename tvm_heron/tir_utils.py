"""Read-only queries on TensorIR statements shared by the rules and the space analysis."""

from __future__ import annotations

from tvm.s_tir.stmt import SBlockRealize
from tvm.tirx.analysis import undefined_vars
from tvm.tirx.expr import IterVar
from tvm.tirx.stmt import For, SeqStmt


def block_realize(block_sref):
    """The ``SBlockRealize`` of the block behind ``block_sref``."""
    block = block_sref.stmt
    parent = block_sref.parent
    body = parent.stmt.body
    children = list(body.seq) if isinstance(body, SeqStmt) else [body]
    for child in children:
        if isinstance(child, SBlockRealize) and child.block.same_as(block):
            return child
    raise ValueError(f"cannot find the realize of block {block.name_hint}")


def enclosing_loops(block_sref) -> list:
    """The srefs of the loops around a block, outermost first."""
    loops = []
    sref = block_sref.parent
    while sref is not None and isinstance(sref.stmt, For):
        loops.append(sref)
        sref = sref.parent
    return loops[::-1]


def is_reduction_loop(block_sref, loop: For) -> bool:
    """Whether ``loop`` binds a reduction iterator of the block."""
    realize = block_realize(block_sref)
    for iter_var, value in zip(realize.block.iter_vars, realize.iter_values):
        if iter_var.iter_type != IterVar.CommReduce:
            continue
        if any(var.same_as(loop.loop_var) for var in undefined_vars(value, [])):
            return True
    return False


def inner_loop_extents(block) -> list[int]:
    """Extents of the loops nested inside a block's body, outermost first."""
    extents = []
    stmt = block.body
    while True:
        if isinstance(stmt, For):
            extents.append(int(stmt.extent))
            stmt = stmt.body
        elif isinstance(stmt, SBlockRealize):
            stmt = stmt.block.body
        else:
            return extents
