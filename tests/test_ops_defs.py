"""Operator definitions, unscheduled: every op x dtype x layout builds and matches numpy.

Shapes are tiny (an unscheduled TVM kernel is a naive loop nest) and chosen to
exercise strides, dilation, padding and channel counts that are not multiples
of the weight tile (the zero-padding and crop path).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tvm
from tvm.s_tir import Schedule

from tvm_heron.errors import InvalidShapeError, UnsupportedDtypeError, UnsupportedOperatorError
from tvm_heron.ops import (
    FIELDS,
    PACK,
    make_workload,
    oihw_to_ohwi,
    pack_conv_weight,
    pack_weight,
    requant_params,
    transposed_conv_weight,
)
from tvm_heron.ops.conv import conv_reference
from tvm_heron.ops.transposed import (
    conv_transpose_out_size,
    conv_transpose_reference,
    dimension_phases,
)

#: (op, shape): tiny, with padding paths (K % 4, N % 16, CI % 4, CO % 16 != 0).
SHAPES = [
    ("gemm", (3, 8, 16)),
    ("gemm", (4, 7, 20)),
    ("bmm", (2, 3, 6, 18)),
    ("gemv", (20, 10)),
    ("scan", (4, 18, 9)),
    ("c1d", (1, 9, 3, 5, 3, 2, 1, 2)),
    ("c2d", (1, 5, 5, 6, 18, 3, 3, 2, 1, 1)),
    ("c2d", (1, 4, 4, 8, 16, 1, 1, 1, 0, 1)),
    ("dil", (1, 6, 6, 4, 16, 3, 3, 1, 2, 2)),
    ("c3d", (1, 3, 4, 4, 3, 17, 2, 3, 2, 2, 1, 1)),
    ("t2d", (1, 3, 3, 3, 5, 3, 3, 2, 1, 1, 1)),
    ("t2d", (1, 3, 4, 4, 16, 3, 2, 1, 2, 2, 1)),
]
CONV_SHAPES = [(op, shape) for op, shape in SHAPES if op in ("c1d", "c2d", "c3d", "t2d")]


def _run(workload, seed=0):
    """Build the unscheduled kernel, run it on ``make_inputs``; returns (output, logical)."""
    executable = tvm.compile(tvm.IRModule({"main": workload.func}), target="llvm")
    args, logical = workload.make_inputs(np.random.default_rng(seed))
    tensors = [tvm.runtime.tensor(a, tvm.cpu()) for a in args]
    executable.jit()["main"](*tensors)
    return tensors[-1].numpy(), logical


def _assert_correct(workload):
    out, logical = _run(workload)
    correct, error = workload.check(out, logical)
    assert correct, f"{workload.name}: max error {error}"
    return out


def _stages(workload) -> list[str]:
    sch = Schedule(tvm.IRModule({"main": workload.func}))
    return [sch.get(b).name_hint for b in sch.get_child_blocks(sch.get_sblock("root"))]


@pytest.mark.parametrize("layout", ["packed", "plain"])
@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("op, shape", SHAPES)
def test_definition_matches_reference(op, shape, dtype, layout):
    workload = make_workload(op, shape, dtype, layout=layout)
    assert workload.exact == (dtype == "int8")
    _assert_correct(workload)


@pytest.mark.parametrize(
    "dtype, epilogue, layout",
    [
        ("int8", "bias_relu", "packed"),
        ("int8", "requant", "packed"),
        ("float32", "bias_relu", "packed"),
        ("int8", "requant", "plain"),
    ],
)
@pytest.mark.parametrize("op, shape", SHAPES)
def test_epilogues_match_reference(op, shape, dtype, epilogue, layout):
    workload = make_workload(op, shape, dtype, layout=layout, epilogue=epilogue)
    out = _assert_correct(workload)
    accumulator = "int32" if dtype == "int8" else "float32"
    assert out.dtype == ("uint8" if epilogue == "requant" else accumulator)
    assert len(np.unique(out)) > 2, "the epilogue output is (nearly) constant"
    args, logical = workload.make_inputs(np.random.default_rng(0))
    assert len(args) == 4 and len(logical) == 3  # A, W, bias, out
    channels = out.shape[-1]
    assert args[2].shape == (channels,) and args[2].dtype == accumulator


@pytest.mark.parametrize("layout", ["packed", "plain"])
@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("op, shape", CONV_SHAPES)
def test_channel_first_activations(op, shape, dtype, layout):
    workload = make_workload(op, shape, dtype, layout=layout, data_layout="NCHW")
    args, _ = workload.make_inputs(np.random.default_rng(0))
    ci = shape[FIELDS[op].index("CI")]
    assert args[0].shape[1] == ci  # channel-first input
    assert args[-1].shape[-1] == shape[FIELDS[op].index("CO")]  # channel-last output
    assert workload.data_layout.startswith("NC") and "_nc" in workload.name
    assert workload.data_layout == {"c1d": "NCL", "c2d": "NCHW", "c3d": "NCDHW", "t2d": "NCHW"}[op]
    _assert_correct(workload)


def test_stages_and_arguments_of_the_padding_path():
    workload = make_workload("c2d", (1, 5, 5, 6, 18, 3, 3, 2, 1, 1), "int8", epilogue="requant")
    assert _stages(workload) == ["pad", "C", "crop", "bias_add", "requantize"]
    args, _ = workload.make_inputs(np.random.default_rng(0))
    assert [a.shape for a in args] == [(1, 5, 5, 6), (2, 3, 3, 2, 16, 4), (18,), (1, 3, 3, 18)]
    assert [a.dtype for a in args] == [np.uint8, np.int8, np.int32, np.uint8]
    gemm = make_workload("gemm", (4, 7, 20), "float32", epilogue="bias_relu")
    assert _stages(gemm) == ["C", "crop", "bias_add", "relu"]  # depth 1: K needs no padding
    assert make_workload("gemm", (4, 7, 20), "int8").func.params[1].name == "B_packed"
    assert _stages(make_workload("gemm", (4, 7, 20), "int8")) == ["pad", "C", "crop"]
    assert _stages(make_workload("gemm", (4, 8, 32), "int8")) == ["C"]
    assert _stages(make_workload("c2d", (1, 4, 4, 8, 16, 1, 1, 1, 0, 1), "int8")) == ["C"]
    nchw = make_workload("c2d", (1, 4, 4, 8, 16, 1, 1, 1, 0, 1), "int8", data_layout="NCHW")
    assert _stages(nchw) == ["pad", "C"]
    t2d = make_workload("t2d", (1, 3, 3, 3, 5, 3, 3, 2, 1, 1, 1), "int8", layout="plain")
    # stride 2, K 3, pad 1: every output phase gets its own stride-1 convolution
    assert sorted(_stages(t2d)) == ["C_0_0", "C_0_1", "C_1_0", "C_1_1", "assemble", "pad"]
    stride1 = make_workload("t2d", (1, 3, 3, 3, 5, 3, 3, 1, 1, 1, 0), "int8", layout="plain")
    assert _stages(stride1) == ["zero_insert_pad", "C"]
    fp16 = make_workload("t2d", (1, 3, 3, 16, 16, 3, 3, 2, 1, 1, 1), "float16", layout="plain")
    # TensorCore: each phase reads its own padded input and taps of the weight
    phases = ["0_0", "0_1", "1_0", "1_1"]
    assert sorted(_stages(fp16)) == sorted(
        ["assemble"] + [f"{stage}_{p}" for p in phases for stage in ("C", "W", "pad")]
    )
    _assert_correct(fp16)
    # no padding needed: the phases still get private copies of A
    private = make_workload("t2d", (1, 4, 4, 16, 16, 1, 1, 2, 0, 1, 1), "float16")
    assert _stages(private) == ["pad_0_0", "W_0_0", "C_0_0", "assemble"]
    _assert_correct(private)
    # stride 2, K 1: only the even outputs get products; one GEMM-like block
    assert _stages(make_workload("t2d", (1, 4, 4, 8, 16, 1, 1, 2, 0, 1, 1), "int8")) == [
        "C_0_0", "assemble",
    ]


def test_fp32_packed_is_the_default_and_16_lanes_wide():
    workload = make_workload("bmm", (2, 3, 6, 18), "float32")
    args, (_, b) = workload.make_inputs(np.random.default_rng(0))
    assert workload.layout == "packed" and args[1].shape == (2, 2, 6, 16)
    conv = make_workload("c1d", (1, 9, 3, 5, 3, 2, 1, 2), "float32")
    assert conv.make_inputs(np.random.default_rng(0))[0][1].shape == (1, 3, 3, 16)


def test_pack_weight_index_formula():
    for dtype, shape in [("int8", (2, 20, 7)), ("float32", (20, 7)), ("int8", (32, 8))]:
        lanes, depth = PACK[dtype]
        weight = np.arange(1, np.prod(shape) + 1).reshape(shape)
        packed = pack_weight(weight, dtype)
        if depth == 1:  # float32 leaves the unit depth axis out
            packed = packed[..., None]
        *lead, n, k = shape
        assert packed.shape == (*lead, -(-n // lanes), -(-k // depth), lanes, depth)
        for index in np.ndindex(packed.shape):
            *bi, jo, ko, ji, ki = index
            j, r = lanes * jo + ji, depth * ko + ki
            expected = weight[(*bi, j, r)] if j < n and r < k else 0
            assert packed[index] == expected
    with pytest.raises(ValueError, match="multiple"):
        pack_weight(np.zeros((15, 8)), "int8", pad=False)
    with pytest.raises(UnsupportedDtypeError, match="float16"):
        pack_weight(np.zeros((16, 8)), "float16")


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("kernel", [(3,), (2, 3), (2, 1, 2)])
def test_pack_conv_weight_index_formula(dtype, kernel):
    lanes, depth = PACK[dtype]
    co, ci = 18, 5
    weight = np.arange(1, co * ci * int(np.prod(kernel)) + 1).reshape(co, *kernel, ci)
    packed = pack_conv_weight(weight, dtype)
    if depth == 1:  # float32 leaves the unit depth axis out
        packed = packed[..., None]
    assert packed.shape == (2, *kernel, -(-ci // depth), lanes, depth)
    for index in np.ndindex(packed.shape):
        oo, *r, co_, oi, ci_ = index
        o, c = lanes * oo + oi, depth * co_ + ci_
        assert packed[index] == (weight[(o, *r, c)] if o < co and c < ci else 0)


def test_weight_conversions():
    w = np.arange(3 * 4 * 2 * 5).reshape(3, 4, 2, 5)  # [CI, CO, KH, KW] / [CO, CI, KH, KW]
    converted = transposed_conv_weight(w)
    assert converted.shape == (4, 2, 5, 3)
    for o, r, q, c in np.ndindex(converted.shape):
        assert converted[o, r, q, c] == w[c, o, 1 - r, 4 - q]
    ohwi = oihw_to_ohwi(w)
    assert ohwi.shape == (3, 2, 5, 4)
    for o, r, q, c in np.ndindex(ohwi.shape):
        assert ohwi[o, r, q, c] == w[o, c, r, q]


def _phase_transpose_1d(a, w_equiv, size, kernel, stride, pad, dilation, output_padding):
    """1-d transposed convolution computed from :func:`dimension_phases` alone (numpy)."""
    phases = dimension_phases(size, kernel, stride, pad, dilation, output_padding)
    out = np.zeros(conv_transpose_out_size(size, kernel, stride, pad, dilation, output_padding))
    for p in phases:
        for q in range(p.count):
            for t in range(p.taps):
                u = q + p.offset + t * p.input_step
                if 0 <= u < size:
                    out[q * stride + p.phase] += a[u] * w_equiv[p.first_tap + t * p.tap_step]
    return out, phases


def test_phases_compute_the_transposed_convolution_by_brute_force():
    """Every (size, kernel, stride, pad, dilation, output_padding) up to small extents."""
    rng = np.random.default_rng(0)
    checked = 0
    for size, kernel, stride, dilation in itertools.product(
        range(1, 5), range(1, 5), range(1, 4), range(1, 4)
    ):
        for pad in range(dilation * (kernel - 1) + 1):
            for output_padding in range(max(stride, dilation)):
                if conv_transpose_out_size(size, kernel, stride, pad, dilation, output_padding) < 1:
                    continue  # rejected by the operator definition
                a = rng.integers(-3, 4, size)
                w = rng.integers(-3, 4, kernel)  # PyTorch's 1-d weight, CI = CO = 1
                want = conv_transpose_reference(
                    a.reshape(1, size, 1), w.reshape(1, 1, kernel), stride, pad, dilation,
                    output_padding,
                )[0, :, 0]
                got, phases = _phase_transpose_1d(
                    a, w[::-1], size, kernel, stride, pad, dilation, output_padding
                )
                np.testing.assert_array_equal(got, want)
                # products only where an input pixel (not an inserted zero) meets a tap
                products = sum(p.count * p.taps for p in phases)
                assert products <= len(want) * kernel
                checked += 1
    assert checked > 500


def test_stride_2_pointwise_transposed_conv_multiplies_only_the_even_outputs():
    (even, odd) = dimension_phases(14, 1, 2, 0, 1, 0)
    assert (even.count, even.taps, odd.count, odd.taps) == (14, 1, 13, 0)


def test_transposed_reference_by_hand():
    """One input pixel scatters the kernel, scaled, at stride/dilation steps."""
    a = np.zeros((1, 2, 1), np.int64)  # 1-d: [N, L, CI]
    a[0, 1, 0] = 2
    w = np.arange(1, 4).reshape(1, 1, 3)  # CI=1, CO=1, K=3
    out = conv_transpose_reference(a, w, stride=3, pad=1, dilation=2, output_padding=1)
    # rows 1*3 + r*2 - 1 = 2, 4, 6 get 2 * w[r]; size (2-1)*3 - 2 + 4 + 1 + 1 = 7
    assert out[0, :, 0].tolist() == [0, 0, 2, 0, 4, 0, 6]


def test_references_agree_with_torch():
    torch = pytest.importorskip("torch")
    f = torch.nn.functional
    rng = np.random.default_rng(3)
    for rank, conv in [(1, f.conv1d), (2, f.conv2d), (3, f.conv3d)]:
        a = rng.standard_normal((2, *[5] * rank, 3))
        w = rng.standard_normal((4, *[3] * rank, 3))
        ours = conv_reference(a, w, stride=2, pad=2, dilation=2)
        theirs = conv(
            torch.tensor(np.moveaxis(a, -1, 1)), torch.tensor(np.moveaxis(w, -1, 1)),
            stride=2, padding=2, dilation=2,
        ).numpy()
        np.testing.assert_allclose(ours, np.moveaxis(theirs, 1, -1), atol=1e-9)
    for stride, pad, dilation, output_padding in [(2, 1, 1, 1), (1, 2, 2, 1), (3, 0, 2, 2)]:
        a = rng.standard_normal((1, 4, 3, 3))
        w = rng.standard_normal((3, 5, 3, 2))
        ours = conv_transpose_reference(a, w, stride, pad, dilation, output_padding)
        theirs = f.conv_transpose2d(
            torch.tensor(np.moveaxis(a, -1, 1)), torch.tensor(w), stride=stride, padding=pad,
            dilation=dilation, output_padding=output_padding,
        ).numpy()
        np.testing.assert_allclose(ours, np.moveaxis(theirs, 1, -1), atol=1e-9)


def test_requant_spreads_random_outputs():
    """Realistic reduction lengths: outputs neither all 0 nor all 255."""
    for op, shape in [("c2d", (1, 6, 6, 64, 16, 3, 3, 1, 1, 1)), ("gemm", (32, 1024, 32))]:
        workload = make_workload(op, shape, "int8", epilogue="requant")
        _, logical = workload.make_inputs(np.random.default_rng(0))
        out = workload.reference(*logical)
        assert out.dtype == np.uint8
        assert 0.2 < np.mean(out == 0) < 0.9 and np.mean(out == 255) < 0.1
        assert len(np.unique(out)) > 100
    mult, shift = requant_params(576)
    assert shift == 24 and mult == round(2**17 / 24)


def test_flops_count_the_logical_op():
    assert make_workload("bmm", (3, 4, 8, 16), "int8").flops == 2 * 3 * 4 * 8 * 16
    assert make_workload("gemm", (4, 7, 20), "int8").flops == 2 * 4 * 7 * 20  # not padded
    # c1d: L_out = (9 + 2 - 2*2 - 1) // 2 + 1 = 4
    assert make_workload("c1d", (1, 9, 3, 5, 3, 2, 1, 2), "int8").flops == 2 * 4 * 5 * 3 * 3
    t2d = make_workload("t2d", (2, 3, 4, 6, 16, 3, 2, 2, 1, 1, 1), "int8")
    assert t2d.flops == 2 * 2 * 3 * 4 * 6 * 16 * 3 * 2


def test_names_show_options():
    assert make_workload("gemm", (3, 8, 16), "int8").name == "gemm_3x8x16_int8"
    c1d = (1, 9, 3, 5, 3, 2, 1, 2)
    options = dict(layout="plain", data_layout="NCL", epilogue="requant")
    name = make_workload("c1d", c1d, "int8", **options).name
    assert name == "c1d_1x9x3x5x3x2x1x2_int8_plain_ncl_requant"
    assert make_workload("c1d", c1d, "float32", data_layout="NLC").name.endswith("float32")


C2D, C3D, T2D = "c2d", "c3d", "t2d"


@pytest.mark.parametrize(
    "call, error, match",
    [
        (("conv4d", (1,), "int8"), UnsupportedOperatorError, "conv4d"),
        (("c1d", (1, 9, 3, 5, 3, 2, 1), "int8"), InvalidShapeError, "8 shape fields"),
        ((C2D, (1, 5, 5, 6, 18, 3, 3, 2, -1, 1), "int8"), InvalidShapeError, "pad must be non-neg"),
        ((C3D, (1, 3, 4, 4, 3, 0, 2, 3, 2, 2, 1, 1), "int8"), InvalidShapeError, "CO must be pos"),
        (("gemm", (4, 8, 16), "float64"), UnsupportedDtypeError, "float64"),
        ((C2D, (1, 3, 5, 6, 18, 5, 3, 1, 0, 1), "int8"), InvalidShapeError, "KH=5"),
        (("c1d", (1, 5, 3, 5, 3, 1, 0, 3), "int8"), InvalidShapeError, "K=3 with dilation 3"),
        ((T2D, (1, 3, 3, 3, 5, 3, 3, 2, 3, 1, 1), "int8"), InvalidShapeError, r"\(KH-1\) = 2"),
        ((T2D, (1, 3, 3, 3, 5, 3, 1, 2, 1, 1, 0), "int8"), InvalidShapeError, r"\(KW-1\) = 0"),
        ((T2D, (1, 3, 3, 3, 5, 3, 3, 2, 1, 1, 2), "int8"), InvalidShapeError, r"dilation\) = 2"),
    ],
)
def test_errors_name_the_problem(call, error, match):
    with pytest.raises(error, match=match):
        make_workload(*call)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"epilogue": "requant", "dtype": "float32"}, UnsupportedDtypeError, "int8 only"),
        ({"epilogue": "gelu"}, ValueError, "epilogue must be one of"),
        ({"layout": "tiled"}, ValueError, "layout must be one of"),
        ({"data_layout": "NDHWC"}, ValueError, "NLC or NCL"),
    ],
)
def test_option_errors(kwargs, error, match):
    kwargs = {"dtype": "int8", **kwargs}
    with pytest.raises(error, match=match):
        make_workload("c1d", (1, 9, 3, 5, 3, 2, 1, 2), **kwargs)
    with pytest.raises(ValueError, match="convolutions only"):
        make_workload("gemm", (3, 8, 16), "int8", data_layout="NHWC")


def test_every_op_and_dtype_is_registered():
    ops = {"gemm", "bmm", "gemv", "scan", "c1d", "c2d", "dil", "c3d", "t2d"}
    assert set(FIELDS) == ops
    for op, dtype in itertools.product(sorted(ops), ["int8", "float32"]):
        shape = dict(SHAPES)[op]
        assert make_workload(op, shape, dtype).dtype == dtype
