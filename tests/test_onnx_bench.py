"""The ONNX models benchmark: models made in code, QDQ-quantized, compiled, and timed against
ONNX Runtime and OpenVINO (small versions of ResNet-50, BERT-base and MobileNetV2)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import HOST
from tvm.s_tir import meta_schedule as ms

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from tvm_heron.bench.onnx_models import HERON, agreement, run_onnx_models  # noqa: E402
from tvm_heron.bench.onnx_runtimes import open_runtime  # noqa: E402
from tvm_heron.errors import HeronError  # noqa: E402
from tvm_heron.models import import_onnx  # noqa: E402
from tvm_heron.models.onnx_export import ONNX_NETS, example_inputs, onnx_files  # noqa: E402
from tvm_heron.relax import measure, pipeline  # noqa: E402
from tvm_heron.relax.macs import MacShare, kernel_macs, mac_share, task_macs  # noqa: E402
from tvm_heron.relax.tasks import plan_tasks  # noqa: E402
from tvm_heron.relax.tune import TaskResult, compare  # noqa: E402

SMALL = ("resnet50-small", "bert-base-small", "mobilenetv2-small")
DEPTHWISE = "a depthwise or grouped convolution"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """The small models' ONNX files (float and QDQ), made once for the module."""
    root = tmp_path_factory.mktemp("onnx_cache")
    for name in SMALL:
        onnx_files(name, root)
    return root


def test_mobilenetv2_is_torchvisions():
    from tvm_heron.models import nets

    module = nets.MobileNetV2()
    assert sum(p.numel() for p in module.parameters()) == 3_504_872  # torchvision's mobilenet_v2
    depthwise = [m for m in module.modules() if getattr(m, "groups", 1) > 1]
    assert len(depthwise) == 17 and all(m.groups == m.in_channels == m.out_channels for m in depthwise)


@pytest.mark.parametrize("name", SMALL)
def test_small_models_export_quantize_and_run_in_onnxruntime(cache, name):
    files = onnx_files(name, cache)
    assert files.float32.parent == cache and files.int8.name.endswith("-qdq.onnx")
    inputs = example_inputs(name)
    for dtype in ("float32", "int8"):
        model = onnx.load(str(files.path(dtype)))
        onnx.checker.check_model(model)
        shapes = [[d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input]
        assert shapes == [list(s.shape) for s in ONNX_NETS[name].inputs]  # static, batch 1
        [out] = open_runtime("onnxruntime", files.path(dtype), threads=1).run(inputs)
        assert out.shape[0] == 1 and np.isfinite(out).all()
    quantized = onnx.load(str(files.int8))
    ops = {n.op_type for n in quantized.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    # per-channel weights: a weight's DequantizeLinear has a scale per output channel
    scales = {t.name: t for t in quantized.graph.initializer}
    per_channel = [n for n in quantized.graph.node if n.op_type == "DequantizeLinear"
                   and n.input[1] in scales and len(scales[n.input[1]].dims) == 1 and scales[n.input[1]].dims[0] > 1]
    assert per_channel


def test_onnx_files_are_cached_by_content(cache, tmp_path):
    files = onnx_files("mobilenetv2-small", cache)
    stamps = (files.float32.stat().st_mtime_ns, files.int8.stat().st_mtime_ns)
    again = onnx_files("mobilenetv2-small", cache)
    assert again == files and (again.float32.stat().st_mtime_ns, again.int8.stat().st_mtime_ns) == stamps
    other = onnx_files("mobilenetv2-small", tmp_path, seed=1, int8=False)
    assert other.float32.name != files.float32.name and other.int8 is None
    with pytest.raises(HeronError, match="no int8 ONNX file"):
        other.path("int8")
    with pytest.raises(HeronError, match="unknown ONNX network 'alexnet'"):
        onnx_files("alexnet", tmp_path)


def test_mobilenetv2_small_int8_compiles_and_names_its_depthwise_fallback(cache):
    """Integer depthwise convolutions: lowered to u8 x s8 -> s32, not tensorized, and the plan says why;
    the 1x1 convolutions and the classifier get the int8 intrinsic. The model equals ONNX Runtime's."""
    model = import_onnx(onnx_files("mobilenetv2-small", cache).int8)
    prepared = pipeline.prepare(model.mod, model.params, HOST)
    extracted = ms.relax_integration.extract_tasks(prepared, HOST)
    plans = {p.name: p for p in plan_tasks(extracted, HOST)}
    depthwise = [p for p in plans.values() if p.fallback and DEPTHWISE in p.fallback]
    assert len(depthwise) == 3  # one per inverted residual block
    assert all(p.space == "default" and "conv2d" in p.name for p in depthwise)
    # the 3x3 stem over the RGB image (3 channels padded to 4) and the 1x1 convolutions:
    # 16->16; 16->96, 96->32; 32->192, 192->32; 32->64
    assert sum(p.tensorized and "conv2d" in p.name for p in plans.values()) == 7
    outputs = measure.run_model(pipeline.build(prepared, HOST), HOST, model.inputs)
    assert compare(outputs, model)["correct"]
    assert agreement(outputs, model.reference, model.quant_steps[0]).verdict in ("exact", "within one step")
    # multiply-adds (channels x outputs x 3x3 taps): 16 at 16x16; 96 at 8x8 (stride 2); 192 at 8x8
    macs = task_macs(extracted)
    assert sorted(macs[p.name] for p in depthwise) == [16 * 16 * 16 * 9, 96 * 8 * 8 * 9, 192 * 8 * 8 * 9]


def test_mac_share_counts_tensorized_tasks_with_a_record():
    def task(name, weight, space, intrinsic, best):
        return TaskResult(name=name, weight=weight, space=space, strategy="heron-cga", intrinsic=intrinsic,
                          fallback=None, trials=2, valid_trials=2, untuned_latency_s=None, best_latency_s=best)

    int8, fp32 = "heron_dot_16x4_u8s8s32_vnni", "heron_fma_16x4_f32_avx512"
    tasks = [task("a", 2, "heron", int8, 1e-3), task("b", 1, "heron", fp32, 1e-3),
             task("c", 1, "heron", int8, None), task("d", 3, "default", None, 1e-3)]
    share = mac_share(tasks, {"a": 100, "b": 50, "c": 30, "d": 10})
    assert share == MacShare(total=310, int8=200, float32=50)
    assert share.to_json()["tensorized_share"] == pytest.approx(250 / 310)
    assert MacShare.from_json(share.to_json()) == share
    assert MacShare(total=0).share(0) is None


def test_kernel_macs_of_a_matmul():
    import tvm

    from tvm_heron.ops import make_workload

    workload = make_workload("gemm", (8, 32, 16), "float32")
    assert kernel_macs(tvm.IRModule({"main": workload.func})) == 8 * 32 * 16


def test_agreement_verdicts():
    ref = [np.array([0.0, 1.0, 2.0], dtype=np.float32)]
    assert agreement(ref, ref, 0.1).verdict == "exact"
    assert agreement([ref[0] + 0.1], ref, 0.1).verdict == "within one step"
    near = agreement([ref[0] + np.float32(0.25)], ref, 0.1)
    assert near.verdict == "3 steps" and near.max_abs_diff == pytest.approx(0.25)
    assert agreement([ref[0] + 1e-4], ref, None).verdict == "within tolerance"
    assert agreement([ref[0] + 1.0], ref, None).verdict == "outside tolerance"
    assert agreement([ref[0][:2]], ref, None).verdict == "shape mismatch"


def _check_results(out, results, cases):
    data = json.loads((out / "results.json").read_text())
    assert data == json.loads(json.dumps(results))
    assert [(c["model"], c["dtype"]) for c in data["cases"]] == cases
    assert data["settings"]["threads"] == int(HOST.attrs["num-cores"])
    assert {"onnxruntime", "openvino"} <= set(data["versions"])
    for case in data["cases"]:
        expected = {HERON, "onnxruntime", "openvino"} | ({"pytorch"} if case["dtype"] == "float32" else set())
        assert set(case["median_ms"]) == set(case["min_ms"]) == set(case["timing"]) == expected
        assert set(case["speedup"]) == expected - {HERON}
        assert all(case["min_ms"][k] <= case["median_ms"][k] for k in expected)
        assert set(case["agreement"]) == {HERON, "onnxruntime", "openvino"}
        assert case["agreement"][HERON]["verdict"] in ("exact", "within one step", "within tolerance")
        share = case["mac_share"]
        assert share["total"] > 0 and share["int8"] + share["float32"] <= share["total"]
        assert case["tasks"] == len(case["tuning"]["tasks"])
    report = (out / "REPORT.md").read_text()
    assert "| ONNX Runtime | OpenVINO |" in report
    for model, dtype in cases:
        assert f"| {model} | {dtype} |" in report
    assert (out / "onnx_models.png").stat().st_size > 0
    return data


def test_benchmark_without_tuning_writes_its_results(cache, tmp_path):
    """No trials: the untuned build against both runtimes, one short round; the structure of the outputs."""
    pytest.importorskip("openvino")
    results = run_onnx_models(["mobilenetv2-small"], tmp_path, dtypes=["int8"], trials_per_task=0, rounds=1,
                              cache_dir=cache, batch_seconds=0.01, settle_seconds=0.0, target=HOST)
    [case] = _check_results(tmp_path, results, [("mobilenetv2-small", "int8")])["cases"]
    assert case["budget"] == {"trials_per_task": 0, "trials": 0} and case["trials_measured"] == 0
    assert case["mac_share"]["int8"] == 0  # nothing tuned: every kernel unscheduled
    assert case["graph_fallbacks"] and all(f["reason"] for f in case["graph_fallbacks"])


@pytest.mark.slow
def test_benchmark_small_models_tuned(cache, tmp_path):
    """Two trials per task, four in all (one or two tasks tuned), float and int8, PyTorch for float."""
    pytest.importorskip("openvino")
    names = ["resnet50-small", "mobilenetv2-small"]
    results = run_onnx_models(names, tmp_path, trials_per_task=2, max_trials=4, trials_per_round=2,
                              rounds=2, cache_dir=cache, batch_seconds=0.05, settle_seconds=0.0, target=HOST)
    data = _check_results(tmp_path, results, [(n, d) for n in names for d in ("float32", "int8")])
    for case in data["cases"]:
        assert case["budget"] == {"trials_per_task": 2, "trials": 4}
        # the task scheduler stops at the budget, but a round already under way finishes
        assert 0 < case["trials_measured"] <= 4 + 2
        assert case["tuning"]["correct"] is True
    mobilenet = data["cases"][3]
    assert any(DEPTHWISE in (t["fallback"] or "") for t in mobilenet["tuning"]["tasks"])
    # a rerun reads the tuning summaries instead of tuning again
    again = run_onnx_models(names[:1], tmp_path, dtypes=["int8"], trials_per_task=2, max_trials=4,
                            trials_per_round=2, rounds=1, cache_dir=cache, batch_seconds=0.01,
                            settle_seconds=0.0, target=HOST)
    assert again["cases"][0]["tuning_seconds"] == data["cases"][1]["tuning_seconds"]


def test_report_and_runtimes_import_no_tvm():
    """The report and the baselines are plain Python (the package's parent stubbed: it imports TVM)."""
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    script = textwrap.dedent(f"""
        import sys, types
        class Block:
            def find_spec(self, name, *args, **kwargs):
                if name == "tvm" or name.startswith("tvm."):
                    raise ImportError("tvm is blocked")
        sys.meta_path.insert(0, Block())
        pkg = types.ModuleType("tvm_heron")
        pkg.__path__ = [{str(Path(__file__).resolve().parents[1] / "tvm_heron")!r}]
        sys.modules["tvm_heron"] = pkg
        import tvm_heron.bench.onnx_report, tvm_heron.bench.onnx_runtimes
        assert not any(m == "tvm" or m.startswith("tvm.") for m in sys.modules)
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
