"""A user's own model: ONNX (float and QDQ int8) and PyTorch factories, imported, tuned, checked.

The models are made here: a small CNN written with ``onnx.helper`` (a 3x3
convolution, a depthwise one, a strided 1x1, global average pooling, a
classifier and a softmax; the batch dimension is dynamic), and its QDQ
int8 versions from ONNX Runtime's ``quantize_static`` (per-tensor and
per-channel weights, uint8 activations with non-zero zero points).
References are ONNX Runtime's outputs.
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import tvm
import tvm_heron
from helpers import HOST, HOST_ISA, host_intrinsic, quantize_qdq
from tvm.s_tir import meta_schedule as ms

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from tvm_heron import isa  # noqa: E402
from tvm_heron.cli import main as cli_main  # noqa: E402
from tvm_heron.database import open_database  # noqa: E402
from tvm_heron.errors import HeronError  # noqa: E402
from tvm_heron.models import import_onnx, import_torch_factory  # noqa: E402
from tvm_heron.models.onnx_import import (  # noqa: E402
    example_inputs,
    onnxruntime_outputs,
    parse_input_shape,
    static_shapes,
)
from tvm_heron.relax import measure, pipeline  # noqa: E402
from tvm_heron.relax.tune import compare, tune_model  # noqa: E402

INT8, FMA = host_intrinsic("int8"), host_intrinsic("float32")
SHAPE = {"x": (2, 8, 8, 8)}


def tiny_cnn(seed: int = 0):
    """The float model, input ``x: [N, 8, 8, 8]`` (N dynamic), output ``y: [N, 16]`` (softmax)."""
    rng = np.random.default_rng(seed)

    def weight(name, shape, scale):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    node = helper.make_node
    nodes = [
        node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        node("Relu", ["c1"], ["r1"]),
        node("Conv", ["r1", "wd", "bd"], ["c2"], pads=[1, 1, 1, 1], group=16),
        node("Relu", ["c2"], ["r2"]),
        node("Conv", ["r2", "w3", "b3"], ["c3"], strides=[2, 2]),
        node("Relu", ["c3"], ["r3"]),
        node("GlobalAveragePool", ["r3"], ["p"]),
        node("Flatten", ["p"], ["fl"]),
        node("Gemm", ["fl", "w4", "b4"], ["g"], transB=1),
        node("Softmax", ["g"], ["y"], axis=1),
    ]
    weights = [weight("w1", (16, 8, 3, 3), 0.2), weight("b1", (16,), 0.1), weight("wd", (16, 1, 3, 3), 0.3),
               weight("bd", (16,), 0.1), weight("w3", (32, 16, 1, 1), 0.2), weight("b3", (32,), 0.1),
               weight("w4", (16, 32), 0.3), weight("b4", (16,), 0.1)]
    graph = helper.make_graph(nodes, "tiny_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 16])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def quantize(float_path, path, *, per_channel: bool, activations: str = "QUInt8", seed: int = 1):
    """ONNX Runtime's static QDQ quantization (s8 weights), calibrated on normal inputs."""
    rng = np.random.default_rng(seed)
    batches = [{"x": rng.standard_normal((1, 8, 8, 8)).astype(np.float32)} for _ in range(8)]
    return quantize_qdq(float_path, path, batches, per_channel=per_channel, activations=activations)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """``float``, ``per-tensor``, ``per-channel`` (u8 activations) and ``s8-activations`` ONNX files."""
    root = tmp_path_factory.mktemp("onnx")
    float_path = root / "tiny_cnn.onnx"
    onnx.save(tiny_cnn(), str(float_path))
    return {
        "float": float_path,
        "per-tensor": quantize(float_path, root / "tiny_cnn_qdq.onnx", per_channel=False),
        "per-channel": quantize(float_path, root / "tiny_cnn_qdq_pc.onnx", per_channel=True),
        # quantize_static's default: int8 activations too
        "s8-activations": quantize(float_path, root / "tiny_cnn_qdq_s8.onnx", per_channel=True,
                                   activations="QInt8"),
    }


def _with_quantized_outputs(path):
    """The model with every QuantizeLinear output also a graph output (ONNX Runtime then returns them)."""
    model = onnx.load(str(path))
    quantizers = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    zero_points = {t.name: t.data_type for t in model.graph.initializer}
    for node in quantizers:
        model.graph.output.append(helper.make_tensor_value_info(node.output[0], zero_points[node.input[2]], None))
    names = [n.output[0] for n in quantizers]
    return model, names


def test_input_shapes_parse_and_dynamic_dimensions_are_named(files):
    assert parse_input_shape("x=1,3,224,224") == ("x", (1, 3, 224, 224))
    assert parse_input_shape("input.1=2x8") == ("input.1", (2, 8))
    for bad in ("x", "x=a,b", "=1,2", "x=0,3"):
        with pytest.raises(HeronError, match="--input"):
            parse_input_shape(bad)
    model = onnx.load(str(files["float"]))
    assert static_shapes(model, SHAPE) == SHAPE
    with pytest.raises(HeronError, match=r"input 'x' has a dynamic dimension 0 \('N'\).*--input x=1,8,8,8"):
        static_shapes(model)
    with pytest.raises(HeronError, match="dimension 1 is 8 in the model, got 3"):
        static_shapes(model, {"x": (1, 3, 8, 8)})
    with pytest.raises(HeronError, match="names no input of the model: y; inputs: x"):
        static_shapes(model, {"y": (1,)})
    with pytest.raises(HeronError, match="dynamic dimension 0"):
        import_onnx(files["float"])


def test_cli_dynamic_dimension_without_input_exits_2(files, tmp_path, capsys):
    work = str(tmp_path / "w")
    assert cli_main(["tune-model", "--onnx", str(files["float"]), "--trials", "0", "--work-dir", work]) == 2
    err = capsys.readouterr().err
    assert "input 'x' has a dynamic dimension 0 ('N')" in err and "--input x=" in err
    assert cli_main(["tune-model", "--onnx", str(tmp_path / "none.onnx"), "--input", "x=1,8,8,8",
                     "--work-dir", work]) == 2
    assert "no ONNX file" in capsys.readouterr().err
    assert cli_main(["tune-model", "--model", "int8-mlp", "--input", "x=1", "--work-dir", work]) == 2
    assert "--input gives the shapes of an --onnx model" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["per-tensor", "per-channel", "s8-activations"])
def test_qdq_lowering_is_integer_and_equals_onnxruntime(files, kind):
    """Every quantized tensor equals ONNX Runtime's exactly; the float softmax within one step."""
    model, names = _with_quantized_outputs(files[kind])
    imported = import_onnx(model, SHAPE, name=kind)
    built = pipeline.build(pipeline.prepare(imported.mod, [], HOST), HOST)
    for seed in (0, 1, 2):
        inputs = example_inputs(model, SHAPE, seed)
        outputs, expected = measure.run_model(built, HOST, inputs), onnxruntime_outputs(model, inputs)
        quantized = dict(zip(names, outputs[1:]))
        reference = dict(zip(names, expected[1:]))
        # the last one is the softmax's (float, below): every other is integer arithmetic
        for name in names[:-1]:
            assert np.array_equal(quantized[name], reference[name]), (seed, name)
        step = imported.quant_steps[0]
        assert np.abs(outputs[0] - expected[0]).max() <= step * (1 + 1e-5)
        assert np.abs(quantized[names[-1]].astype(int) - reference[names[-1]]).max() <= 1
        assert quantized[names[-1]].dtype == (np.int8 if kind == "s8-activations" else np.uint8)
    assert imported.dtype == "int8" and step == pytest.approx(1 / 255)
    script = imported.mod.script()
    assert script.count('out_dtype="int32"') == 4  # three convolutions and the classifier
    assert "R.nn.softmax" in script  # in float, on an element-wise dequantize: no relax.(de)quantize
    assert "R.dequantize" not in script and "R.quantize" not in script  # is left to block NHWC
    assert "R.nn.conv2d" in script and "float32" not in script.split("R.nn.conv2d")[1].split("\n")[0]
    [fallback] = imported.fallbacks
    assert fallback.op == "nn.softmax" and "no integer form" in fallback.reason


def _qdq_mlp(tmp_path, blocks: int = 1):
    """``blocks`` residual blocks ``x + (relu(x @ w1 + b1) @ w2 + b2)`` (their own weights, so their own
    calibrated scales), quantized to QDQ with per-channel weights; every quantized tensor an output."""
    rng = np.random.default_rng(0)

    def weight(name, shape, scale):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    node = helper.make_node
    nodes, weights, x = [], [], "x"
    for i in range(blocks):
        nodes += [node("MatMul", [x, f"w1_{i}"], [f"m1_{i}"]), node("Add", [f"m1_{i}", f"b1_{i}"], [f"a1_{i}"]),
                  node("Relu", [f"a1_{i}"], [f"r1_{i}"]), node("MatMul", [f"r1_{i}", f"w2_{i}"], [f"m2_{i}"]),
                  node("Add", [f"m2_{i}", f"b2_{i}"], [f"a2_{i}"]), node("Add", [f"a2_{i}", x], [f"y{i}"])]
        weights += [weight(f"w1_{i}", (32, 64), 0.2), weight(f"b1_{i}", (64,), 0.1),
                    weight(f"w2_{i}", (64, 32), 0.15 * (i + 1)), weight(f"b2_{i}", (32,), 0.1)]
        x = f"y{i}"
    nodes[-1].output[0] = "y"
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 32])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "mlp.onnx"))
    batches = [{"x": rng.standard_normal((4, 32)).astype(np.float32)} for _ in range(8)]
    quantize_qdq(tmp_path / "mlp.onnx", tmp_path / "mlp_qdq.onnx", batches)
    quantized, _ = _with_quantized_outputs(tmp_path / "mlp_qdq.onnx")
    return quantized


def _equal_onnxruntime(model, imported, prepared):
    """Every quantized output equals ONNX Runtime's fused (integer) one; the whole is ``correct``."""
    outputs = measure.run_model(pipeline.build(prepared, HOST), HOST, imported.inputs)
    for out, ref in zip(outputs[1:], onnxruntime_outputs(model, imported.inputs)[1:]):
        assert np.array_equal(out, ref)
    assert compare(outputs, imported)["correct"]


def test_qdq_matmuls_with_bias_and_residual_adds(tmp_path):
    """ONNX MatMul + Add (not Gemm): the matmuls are integer and tensorizable, the adds stay float and
    are reported; every quantized tensor still equals ONNX Runtime's."""
    from tvm_heron.relax.tasks import plan_tasks

    model = _qdq_mlp(tmp_path)
    imported = import_onnx(model, {"x": (4, 32)})
    assert [f.op for f in imported.fallbacks] == ["add"] * 3
    assert all("an add of two tensors" in f.reason for f in imported.fallbacks)
    prepared = pipeline.prepare(imported.mod, [], HOST)
    _equal_onnxruntime(model, imported, prepared)
    plans = plan_tasks(ms.relax_integration.extract_tasks(prepared, HOST), HOST)
    assert sum(p.intrinsic == INT8 for p in plans if "matmul" in p.name) == 2


def test_layers_that_differ_only_in_their_scales_share_their_kernels(tmp_path):
    """Three blocks alike but for their weights and calibrated scales: one tuning task per kernel,
    called three times (a scale or zero point written into a kernel as an immediate would make
    a task per layer), and every quantized tensor still equals ONNX Runtime's."""
    model = _qdq_mlp(tmp_path, blocks=3)
    scales = {n.input[1] for n in model.graph.node if n.op_type == "QuantizeLinear"}
    values = {float(numpy_helper.to_array(t)) for t in model.graph.initializer if t.name in scales}
    assert len(values) >= 6  # the blocks' activation scales differ
    imported = import_onnx(model, {"x": (4, 32)})
    prepared = pipeline.prepare(imported.mod, [], HOST)
    _equal_onnxruntime(model, imported, prepared)
    tasks = ms.relax_integration.extract_tasks(prepared, HOST)
    matmuls = [t for t in tasks if "matmul" in t.task_name]
    assert len(matmuls) == 2 and [int(t.weight) for t in matmuls] == [3, 3], [t.task_name for t in tasks]


def test_qdq_model_tuned_end_to_end(files, tmp_path):
    """Per-channel QDQ model, a few trials: its int8 convolutions and matmul get Heron's space with the
    host's int8 intrinsic; the depthwise convolution is integer but not tensorized, and says why."""
    model = import_onnx(files["per-channel"], SHAPE)
    # one trial per task (8 tasks): the task scheduler's first rounds visit every task once
    result = tune_model(model, target=HOST, work_dir=tmp_path, trials=8, trials_per_round=1, seed=1,
                        measure_untuned=False, repeat=2)
    assert result.correct is True and result.max_abs_error <= model.quant_steps[0] * (1 + 1e-5)
    int8 = [t for t in result.tasks if t.tensorized]
    # the test files' weights are 7-bit: without VNNI the vpmaddubsw form is offered too
    offered = {i.name for i in HOST_ISA.intrinsics_for("int8", isa.InputRange.W7)}
    assert len(int8) == 3 and all(t.intrinsic in offered for t in int8), [t.intrinsic for t in int8]
    tuned = next(t for t in int8 if t.valid_trials > 0)
    # its best program runs the host's int8 dot-product instruction
    prepared = pipeline.prepare(model.mod, model.params, HOST)
    task = next(t for t in ms.relax_integration.extract_tasks(prepared, HOST) if t.task_name == tuned.name)
    sch = ms.tir_integration.compile_tir(open_database(tmp_path, target=HOST), task.dispatched[0], HOST)
    assert isa.intrinsic(tuned.intrinsic).instruction in tvm.compile(sch.mod, HOST).mod.inspect_source("asm")
    depthwise = [t for t in result.tasks if "conv2d" in t.name and not t.tensorized]
    assert len(depthwise) == 1 and "a depthwise or grouped convolution" in depthwise[0].fallback
    assert [f.op for f in result.graph_fallbacks] == ["nn.softmax"]
    data = json.loads(json.dumps(result.to_json()))
    assert data["graph_fallbacks"][0]["op"] == "nn.softmax" and data["tensorized_tasks"] == 3


@pytest.mark.slow  # the default run tunes the QDQ model; this one the float path
def test_float_onnx_model_tuned_end_to_end(files, tmp_path, capsys):
    """Float model through the CLI, a few trials: it matches ONNX Runtime; the depthwise convolution and
    the softmax are not tensorized and the run names them."""
    out = tmp_path / "r.json"
    code = cli_main(["tune-model", "--onnx", str(files["float"]), "--input", "x=2,8,8,8", "--trials", "4",
                     "--trials-per-round", "4", "--seed", "1", "--work-dir", str(tmp_path / "w"),
                     "--json", str(out), "--no-untuned"])
    text = capsys.readouterr().out
    assert code == 0 and "PASS" in text and "Model tiny_cnn, latency" in text, text
    data = json.loads(out.read_text())
    tasks = {t["name"]: t for t in data["tasks"]}
    assert data["correct"] and data["graph_fallbacks"] == []
    tensorized = [t for t in tasks.values() if t["space"] == "heron"]
    assert tensorized and all(t["intrinsic"] == FMA for t in tensorized)
    assert sum(t["trials"] for t in tasks.values()) == 4
    softmax = next(t for n, t in tasks.items() if "softmax" in n)
    assert softmax["space"] == "default" and "no multiply-accumulate block" in softmax["fallback"]
    assert f"fallback {softmax['name']}: " in text
    assert any("conv2d" in n and t["space"] == "default" for n, t in tasks.items())  # the depthwise one


def test_torch_factory_through_the_cli(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    (tmp_path / "user_net.py").write_text(textwrap.dedent("""
        import torch

        def make():
            net = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 16))
            return net, (torch.randn(2, 32),)

        def broken():
            return 3
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    model = import_torch_factory("user_net:make", seed=0)
    assert model.name == "make" and model.inputs[0].shape == (2, 32) and model.reference[0].shape == (2, 16)
    outputs = measure.run_model(pipeline.build(pipeline.prepare(model.mod, model.params, HOST), HOST), HOST,
                                model.inputs)
    assert compare(outputs, model)["correct"]
    code = cli_main(["tune-model", "--torch", "user_net:make", "--trials", "0", "--no-untuned",
                     "--work-dir", str(tmp_path / "w")])
    assert code == 0 and "PASS" in capsys.readouterr().out
    for spec, message in (("user_net:broken", "must return \\(nn.Module, example inputs\\)"),
                          ("user_net:nope", "has no 'nope'"), ("no_such_module:make", "cannot import"),
                          ("user_net", "MODULE:FACTORY")):
        with pytest.raises(HeronError, match=message):
            import_torch_factory(spec)
    assert cli_main(["tune-model", "--torch", "user_net:nope", "--work-dir", str(tmp_path / "w")]) == 2


def _qdq_attention(tmp_path):
    """``(q k^T) v`` of three projections of ``x`` (two heads; no softmax, which stays float and
    would round differently), QDQ-quantized: the matmuls ``q k^T`` and ``s v`` multiply two
    activations; every quantized tensor an output."""
    rng = np.random.default_rng(3)
    node = helper.make_node
    nodes = [node("MatMul", ["x", f"w{n}"], [n]) for n in "qkv"]
    nodes += [node("Reshape", [n, "heads"], [f"{n}h"]) for n in "qkv"]
    nodes += [node("Transpose", ["qh"], ["qt"], perm=[0, 2, 1, 3]), node("Transpose", ["kh"], ["kt"], perm=[0, 2, 3, 1]),
              node("Transpose", ["vh"], ["vt"], perm=[0, 2, 1, 3]), node("MatMul", ["qt", "kt"], ["s"]),
              node("MatMul", ["s", "vt"], ["o"]),
              node("Transpose", ["o"], ["y"], perm=[0, 2, 1, 3])]
    weights = [numpy_helper.from_array((rng.standard_normal((32, 32)) * 0.3).astype(np.float32), f"w{n}")
               for n in "qkv"]
    weights.append(numpy_helper.from_array(np.array([1, 16, 2, 16], np.int64), "heads"))
    graph = helper.make_graph(nodes, "attention", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 2, 16])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "attention.onnx"))
    batches = [{"x": rng.standard_normal((1, 16, 32)).astype(np.float32)} for _ in range(8)]
    quantize_qdq(tmp_path / "attention.onnx", tmp_path / "attention_qdq.onnx", batches)
    quantized, _ = _with_quantized_outputs(tmp_path / "attention_qdq.onnx")
    return quantized


def test_qdq_matmuls_of_two_activations_are_integer_and_equal_onnxruntime(tmp_path):
    """Attention's ``q k^T`` and ``s v``: integer matmuls (the second operand shifted to s8, the zero
    points as row and column sums) on the host's int8 intrinsic; every quantized tensor equals
    ONNX Runtime's; nothing stays float."""
    from tvm_heron.relax.tasks import plan_tasks

    model = _qdq_attention(tmp_path)
    imported = import_onnx(model, {})
    assert imported.fallbacks == (), imported.fallbacks
    script = imported.mod.script()
    assert script.count('out_dtype="int32"') == 5  # three projections, two products
    prepared = pipeline.prepare(imported.mod, [], HOST)
    _equal_onnxruntime(model, imported, prepared)
    plans = plan_tasks(ms.relax_integration.extract_tasks(prepared, HOST), HOST)
    matmuls = [p for p in plans if "matmul" in p.name]
    # the projections share a kernel, and so do the two products (of one shape here)
    assert sorted(p.weight for p in matmuls) == [2, 3]
    assert all(p.intrinsic == INT8 for p in matmuls), [(p.name, p.fallback) for p in matmuls]
    # the zero points' terms come finished from their reductions' kernels: the product's kernel is
    # the packing of its second operand, the tensorized block and the write-back with the epilogue
    [product] = [p for p in matmuls if p.weight == 2]
    ctx = ms.TuneContext(mod=product.mod, target=HOST, space_generator=tvm_heron.heron_space(HOST),
                         task_name="product", num_threads=2)
    for sch in ctx.generate_design_space():
        assert len(sch.get_child_blocks(sch.get_sblock("root"))) == 3, sch.mod.script()
