"""Whole-model tuning through Relax: models, the prepare/build pipeline, task plans, end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import HOST, HOST_ISA, asm_of, host_intrinsic
from tvm.s_tir import meta_schedule as ms

from tvm_heron.cli import main as cli_main
from tvm_heron.database import open_database
from tvm_heron.errors import HeronError, UnanalyzableSpaceError
from tvm_heron.models import MODELS, load_model
from tvm_heron.relax import measure, pipeline
from tvm_heron.space import usable as space_usable
from tvm_heron.relax.tasks import DEFAULT, HERON, plan_tasks
from tvm_heron.relax.tune import compare, tune_model

#: The host's intrinsics (VNNI and the AVX-512 FMA on a VNNI CPU, the AVX2 forms on AVX2).
INT8 = host_intrinsic("int8")
FMA = host_intrinsic("float32")


def _prepared(name):
    model = load_model(name)
    prepared = pipeline.prepare(model.mod, model.params, HOST)
    return model, prepared


def test_registry_and_bad_names():
    assert {"resnet50", "bert-base", "vgg16", "inception-v3"} <= set(MODELS)
    with pytest.raises(HeronError, match="unknown model 'alexnet'"):
        load_model("alexnet")
    with pytest.raises(HeronError, match="batch must be positive"):
        load_model("int8-mlp", batch=0)


def test_paper_models_are_the_standard_architectures():
    """Parameter counts of the standard networks (torchvision / HF BERT without pooler)."""
    import torch

    from tvm_heron.models import nets

    def count(module):
        return sum(p.numel() for p in module.parameters())

    assert count(nets.ResNet()) == 25_557_032
    assert count(nets.VGG()) == 138_357_544
    # torchvision's Inception-v3 has 27,161,264 with its auxiliary classifier; without it:
    assert count(nets.InceptionV3()) == 23_834_568
    # BERT-base encoder: 108,891,648 parameters without the pooler's 590,592.
    assert count(nets.BertEncoder()) == 109_482_240 - 590_592
    out = nets.BertEncoder(layers=1, hidden=64, heads=4, intermediate=128, vocab=100)(
        torch.zeros(2, 8, dtype=torch.long)
    )
    assert out.shape == (2, 8, 64)


@pytest.mark.parametrize("name", ["int8-mlp", "int8-cnn"])
def test_quantized_models_untuned_equal_their_reference(name):
    """The integer arithmetic of the Relax model and of its numpy reference agree exactly."""
    model, prepared = _prepared(name)
    assert model.exact and model.dtype == "int8"
    outputs = measure.run_model(pipeline.build(prepared, HOST), HOST, model.inputs)
    assert compare(outputs, model) == {"correct": True, "max_abs_error": 0.0}
    assert model.reference[0].dtype == np.int32 and np.abs(model.reference[0]).max() > 0


def test_float_model_untuned_matches_pytorch():
    model, prepared = _prepared("small-cnn")
    outputs = measure.run_model(pipeline.build(prepared, HOST), HOST, model.inputs)
    result = compare(outputs, model)
    assert result["correct"], result
    # CPU convolutions are NHWC after prepare (the channel is the innermost axis).
    assert "conv2d_nhwc" in prepared.script()
    wrong = [o + 1.0 for o in outputs]
    assert not compare(wrong, model)["correct"]


def _math_reference(name, x):
    import math

    erf = np.vectorize(math.erf)
    sigmoid = 1 / (1 + np.exp(-x))
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return {"exp": np.exp(x), "erf": erf(x), "tanh": np.tanh(x), "sigmoid": sigmoid, "silu": x * sigmoid,
            "gelu": x * 0.5 * (1 + erf(x / math.sqrt(2)))}[name]


@pytest.mark.parametrize("name", ["exp", "erf", "tanh", "sigmoid", "silu", "gelu", "softmax"])
def test_transcendental_functions_become_vectorising_polynomials(name):
    """No libm call per element in the built kernels (it would scalarise the loop around it: an
    exported GELU arrives as Erf, attention as softmax); the values are within float32 error."""
    from tvm import relax
    from tvm.script import relax as R

    ops = {"exp": relax.op.exp, "erf": relax.op.erf, "tanh": relax.op.tanh, "sigmoid": relax.op.sigmoid,
           "silu": relax.op.nn.silu, "gelu": relax.op.nn.gelu, "softmax": relax.op.nn.softmax}
    bb = relax.BlockBuilder()
    x = relax.Var("x", R.Tensor((4, 64), "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            out = bb.emit_output(ops[name](x))
        bb.emit_func_output(out)
    executable = pipeline.build(pipeline.prepare(bb.get(), {}, HOST), HOST)
    code = asm_of(executable)
    assert "vfmadd" in code or "fmla" in code  # the polynomial, vectorised
    assert not [f for f in ("expf", "erff", "tanhf") if f + "@" in code or f"call\t{f}" in code], name
    data = np.linspace(-6, 6, 256, dtype="float32").reshape(4, 64)
    [got] = measure.run_model(executable, HOST, [data])
    expected = _math_reference(name, data.astype("float64"))
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=2e-6)


def test_a_gather_is_planned_untuned_and_left_out_of_the_tuning(monkeypatch, tmp_path):
    """An embedding's take reads at indices it loads: MetaSchedule's random inputs would crash its
    measurement, so its plan says why it is not tuned and the task scheduler never gets it."""
    from tvm import relax
    from tvm.script import relax as R

    from tvm_heron.relax import tune as relax_tune

    bb = relax.BlockBuilder()
    ids = relax.Var("ids", R.Tensor((1, 16), "int64"))
    with bb.function("main", [ids]):
        with bb.dataflow():
            table = relax.const(np.ones((100, 32), "float32"))
            emb = bb.emit(relax.op.take(table, ids, axis=0))
            out = bb.emit_output(relax.op.matmul(emb, relax.const(np.ones((32, 64), "float32"))))
        bb.emit_func_output(out)
    prepared = pipeline.prepare(bb.get(), {}, HOST)
    plans = {p.name: p for p in plan_tasks(ms.relax_integration.extract_tasks(prepared, HOST), HOST)}
    take = next(p for name, p in plans.items() if "take" in name)
    assert not take.tuned and "a gather" in take.fallback
    assert all(p.tuned for p in plans.values() if p is not take)
    given = []
    monkeypatch.setattr(ms.tune, "tune_tasks", lambda tasks, **_: given.extend(t.task_name for t in tasks))
    relax_tune._tune(list(plans.values()), HOST, tmp_path, None, 8, 4, None, 0, None, 30.0)
    assert sorted(given) == sorted(name for name, p in plans.items() if p.tuned)


def test_plan_tensorizes_convs_and_falls_back_elsewhere(monkeypatch):
    model, prepared = _prepared("small-cnn")
    extracted = ms.relax_integration.extract_tasks(prepared, HOST)
    plans = {p.name: p for p in plan_tasks(extracted, HOST)}
    convs = [p for n, p in plans.items() if "conv2d" in n]
    assert convs and all(p.space == HERON and p.intrinsic == FMA and p.fallback is None for p in convs)
    # a 64 -> 10 classifier cannot be tiled by 16 lanes: MetaSchedule's default space
    fc = next(p for n, p in plans.items() if "matmul" in n)
    assert fc.space == DEFAULT and "does not tile into the" in fc.fallback and HOST_ISA.title in fc.fallback
    baseline = plan_tasks(extracted, HOST, space=DEFAULT, strategy="evolutionary")
    # a space heron-cga cannot read at all is searched by MetaSchedule's evolutionary search
    with monkeypatch.context() as patch:
        def unreadable(*_args, **_kwargs):
            raise UnanalyzableSpaceError("cannot interpret the trace: test")

        patch.setattr(space_usable, "analyze", unreadable)
        unread = plan_tasks(extracted[:1], HOST)
    assert unread[0].strategy == "evolutionary"
    assert "heron-cga cannot search it" in unread[0].fallback and "no design space" in unread[0].fallback
    assert all(p.space == DEFAULT and p.strategy == "evolutionary" and not p.fallback for p in baseline)
    with pytest.raises(HeronError, match="space must be"):
        plan_tasks(extracted, HOST, space="other")


@pytest.mark.slow  # the Relax int8 path's default-run tuning: test_onnx_models' QDQ model
def test_int8_model_tuned_end_to_end_is_exact(tmp_path):
    """A small budget over three int8 tasks (the host's intrinsic); the model equals the numpy reference."""
    model = load_model("int8-mlp")
    result = tune_model(model, target=HOST, work_dir=tmp_path, trials=16, seed=1, repeat=2)
    assert result.correct is True and result.max_abs_error == 0.0
    assert len(result.tasks) == 3 and all(t.tensorized and t.intrinsic == INT8 for t in result.tasks)
    assert 0 < sum(t.trials for t in result.tasks) <= 16
    tuned = [t for t in result.tasks if t.best_latency_s is not None]
    assert tuned and all(t.valid_trials == t.trials for t in tuned)
    assert result.latency_s > 0 and result.untuned_latency_s > 0
    # the best kernel of a tuned task is tensorized with the host's int8 instruction
    database = open_database(tmp_path, target=HOST)
    prepared = pipeline.prepare(model.mod, model.params, HOST)
    task = next(t for t in ms.relax_integration.extract_tasks(prepared, HOST) if t.task_name == tuned[0].name)
    sch = ms.tir_integration.compile_tir(database, task.dispatched[0], HOST)
    import tvm

    assert HOST_ISA.intrinsics_for("int8")[0].instruction in tvm.compile(sch.mod, HOST).mod.inspect_source("asm")
    # the tuned kernels take weights packed once at build time, not in every call
    applied = pipeline.apply_database(prepared, HOST, database)
    names = [gv.name_hint for gv in applied.functions]
    assert any(n.endswith("_prepacked") for n in names), names
    assert not any(n.endswith("_weight_prepack") for n in names), names
    # a rerun resumes from the database: no new trials, same result
    again = tune_model(model, target=HOST, work_dir=tmp_path, trials=0, measure_untuned=False, repeat=2)
    assert again.correct and sum(t.trials for t in again.tasks) == 0
    assert [t.best_latency_s for t in again.tasks] == [t.best_latency_s for t in result.tasks]


@pytest.mark.slow
def test_float_model_with_unsupported_kernels_compiles_and_reports_fallbacks(tmp_path):
    """bert-tiny: matmuls are tensorized; softmax, layer norm, reshapes fall back, and say so."""
    model = load_model("bert-tiny")
    result = tune_model(model, target=HOST, work_dir=tmp_path, trials=16, seed=3, measure_untuned=False, repeat=2)
    assert result.correct, result.max_abs_error
    by_name = {t.name: t for t in result.tasks}
    assert any(t.tensorized and t.intrinsic == FMA and "matmul" in t.name for t in result.tasks)
    norm = next(t for n, t in by_name.items() if "layer_norm" in n)
    assert not norm.tensorized and norm.fallback
    # MetaSchedule's random compute locations leave some of softmax's design spaces
    # unreadable; heron-cga searches the others.
    softmax = next(t for n, t in by_name.items() if "softmax" in n)
    assert not softmax.tensorized and softmax.strategy == "heron-cga" and softmax.fallback
    untuned = [t for t in result.tasks if t.best_latency_s is None]
    assert all("untuned" in t.fallback for t in untuned)
    assert "| task | calls | space |" in result.table()
    data = result.to_json()
    assert data["tensorized_tasks"] == sum(t.tensorized for t in result.tasks)
    json.dumps(data)


@pytest.mark.slow
def test_cli_tune_model(tmp_path, capsys):
    out = tmp_path / "r.json"
    code = cli_main(["tune-model", "--model", "int8-cnn", "--trials", "8", "--work-dir", str(tmp_path / "w"),
                     "--seed", "2", "--json", str(out), "--no-untuned"])
    text = capsys.readouterr().out
    assert code == 0 and "PASS" in text and "Model int8-cnn, latency" in text
    assert json.loads(out.read_text())["correct"] is True
    assert cli_main(["tune-model", "--model", "nope", "--trials", "0"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_cuda_model_builds_with_tensorcore_kernels_without_a_gpu(capsys):
    """bert-tiny for an A100 (fp16 via ToMixedPrecision): its matmuls get wmma programs."""
    import tvm

    from tvm_heron.relax.verify import build_sampled, cuda_source

    target = tvm.target.Target("nvidia/nvidia-a100")
    check = build_sampled(load_model("bert-tiny"), target, seed=0)
    assert not check.failed
    tensorized = [p.name for p in check.plans if p.space == HERON]
    assert len(tensorized) == 4 and set(check.sampled) == set(tensorized)
    assert all(p.intrinsic == "wmma" for p in check.plans if p.space == HERON)
    assert cuda_source(check.executable).count("mma_sync") >= len(tensorized)
    if not tvm.cuda(0).exist:
        with pytest.raises(HeronError, match="no CUDA device"):
            tune_model(load_model("bert-tiny"), target=target, work_dir="unused", trials=4)


def test_a_model_is_tuned_with_its_weights_out_of_the_caches(monkeypatch, tmp_path):
    """By default each kernel is measured cold (one call after flushing all but its first argument,
    as in the model's forward pass); ``cold_weights=False`` is MetaSchedule's warm default, and a
    given runner is used as it is."""
    from tvm_heron.relax import tune as relax_tune

    runner = measure.cold_weights_runner()
    config = runner.evaluator_config
    assert config.enable_cpu_cache_flush and config.number == 1 and config.min_repeat_ms == 0
    used = []
    monkeypatch.setattr(relax_tune, "_tune", lambda *args: used.append(args[8]))
    model = load_model("int8-mlp")
    mine = ms.runner.LocalRunner()
    for options in ({}, {"cold_weights": False}, {"runner": mine}):
        tune_model(model, target=HOST, work_dir=tmp_path, trials=4, measure_untuned=False, check=False,
                   repeat=1, **options)
    cold, warm, given = used
    assert isinstance(cold, ms.runner.LocalRunner) and cold.evaluator_config.enable_cpu_cache_flush
    assert warm is None and given is mine
