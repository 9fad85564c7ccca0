"""Shared plumbing of the Relax rewrites: a rewrite as a module pass, a mutator over every function."""

from __future__ import annotations

from collections.abc import Callable

import tvm
from tvm import relax
from tvm.ir import IRModule
from tvm.target import Target


def target_pass(rewrite: Callable[[IRModule, Target], IRModule], target: Target, name: str) -> tvm.transform.Pass:
    """``rewrite(mod, target)`` as a module pass called ``name``."""

    @tvm.transform.module_pass(opt_level=0, name=name)
    def _pass(mod: IRModule, _ctx) -> IRModule:
        return rewrite(mod, target)

    return _pass


def mutate_functions(mutator: relax.PyExprMutator, mod: IRModule) -> IRModule:
    """``mod`` with every Relax function visited by ``mutator`` (its builder's module)."""
    for gvar, func in mod.functions_items():
        if isinstance(func, relax.Function):
            mutator.builder_.update_func(gvar, mutator.visit_expr(func))
    return mutator.builder_.get()
