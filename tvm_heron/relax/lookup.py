"""Element-wise functions of one 8-bit tensor, computed as a 256-entry table lookup.

In a QDQ model the float operators between two quantized tensors stay float
(:mod:`tvm_heron.relax.qdq`): an exported GELU on a quantized input is five
QuantizeLinear / DequantizeLinear pairs around a divide, an erf, an add and
two multiplies. Every value of that chain is a function of one 8-bit tensor
``q`` and of scalar constants, so the chain has at most 256 distinct inputs:
``y = table[q]``. Fused into a matmul's epilogue, the chain costs five float
divisions and an erf polynomial per output element; on BERT-base int8 (AMD
Zen 4, 2 threads) the first FFN matmul took 2.8 ms with its GELU chain
against 2.1 ms with the chain cut at ``q``.

:func:`tabulate` finds every 8-bit value ``y`` whose expression, through
element-wise operators whose other operands are one-element constants,
reads exactly one 8-bit tensor ``q`` of ``y``'s shape, and binds ``y`` to a
lookup ``table[q]``. The table is the same chain of Relax operators applied
to a constant ``[lo, ..., hi]`` (every value of ``q``'s dtype), so the
model's own pipeline (legalization, the polynomial transcendental functions
of :mod:`tvm_heron.relax.fast_math`, constant folding) computes it as it
would have computed the chain: the table holds the same numbers. Chains not
worth a lookup are left alone: one without a transcendental function that
rounds to 8 bits only once (a single requantize is cheaper than a gather).

For operator fusion the lookup is element-wise (:func:`fuse_as_elementwise`):
its output element ``i`` reads ``q[i]`` and the table, a constant, so it
belongs in the epilogue of the kernel that produces ``q``. TVM's analysis
calls a load at a data-dependent index injective, and fusion puts nothing
but element-wise operators after a matmul or a convolution: the lookup
would be a kernel of its own, one more pass over the tensor.
"""

from __future__ import annotations

import logging

import attrs
import numpy as np
import tvm
from tvm import relax, te
from tvm.ir import IRModule, Op
from tvm.ir.expr import Constant

logger = logging.getLogger(__name__)

#: Element-wise operators a table may replace, and which of them are transcendental.
TRANSCENDENTAL = frozenset(f"relax.{name}" for name in (
    "erf", "exp", "tanh", "sigmoid", "log", "sqrt", "rsqrt", "power", "nn.gelu", "nn.gelu_tanh",
    "nn.silu",
))
ELEMENTWISE = TRANSCENDENTAL | frozenset(f"relax.{name}" for name in (
    "add", "subtract", "multiply", "divide", "negative", "abs", "round", "floor", "ceil", "clip",
    "minimum", "maximum", "astype", "nn.relu",
))
#: Value range of each 8-bit dtype, in the order the table lists it.
EIGHT_BIT = {"uint8": (0, 255), "int8": (-128, 127)}
#: PrimFunc attribute of a lookup kernel (see :func:`fuse_as_elementwise`).
LOOKUP = "heron.table_lookup"
#: TVM's ``OpPatternKind.kElemWise``.
ELEMWISE = 0


@attrs.frozen
class Table:
    """An 8-bit value computed as ``table[source]``.

    Attributes
    ----------
    var : relax.Var
        The 8-bit value.
    source : relax.Var
        The one 8-bit tensor it is a function of (same shape).
    ops : int
        Number of operators the lookup replaces.
    """

    var: object
    source: object
    ops: int

    def describe(self) -> str:
        """One line for a report."""
        return f"table lookup {self.var.name}: {self.ops} element-wise operators of {self.source.name}"


def tabulate(mod: IRModule) -> tuple[IRModule, tuple[Table, ...]]:
    """Bind every element-wise function of one 8-bit tensor in ``main`` to a table lookup.

    ``mod``'s constants must be bound (one-element constants are the chain's
    scales and zero points). Returns the new module (unused chains removed)
    and the tables made.
    """
    func = mod["main"]
    bound = {}
    for block in func.body.blocks:
        for binding in block.bindings:
            if isinstance(binding, relax.VarBinding):
                bound[binding.var] = binding.value
    order = {var: i for i, var in enumerate(bound)}
    tables = {}
    for var, value in bound.items():
        table = _table(var, value, bound, order)
        if table is not None:
            tables[var] = table
    if not tables:
        return mod, ()
    mutator = _Lookup(mod, tables, bound)
    new = mutator.visit_expr(func)
    out = mutator.builder_.get()  # the module with the lookups' PrimFuncs
    out["main"] = new
    # A table inside a longer one's chain (GELU's erf, a step of the longest chain) is left unused.
    out = relax.transform.DeadCodeElimination()(out)
    used = _bound_vars(out["main"])
    made = tuple(t for var, t in tables.items() if mutator.lookups[var] in used)
    for table in made:
        logger.info("%s", table.describe())
    return out, made


def _bound_vars(func) -> set:
    return {b.var for block in func.body.blocks for b in block.bindings}


def _dtype(expr) -> str | None:
    ty = getattr(expr, "ty", None)
    return str(ty.dtype) if isinstance(ty, relax.TensorType) else None


def _shape(expr) -> list[int] | None:
    """The static shape of a tensor, or None (unknown rank or a symbolic dimension)."""
    shape = expr.ty.shape
    if shape is None or not all(isinstance(d, tvm.tirx.IntImm) for d in shape):
        return None
    return [int(d) for d in shape]


def _table(var, value, bound, order) -> Table | None:
    """The table of ``var`` (an 8-bit value), or None when it is no such function or not worth one.

    The source is the earliest-bound 8-bit tensor of ``var``'s chain that the
    chain reads alone: ``var`` is then a function of it, and the table
    replaces the longest chain. (Below the source the chain may go on, through
    a per-channel requantize, to a matmul's int32 accumulator.)
    """
    if _dtype(var) not in EIGHT_BIT or not _is_elementwise(value):
        return None
    whole = _Walk(bound)
    whole.visit(value)
    candidates = sorted((v for v in whole.seen if _dtype(v) in EIGHT_BIT), key=lambda v: order.get(v, -1))
    for source in candidates:
        walk = _Walk(bound, stop=source)
        if not walk.visit(value) or walk.sources != {source}:
            continue
        if _shape(source) is None or _shape(source) != _shape(var):
            return None
        roundings = walk.casts_to_8bit + 1  # the inner ones, and var's own
        if not walk.transcendental and roundings < 2:
            return None  # a shorter chain (a later source) is worth even less
        return Table(var, source, walk.ops)
    return None


def _is_elementwise(value) -> bool:
    return isinstance(value, relax.Call) and isinstance(value.op, Op) and value.op.name in ELEMENTWISE


class _Walk:
    """Follows an expression through element-wise operators down to the tensors it reads."""

    def __init__(self, bound, stop=None):
        self.bound, self.stop = bound, stop
        self.sources, self.seen = set(), set()
        self.ops, self.casts_to_8bit, self.transcendental = 0, 0, False

    def visit(self, expr) -> bool:
        """Whether ``expr`` is element-wise down to its tensors, one-element constants aside."""
        if isinstance(expr, relax.Var):
            if expr in self.seen:
                return True
            self.seen.add(expr)
            value = self.bound.get(expr)
            if expr.same_as(self.stop) or value is None or not _is_elementwise(value):
                self.sources.add(expr)  # a tensor the chain reads
                return True
            if _dtype(expr) in EIGHT_BIT:
                self.casts_to_8bit += 1
            return self.visit(value)
        if isinstance(expr, Constant):  # a tensor, or a scalar immediate (clip's bounds)
            value = expr.value
            # one element: a scale or a zero point, not a per-channel one
            return np.asarray(value.numpy() if hasattr(value, "numpy") else value).size == 1
        if _is_elementwise(expr):
            self.ops += 1
            self.transcendental |= expr.op.name in TRANSCENDENTAL
            return all([self.visit(arg) for arg in expr.args])  # every one: ``seen`` lists them all
        return False


def _lookup_te(table: te.Tensor, source: te.Tensor, low: int) -> te.Tensor:
    return te.compute(source.shape, lambda *i: table[source(*i).astype("int32") - low], name="lookup")


@relax.expr_functor.mutator
class _Lookup(relax.PyExprMutator):
    def __init__(self, mod: IRModule, tables: dict, bound: dict):
        super().__init__(mod)
        self.tables, self.bound = tables, bound
        self.lookups = {}  # table var -> the var its lookup is bound to

    def visit_var_binding_(self, binding):  # pylint: disable=arguments-renamed
        table = self.tables.get(binding.var)
        if table is None:
            super().visit_var_binding_(binding)
            return
        source = self.visit_expr(table.source)
        low, high = EIGHT_BIT[_dtype(table.source)]
        rank = len(_shape(table.source))
        domain = np.arange(low, high + 1).astype(_dtype(table.source)).reshape((1,) * (rank - 1) + (-1,))
        values = self._replay(binding.value, table.source, relax.const(domain), {})
        values = self.builder_.emit(relax.op.reshape(values, (high - low + 1,)))
        call = self.builder_.call_te(_lookup_te, values, source, low, primfunc_name_hint="lookup")
        gvar = call.args[0]
        self.builder_.update_func(gvar, self.builder_.get()[gvar].with_attr(LOOKUP, True))
        new_var = self.builder_.emit(call, name_hint=binding.var.name)
        self.lookups[binding.var] = new_var
        self.set_var_remap(binding.var, new_var)

    def _replay(self, expr, source, domain, memo):
        """``expr`` with ``source`` replaced by ``domain`` (constants and attributes kept)."""
        if isinstance(expr, relax.Var):
            if expr.same_as(source):
                return domain
            if expr not in memo:
                memo[expr] = self._replay(self.bound[expr], source, domain, memo)
            return memo[expr]
        if isinstance(expr, relax.Call):
            args = [self._replay(arg, source, domain, memo) for arg in expr.args]
            return self.builder_.emit(relax.Call(expr.op, args, expr.attrs, expr.ty_args))
        return expr  # a constant


@tvm.tirx.transform.prim_func_pass(opt_level=0, name="FuseLookupsAsElementwise")
def fuse_as_elementwise(func, _mod, _ctx):
    """Mark each lookup kernel element-wise for operator fusion.

    Runs after ``AnnotateTIROpPattern`` (which would call it injective: the
    table is read at an index loaded from the source) and before ``FuseOps``.
    """
    if func.attrs is not None and LOOKUP in func.attrs:
        return func.with_attr("op_pattern", ELEMWISE)
    return func


__all__ = ["Table", "fuse_as_elementwise", "tabulate"]
