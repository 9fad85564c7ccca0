"""Element-wise functions of one 8-bit tensor as table lookups (``tvm_heron.relax.lookup``).

A table must equal the chain it replaces on every 8-bit value, exactly; chains
that read a second tensor or a per-channel constant, or are too cheap to be worth
a lookup, stay. In a QDQ model the table of a GELU lands in the epilogue of the
int8 matmul before it, and the tuned kernel still equals ONNX Runtime.
"""

from __future__ import annotations

import numpy as np
import pytest
import tvm
from helpers import HOST, host_intrinsic, quantize_qdq
from tvm import relax
from tvm.s_tir import meta_schedule as ms
from tvm.script import relax as R

import tvm_heron
from tvm_heron.relax import measure, pipeline
from tvm_heron.relax.lookup import tabulate
from tvm_heron.tuning import foreign_log_handlers_detached

op = relax.op
SHAPE = (4, 64)  # 256 elements: every 8-bit value once


def _const(value, dtype="float32", shape=(1, 1)):
    return relax.const(np.full(shape, value, dtype))


def _requantize(bb, x, scale, zero, dtype="uint8"):
    low, high = (0, 255) if dtype == "uint8" else (-128, 127)
    rounded = bb.emit(op.add(op.round(op.divide(x, _const(scale))), _const(zero)))
    return bb.emit(op.astype(op.maximum(op.minimum(rounded, _const(high)), _const(low)), dtype))


def _dequantize(bb, q, scale, zero):
    wide = op.subtract(op.astype(q, "int32"), _const(zero, "int32"))
    return bb.emit(op.multiply(op.astype(wide, "float32"), scale if isinstance(scale, relax.Expr) else _const(scale)))


def _module(kind: str, dtype: str = "uint8") -> tvm.IRModule:
    """``main(q[, r])``: an element-wise chain on ``q`` (8-bit), as a QDQ import leaves it."""
    bb = relax.BlockBuilder()
    q = relax.Var("q", R.Tensor(SHAPE, dtype))
    r = relax.Var("r", R.Tensor(SHAPE, dtype))
    params = [q, r] if kind == "two tensors" else [q]
    with bb.function("main", params):
        with bb.dataflow():
            scale = _const(np.linspace(0.01, 0.05, SHAPE[1]), shape=(1, SHAPE[1])) if kind == "per-channel" else 0.03
            x = _dequantize(bb, q, scale, 3)
            if kind == "two tensors":
                x = bb.emit(op.add(x, _dequantize(bb, r, 0.02, 0)))
            if kind in ("erf", "per-channel", "two tensors"):
                x = bb.emit(op.erf(x))
            if kind == "requantized twice":
                x = _dequantize(bb, _requantize(bb, x, 0.05, 7), 0.05, 7)
                x = bb.emit(op.multiply(x, _const(0.5)))
            out = bb.emit_output(_requantize(bb, x, 1 / 100, 100 if dtype == "uint8" else 0, dtype))
        bb.emit_func_output(out)
    return bb.get()


def _run(mod, inputs):
    prepared = pipeline.prepare(mod, [], HOST)
    return prepared, measure.run_model(pipeline.build(prepared, HOST), HOST, inputs)[0]


@pytest.mark.parametrize("kind,dtype", [("erf", "uint8"), ("erf", "int8"), ("requantized twice", "uint8")])
def test_a_function_of_one_8bit_tensor_becomes_a_table_equal_to_it(kind, dtype):
    """The chain folds into a 256-entry constant: one lookup kernel is left, and it gives the chain's
    own result on every 8-bit value."""
    mod = _module(kind, dtype)
    new, tables = tabulate(mod)
    assert len(tables) == 1 and tables[0].source.name == "q"
    assert tables[0].describe().startswith(f"table lookup {tables[0].var.name}: ")
    low = 0 if dtype == "uint8" else -128
    every = (np.arange(256) + low).astype(dtype).reshape(SHAPE)
    prepared, looked_up = _run(new, [every])
    kernels = [gv.name_hint for gv in prepared.get_global_vars() if gv.name_hint != "main"]
    assert len(kernels) == 1 and kernels[0].startswith("lookup"), kernels  # the chain was folded
    _, computed = _run(mod, [every])
    assert looked_up.dtype == computed.dtype and np.array_equal(looked_up, computed)
    assert len(np.unique(computed)) > 16  # a function worth the check, not a constant


@pytest.mark.parametrize("kind", ["per-channel", "two tensors", "requantize once"])
def test_what_is_not_a_function_of_one_8bit_tensor_or_not_worth_a_table_stays(kind):
    """A per-channel scale makes the value depend on the position, a second tensor on more than 256
    inputs; a single requantize (no transcendental) is cheaper than a gather."""
    mod = _module(kind)
    new, tables = tabulate(mod)
    assert tables == () and new.same_as(mod)


def _qdq_gelu(tmp_path):
    """``gelu(x @ w1 + b1) @ w2 + b2`` as ONNX exports GELU (Div, Erf, Add, Mul, Mul), quantized to QDQ
    by ONNX Runtime."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)

    def tensor(name, value):
        return numpy_helper.from_array(np.asarray(value, np.float32), name)

    node = helper.make_node
    nodes = [node("MatMul", ["x", "w1"], ["m1"]), node("Add", ["m1", "b1"], ["a1"]),
             node("Div", ["a1", "sqrt2"], ["d"]), node("Erf", ["d"], ["e"]), node("Add", ["e", "one"], ["e1"]),
             node("Mul", ["a1", "e1"], ["g2"]), node("Mul", ["g2", "half"], ["g"]),
             node("MatMul", ["g", "w2"], ["m2"]), node("Add", ["m2", "b2"], ["y"])]
    weights = [tensor("w1", rng.standard_normal((32, 64)) * 0.3), tensor("b1", rng.standard_normal(64) * 0.1),
               tensor("w2", rng.standard_normal((64, 32)) * 0.2), tensor("b2", rng.standard_normal(32) * 0.1),
               tensor("sqrt2", np.sqrt(2.0)), tensor("one", 1.0), tensor("half", 0.5)]
    graph = helper.make_graph(nodes, "gelu_mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 32])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "gelu.onnx"))
    batches = [{"x": rng.standard_normal((8, 32)).astype(np.float32)} for _ in range(8)]
    quantize_qdq(tmp_path / "gelu.onnx", tmp_path / "gelu_qdq.onnx", batches)
    return tmp_path / "gelu_qdq.onnx"


def test_a_quantized_gelu_is_a_table_in_the_int8_matmuls_epilogue(tmp_path, monkeypatch):
    """The GELU between two int8 matmuls of a QDQ model: one table, fused into the first matmul's
    kernel (no erf left in any kernel); the model gives the same outputs as without the table, and
    ONNX Runtime's within one quantization step. One trial of Heron's int8 space on that kernel
    builds, runs and still computes it."""
    from tvm_heron.models import import_onnx
    from tvm_heron.relax import qdq
    from tvm_heron.relax.tasks import plan_tasks
    from tvm_heron.relax.tune import compare

    path = _qdq_gelu(tmp_path)
    imported = import_onnx(path, {})
    prepared = pipeline.prepare(imported.mod, [], HOST)
    kernels = [gv.name_hint for gv in prepared.get_global_vars()]
    assert not [k for k in kernels if "erf" in k], kernels
    [fused] = [k for k in kernels if "lookup" in k]
    assert "matmul" in fused, kernels
    outputs = measure.run_model(pipeline.build(prepared, HOST), HOST, imported.inputs)
    assert compare(outputs, imported)["correct"]

    monkeypatch.setattr(qdq, "tabulate", lambda mod: (mod, ()))
    plain = import_onnx(path, {})
    assert "R.erf" in plain.mod.script()
    plain_outputs = measure.run_model(pipeline.build(pipeline.prepare(plain.mod, [], HOST), HOST), HOST,
                                      plain.inputs)
    assert all(np.array_equal(a, b) for a, b in zip(outputs, plain_outputs))

    [task] = [t for t in ms.relax_integration.extract_tasks(prepared, HOST) if t.task_name == fused]
    [plan] = [p for p in plan_tasks([task], HOST) if p.name == fused]
    assert plan.intrinsic == host_intrinsic("int8")
    builder = tvm_heron.PersistentBuilder()
    try:
        with foreign_log_handlers_detached():
            database = ms.tune_tir(task.dispatched[0], HOST, str(tmp_path / "work"), 1, num_trials_per_iter=1,
                                   space=tvm_heron.heron_space(HOST), strategy="heron-cga", builder=builder)
    finally:
        builder.shutdown()
    sch = ms.tir_integration.compile_tir(database, task.dispatched[0], HOST)
    assert sch is not None
    rng = np.random.default_rng(0)
    args = [_random(info, rng) for info in ms.arg_info.ArgInfo.from_entry_func(task.dispatched[0], remove_preproc=False)]
    tuned_args, plain_args = ([tvm.runtime.tensor(a) for a in args] for _ in range(2))
    tvm.compile(sch.mod, HOST).jit()["main"](*tuned_args)
    tvm.compile(task.dispatched[0], HOST).jit()["main"](*plain_args)
    assert np.array_equal(tuned_args[-1].numpy(), plain_args[-1].numpy())


def _random(info, rng):
    shape, dtype = [int(x) for x in info.shape], str(info.dtype)
    if dtype.startswith(("int", "uint")):
        return rng.integers(0, 8, size=shape).astype(dtype)
    return (rng.standard_normal(shape) * 0.01).astype(dtype)
