"""A convolution over an RGB image (3 channels) is padded to the intrinsic depth and tensorized, exactly."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ALL_ISAS, HOST, ISA_IDS, host_intrinsic, isa_target
from tvm import relax
from tvm.s_tir import meta_schedule as ms
from tvm.script import relax as R

from tvm_heron.relax import measure, pipeline
from tvm_heron.relax.channels import padded_channels
from tvm_heron.relax.tasks import DEFAULT, HERON, plan_tasks


def _stem(channels: int, dtype: str, seed: int = 0):
    """``relu(conv2d(x, w))``: NCHW, 7x7 stride 2 pad 3, 16 output channels (a ResNet stem, smaller)."""
    rng = np.random.default_rng(seed)
    if dtype == "int8":
        data_dtype, weight = "uint8", rng.integers(-128, 128, (16, channels, 7, 7)).astype("int8")
        out_dtype = "int32"
    else:
        # no out_dtype, as the ONNX importer writes it
        data_dtype, weight, out_dtype = "float32", rng.standard_normal((16, channels, 7, 7)).astype("float32"), None
    bb = relax.BlockBuilder()
    x = relax.Var("x", R.Tensor((1, channels, 32, 32), data_dtype))
    with bb.function("main", [x]):
        with bb.dataflow():
            conv = bb.emit(relax.op.nn.conv2d(x, relax.const(weight), strides=2, padding=3, out_dtype=out_dtype))
            out = bb.emit_output(relax.op.nn.relu(conv))
        bb.emit_func_output(out)
    data = (rng.integers(0, 256, (1, channels, 32, 32)).astype("uint8") if dtype == "int8"
            else rng.standard_normal((1, channels, 32, 32)).astype("float32"))
    return bb.get(), weight, data


def _reference(data, weight):
    """The stem's output in float64 (exact for the integer case: |sum| < 2**53)."""
    x = np.pad(data.astype(np.float64), [(0, 0), (0, 0), (3, 3), (3, 3)])
    w = weight.astype(np.float64)
    out = np.zeros((1, w.shape[0], 16, 16))
    for i in range(7):
        for j in range(7):
            patch = x[:, :, i:i + 32:2, j:j + 32:2]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return np.maximum(out, 0)


def _conv_plan(prepared, target):
    plans = plan_tasks(ms.relax_integration.extract_tasks(prepared, target), target)
    [conv] = [p for p in plans if "conv2d" in p.name]
    return conv


def test_padded_channels():
    assert padded_channels(3, 4) == 4
    assert padded_channels(6, 4) == 8 and padded_channels(5, 4) == 8
    assert padded_channels(4, 4) is None and padded_channels(64, 4) is None
    assert padded_channels(1, 4) is None  # 4x the multiply-adds: not worth it


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_rgb_convolution_is_padded_tensorized_and_exact(dtype):
    mod, weight, data = _stem(3, dtype)
    prepared = pipeline.prepare(mod, {}, HOST)
    conv = _conv_plan(prepared, HOST)
    assert conv.space == HERON and conv.intrinsic == host_intrinsic(dtype), conv.fallback
    [got] = measure.run_model(pipeline.build(prepared, HOST), HOST, [data])
    expected = _reference(data, weight)
    if dtype == "int8":
        np.testing.assert_array_equal(got, expected.astype(np.int32))
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("description", ALL_ISAS, ids=ISA_IDS)
def test_every_instruction_set_tensorizes_the_padded_convolution(description):
    """Planning only (no build): any host can plan for any instruction set."""
    target = isa_target(description)
    for dtype in ("float32", "int8"):
        if not description.intrinsics_for(dtype):
            continue
        mod, _, _ = _stem(3, dtype)
        conv = _conv_plan(pipeline.prepare(mod, {}, target), target)
        assert conv.space == HERON, (dtype, conv.fallback)


def test_a_single_channel_convolution_is_left_alone():
    mod, _, _ = _stem(1, "float32")
    prepared = pipeline.prepare(mod, {}, HOST)
    assert _conv_plan(prepared, HOST).space == DEFAULT
    assert "pad" not in " ".join(gv.name_hint for gv in prepared.get_global_vars())
