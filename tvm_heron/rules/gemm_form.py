"""Normalise a GEMM-like reduction block into ``C[(b,) m, n] += A[(b,) m, k] * B[(b,) n, k]``.

A TensorCore fragment multiplies 2-d tiles, so every operator that the rule
tensorizes is first rewritten into one batched GEMM, as MetaSchedule's own
TensorCore rule does:

* each iterator of the block is classified by the operands its index
  expressions appear in: output, A and B (``batch``); output and A (``m``);
  output and B (``n``); A and B, a reduction (``k``). A convolution's output
  pixels are ``m``, its output channels ``n``, its kernel taps and input
  channels ``k``;
* ``reindex`` gives each operand a buffer indexed by the block's iterators
  (for an input of a convolution: an im2col view, computed, not stored: the
  staging into shared memory reads the original tensor);
* ``transform_layout`` / ``transform_block_layout`` fuse each class into one
  axis, so the block iterates ``((b,) m, n, k)``;
* ``pad_einsum`` zero-pads ``m, n, k`` to multiples of the fragment shape.

The blocks that this leaves around the GEMM (the reindex copies, the
padding, the crop, the operator's own injective stages) are inlined by the
rule into the stages that move data between memories.
"""

from __future__ import annotations

import attrs
from tvm.s_tir import Schedule
from tvm.s_tir.schedule import SBlockRV, ScheduleError
from tvm.tirx import Add, Cast, IndexMap, IntImm, Mul
from tvm.tirx.analysis import undefined_vars
from tvm.tirx.expr import IterVar

from ..intrinsics import wmma

#: Iterator classes, in the order of the normalised block's axes.
CLASSES = ("batch", "m", "n", "k")

_BYTES = {"float16": 2, "float32": 4, "int8": 1, "int32": 4}


@attrs.frozen
class GemmForm:
    """How a block maps onto a GEMM.

    Attributes
    ----------
    classes : tuple of str
        The class of each block iterator (:data:`CLASSES`), in block order.
    extents : tuple of int
        The block iterators' extents.
    a_read, b_read : int
        Indices (in the block's reads) of the operand indexed by ``m`` and by ``n``.
    in_dtype, acc_dtype : str
        The inputs' and the output's data types (a wmma pair).
    """

    classes: tuple[str, ...]
    extents: tuple[int, ...]
    a_read: int
    b_read: int
    in_dtype: str
    acc_dtype: str

    def extent(self, cls: str) -> int:
        """The fused extent of the iterators of class ``cls`` (1 if none)."""
        out = 1
        for c, e in zip(self.classes, self.extents):
            if c == cls:
                out *= e
        return out


@attrs.frozen
class Normalized:
    """A normalised GEMM block: ``block`` iterates ``((b,) m, n, k)``.

    ``inputs`` are the names of the A and B buffers it reads; ``shape`` the
    wmma fragment; element sizes in bytes.
    """

    block: SBlockRV
    inputs: tuple[str, str]
    shape: tuple[int, int, int]
    in_bytes: int
    acc_bytes: int

    @property
    def output_scope(self) -> str:
        """Shared-memory scope of the output tile.

        A wider accumulator goes to dynamic shared memory: TVM 0.27's storage
        rewrite would otherwise place it in an input's dead buffer of the
        narrower type and then reject the wmma store's pointer
        ("tvm_access_ptr element type must match").
        """
        return "shared" if self.acc_bytes == self.in_bytes else "shared.dyn"


def _vars_of(region) -> set:
    out = set()
    for r in region.region:
        out.update(v for v in undefined_vars(r.min, []))
    return out


def _is_multiply_add(sblock) -> bool:
    """Whether the block's body is ``C[...] = C[...] + f(A) * g(B)`` (casts allowed)."""
    store = sblock.body
    value = getattr(store, "value", None)
    if not isinstance(value, Add):
        return False
    acc, product = value.a, value.b
    if not _is_load(acc) or not isinstance(product, Mul):
        return False
    return all(_is_load(_strip_cast(x)) for x in (product.a, product.b))


def _is_load(expr) -> bool:
    # TVM 0.27 names the class TensorLoad (tvm.tirx.BufferLoad is a factory function).
    return hasattr(expr, "source") and hasattr(expr, "indices")


def _strip_cast(expr):
    while isinstance(expr, Cast):
        expr = expr.value
    return expr


def analyze(sch: Schedule, block: SBlockRV) -> GemmForm | None:
    """The :class:`GemmForm` of ``block``, or None when it is not a wmma-able GEMM."""
    sblock = sch.get(block)
    if len(sblock.writes) != 1 or len(sblock.reads) != 2 or sblock.init is None:
        return None
    if not _is_multiply_add(sblock):
        return None
    out = sblock.writes[0].source
    reads = [r.source for r in sblock.reads]
    if any(r.same_as(out) for r in reads) or reads[0].same_as(reads[1]):
        return None
    in_dtypes = {str(r.dtype) for r in reads}
    if len(in_dtypes) != 1 or (in_dtypes.pop(), str(out.dtype)) not in wmma.DTYPES:
        return None
    in_dtype = str(reads[0].dtype)
    out_vars = _vars_of(sblock.writes[0])
    read_vars = [_vars_of(r) for r in sblock.reads]
    classes = []
    for iv in sblock.iter_vars:
        var = iv.var
        in_out, in_0, in_1 = var in out_vars, var in read_vars[0], var in read_vars[1]
        reduce = iv.iter_type == IterVar.CommReduce
        if reduce and in_0 and in_1 and not in_out:
            classes.append("k")
        elif not reduce and in_out and in_0 and in_1:
            classes.append("batch")
        elif not reduce and in_out and (in_0 != in_1):
            classes.append("m" if in_0 else "n0")
        else:
            return None
    if "n0" not in classes or "k" not in classes:
        return None
    if "m" not in classes:
        return None
    classes = ["n" if c == "n0" else c for c in classes]
    return GemmForm(
        classes=tuple(classes),
        extents=tuple(int(iv.dom.extent) for iv in sblock.iter_vars),
        a_read=0,
        b_read=1,
        in_dtype=in_dtype,
        acc_dtype=str(out.dtype),
    )


def fits(form: GemmForm, shape) -> bool:
    """Whether ``m, n, k`` are multiples of the fragment ``shape`` (no padding needed)."""
    return all(form.extent(c) % s == 0 for c, s in zip(("m", "n", "k"), shape))


def _fused(values, classes, extents, wanted) -> list:
    """The fused index of each class of ``wanted``: row-major over the block's order."""
    out = []
    for cls in wanted:
        members = [(v, e) for v, c, e in zip(values, classes, extents) if c == cls]
        # A unit iterator adds nothing; leaving it out keeps the map an affine
        # sum that TVM can invert (it rejects a unit axis fused with others).
        # A class of unit iterators only (a GEMV's one row) keeps its first.
        wide = [(v, e) for v, e in members if e > 1] or members[:1]
        acc = None
        for value, extent in wide:
            acc = value if acc is None else acc * extent + value
        out.append(IntImm("int32", 0) if acc is None else acc)
    return out


def _layout_map(form: GemmForm, index_vars: list, wanted: tuple[str, ...]) -> IndexMap:
    """Index map of a reindex buffer whose axes are the block iterators ``index_vars``."""
    iters = list(index_vars)

    def mapping(*idx):
        values = [idx[iters.index(p)] if p in iters else 0 for p in range(len(form.classes))]
        present_classes = [c if p in iters else None for p, c in enumerate(form.classes)]
        return tuple(_fused(values, present_classes, form.extents, wanted))

    return IndexMap.from_func(mapping, ndim=len(iters), index_dtype="int32")


def normalize(sch: Schedule, block: SBlockRV, form: GemmForm, shape, *, pad: bool) -> Normalized:
    """Rewrite ``block`` into the GEMM form (see the module docstring)."""
    batch = ("batch",) if "batch" in form.classes else ()
    sch.reindex(block, ("write", 0))
    sch.reindex(block, ("read", form.a_read))
    sch.reindex(block, ("read", form.b_read))
    sblock = sch.get(block)
    iter_vars = [iv.var for iv in sblock.iter_vars]

    def positions(region):
        return [iter_vars.index(next(v for v in iter_vars if v.same_as(r.min))) for r in region.region]

    targets = [
        (("write", 0), sblock.writes[0], (*batch, "m", "n")),
        (("read", form.a_read), sblock.reads[form.a_read], (*batch, "m", "k")),
        (("read", form.b_read), sblock.reads[form.b_read], (*batch, "n", "k")),
    ]
    for buffer, region, wanted in targets:
        sch.transform_layout(block, buffer, _layout_map(form, positions(region), wanted))

    def block_map(*idx):
        return tuple(_fused(idx, form.classes, form.extents, (*batch, "m", "n", "k")))

    sch.transform_block_layout(block, IndexMap.from_func(block_map, ndim=len(form.classes), index_dtype="int32"))
    wm, wn, wk = shape
    sizes = [form.extent(c) for c in ("m", "n", "k")]
    if any(s % w for s, w in zip(sizes, shape)):
        if not pad:
            raise ScheduleError(f"GEMM extents {sizes} are not multiples of the fragment {shape}")
        sch.pad_einsum(block, [*([1] * len(batch)), wm, wn, wk])
    sblock = sch.get(block)
    names = (sblock.reads[form.a_read].source.name, sblock.reads[form.b_read].source.name)
    return Normalized(
        block=block,
        inputs=names,
        shape=tuple(shape),
        in_bytes=_BYTES[form.in_dtype],
        acc_bytes=_BYTES[form.acc_dtype],
    )


def read_index(sch: Schedule, block: SBlockRV, name: str) -> int:
    """Index of the read of buffer ``name`` in ``block``'s reads."""
    for i, region in enumerate(sch.get(block).reads):
        if region.source.name == name:
            return i
    raise ValueError(f"block {sch.get(block).name_hint} does not read {name}")


def inline_producers(sch: Schedule, block: SBlockRV) -> None:
    """Inline the chain of injective producers of ``block`` into it."""
    progress = True
    while progress:
        progress = False
        for producer in sch.get_producers(block):
            try:
                sch.compute_inline(producer)
            except ScheduleError:
                continue
            progress = True
            break
