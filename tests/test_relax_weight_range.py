"""Kernels on 7-bit constant weights may use AVX2's vpmaddubsw form, exactly, on full-range activations."""

from __future__ import annotations

import numpy as np
import pytest
import tvm
from helpers import isa_target, runs_here
from tvm import relax
from tvm.script import relax as R
from tvm.s_tir import meta_schedule as ms

import tvm_heron
from tvm_heron import isa
from tvm_heron.annotations import INT8_RANGE
from tvm_heron.errors import UnsupportedTargetError
from tvm_heron.relax import pipeline
from tvm_heron.relax.tune import _used_intrinsic
from tvm_heron.relax.weight_range import offers_seven_bit_form, weight_params
from tvm_heron.rules.dlboost import DLBoostRule
from tvm_heron.rules.generic import GenericCpuRule
from tvm_heron.tuning import foreign_log_handlers_detached

AVX2 = isa_target(isa.by_name("avx2"))
VNNI = isa_target(isa.by_name("avx512_vnni"))
(U7,) = [i for i in isa.by_name("avx2").intrinsics if i.input_range == isa.InputRange.U7]
M, K, N = 8, 64, 32


def _two_matmuls(seven_bit: np.ndarray, full: np.ndarray) -> tvm.IRModule:
    """``x @ seven_bit^T`` and ``x @ full^T`` (u8 x s8 -> s32): one kernel, called twice."""
    bb = relax.BlockBuilder()
    x = relax.Var("x", R.Tensor((M, K), "uint8"))
    with bb.function("main", [x]):
        with bb.dataflow():
            outs = [bb.emit(relax.op.matmul(x, relax.const(w.T.copy()), out_dtype="int32"))
                    for w in (seven_bit, full)]
            out = bb.emit_output(relax.Tuple(outs))
        bb.emit_func_output(out)
    return bb.get()


@pytest.fixture(scope="module")
def weights():
    rng = np.random.default_rng(0)
    return (rng.integers(-64, 65, (N, K)).astype(np.int8), rng.integers(-128, 128, (N, K)).astype(np.int8))


def _kernels(prepared):
    return {gv.name_hint: f for gv, f in prepared.functions_items() if isinstance(f, tvm.tirx.PrimFunc)}


def test_only_the_call_on_seven_bit_weights_gets_a_marked_copy(weights):
    assert offers_seven_bit_form(AVX2) and not offers_seven_bit_form(VNNI)
    prepared = pipeline.prepare(_two_matmuls(*weights), [], AVX2)
    kernels = _kernels(prepared)
    marked = {name for name, f in kernels.items() if f.attrs and INT8_RANGE in f.attrs}
    assert len(kernels) == 2 and len(marked) == 1, sorted(kernels)
    [name] = marked
    assert "_w7" in name and str(kernels[name].attrs[INT8_RANGE]) == "w7"
    assert weight_params(kernels[name]) == [1]  # the s8 operand is the weight
    # the same kernel on a VNNI CPU (vpdpbusd is exact anyway), and with one more bit of weight
    assert not any(f.attrs and INT8_RANGE in f.attrs for f in _kernels(pipeline.prepare(
        _two_matmuls(*weights), [], VNNI)).values())
    wider = weights[0].copy()
    wider[0, 0] = -65
    assert len(_kernels(pipeline.prepare(_two_matmuls(wider, weights[1]), [], AVX2))) == 1


def test_the_seven_bit_form_is_offered_only_for_the_marked_kernel(weights):
    prepared = pipeline.prepare(_two_matmuls(*weights), [], AVX2)
    for name, func in _kernels(prepared).items():
        mod = tvm.IRModule({"main": func})
        if "_w7" in name:
            assert U7.name in DLBoostRule.for_target(AVX2, mod).candidates
        else:
            assert U7.name not in DLBoostRule.for_target(AVX2, mod).candidates
            with pytest.raises(UnsupportedTargetError, match=U7.name):
                DLBoostRule.for_target(AVX2, mod, intrins=[U7.name])


def test_a_tuned_seven_bit_kernel_is_exact_on_full_range_activations(weights, tmp_path):
    """One trial in a space of the vpmaddubsw form only; activations up to 255."""
    if not runs_here(AVX2):
        pytest.skip("this CPU cannot run AVX2 code")
    prepared = pipeline.prepare(_two_matmuls(*weights), [], AVX2)
    [task] = [t for t in ms.relax_integration.extract_tasks(prepared, AVX2) if "_w7" in t.task_name]
    workload = task.dispatched[0]
    assert str(workload["main"].attrs[INT8_RANGE]) == "w7"
    space = tvm_heron.heron_space(AVX2, rules=[DLBoostRule(intrins=[U7.name]), GenericCpuRule()])
    builder = tvm_heron.PersistentBuilder()
    try:
        with foreign_log_handlers_detached():
            database = ms.tune_tir(workload, AVX2, str(tmp_path / "work"), 1, num_trials_per_iter=1,
                                   space=space, strategy="heron-cga", builder=builder)
    finally:
        builder.shutdown()
    sch = ms.tir_integration.compile_tir(database, workload, AVX2)
    assert sch is not None and U7.name in str(sch.trace)
    # what a model's tuning report names as the task's intrinsic (its plan names the exact form)
    [record] = database.get_all_tuning_records()
    assert _used_intrinsic(record, "planned") == U7.name
    x = np.random.default_rng(1).integers(0, 256, (M, K)).astype(np.uint8)
    x[0] = 255
    out = tvm.runtime.tensor(np.zeros((M, N), np.int32))
    tvm.compile(sch.mod, AVX2).jit()["main"](tvm.runtime.tensor(x), tvm.runtime.tensor(weights[0].T.copy()), out)
    np.testing.assert_array_equal(out.numpy(), x.astype(np.int64) @ weights[0].T.astype(np.int64))
