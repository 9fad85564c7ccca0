"""The vendor baseline of a workload: the same operator in PyTorch (oneDNN on CPU).

:func:`vendor_baseline` returns a :class:`VendorCall` (a zero-argument
callable to time, and a way to check its output against the workload's
reference) or an :class:`Unavailable` with the reason. Every layout change
and quantization happens here, outside the timed call:

* fp32: ``torch.nn.functional.linear`` (gemm, gemv, scan), ``torch.bmm``
  (bmm, on a transposed view of ``B[b, N, K]``),
  ``torch.nn.functional.conv1d/conv2d/conv3d`` and ``conv_transpose2d``.
  Channel-last activations and OHWI-style weights are passed as
  ``movedim`` views of the same memory, i.e. NCHW tensors in
  ``channels_last`` (``channels_last_3d``) memory format, which oneDNN
  convolves without a transposition (conv1d's view is NCL with channel
  stride 1; PyTorch runs it as a 2-D convolution).
* int8 GEMM family: ``torch._int_mm`` (s8 x s8 -> s32). The u8
  activations are shifted to s8 (``a - 128``) before timing; adding
  ``128 * rowsum(B)`` (not timed) gives the u8 x s8 result, which is
  checked. bmm loops ``_int_mm`` over the batch in Python. GEMM and GEMV also
  run ``torch.ops.quantized.linear`` on each quantized engine (``onednn``,
  ``x86``, ``fbgemm``): quint8 activations (scale 1, zero point 0), qint8
  weights, prepacked before timing, the output requantized to quint8.
* int8 convolutions: ``torch.ops.quantized.conv{1,2,3}d`` /
  ``conv_transpose2d`` on each quantized engine, the same types. A
  requantized output is checked to one quantum.

:func:`vendor_paths` returns every path, each run once on the workload's
test data and marked correct or not: without VNNI, PyTorch's quantized
kernels use the saturating ``vpmaddubsw`` (exact only for 7-bit
activations), and on AVX2 PyTorch 2.13 gave wrong results for full-range u8
data in ``_int_mm`` and in every engine's convolutions. A wrong path is
reported, never timed as the baseline; :func:`vendor_baseline` is the first
correct path (the suite times every correct one and keeps the fastest).

No TVM here; PyTorch is imported on first use.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import attrs
import numpy as np

#: Spatial rank of each convolution operator.
CONV_RANK = {"c1d": 1, "c2d": 2, "dil": 2, "c3d": 3, "t2d": 2}
#: GEMM-family operators (logical operands ``a[..., M, K]``, ``b[..., N, K]``).
MATMUL_OPS = ("gemm", "gemv", "scan", "bmm")
#: The quantized engine asked for (PyTorch's oneDNN backend).
QUANTIZED_ENGINE = "onednn"
#: Quantized engines tried in turn for an int8 convolution (the first that takes the case).
QUANTIZED_ENGINES = (QUANTIZED_ENGINE, "x86", "fbgemm")


@attrs.frozen
class Unavailable:
    """No vendor baseline, and why."""

    reason: str


@attrs.frozen
class VendorPath:
    """One PyTorch path for a workload, run once on its test data.

    Attributes
    ----------
    name : str
        Short name (``torch._int_mm``, ``quantized onednn``, ``torch.nn.functional.linear``...).
    call : VendorCall or None
        What to time; None when PyTorch cannot run it.
    correct : bool or None
        Whether its output matched the reference (None: not run).
    max_abs_error : float or None
    reason : str or None
        Why it cannot run, or how it is wrong.
    """

    name: str
    call: VendorCall | None
    correct: bool | None
    max_abs_error: float | None = None
    reason: str | None = None


@attrs.frozen
class VendorCall:
    """A vendor implementation of a workload, ready to time.

    Attributes
    ----------
    impl : str
        What runs, e.g. ``"torch.nn.functional.conv2d (channels_last)"``.
    fn : callable
        ``fn()`` computes the operator once (the timed call).
    output : callable
        ``output(result) -> numpy.ndarray``: ``fn()``'s result in the
        workload's output layout and units (not timed).
    tolerance : float or None
        None: compare with :meth:`Workload.check`; a number: the largest
        absolute error accepted (a requantized output).
    note : str
        What the comparison should know (requantization, loops...).
    """

    impl: str
    fn: Callable[[], object]
    output: Callable[[object], np.ndarray]
    tolerance: float | None = None
    note: str = ""

    def check(self, workload, logical) -> tuple[bool, float]:
        """Run once and compare with the workload's reference: (correct, max abs error)."""
        result = self.output(self.fn())
        if self.tolerance is None:
            return workload.check(result, logical)
        expected = workload.reference(*logical).astype(np.float64)
        error = float(np.max(np.abs(result.astype(np.float64) - expected)))
        return error <= self.tolerance, error


def torch_version() -> str | None:
    """PyTorch's version, or None when it cannot be imported."""
    try:
        import torch  # pylint: disable=import-outside-toplevel
    except Exception:  # pylint: disable=broad-except  (a broken install raises anything)
        return None
    return str(torch.__version__)


def vendor_paths(workload, logical: Sequence[np.ndarray], *, threads: int) -> list[VendorPath] | Unavailable:
    """Every PyTorch path of ``workload`` on its logical inputs, each run and checked.

    Parameters
    ----------
    workload : tvm_heron.ops.Workload
        Operator, shape, dtype; ``reference`` checks each path's output.
    logical : sequence of numpy.ndarray
        ``workload.make_inputs(rng)[1]``: activation, weight in its logical layout.
    threads : int
        ``torch.set_num_threads``.
    """
    try:
        import torch  # pylint: disable=import-outside-toplevel
    except Exception as err:  # pylint: disable=broad-except
        return Unavailable(f"torch is not importable ({type(err).__name__}: {err})")
    if getattr(workload, "epilogue", "none") != "none":
        return Unavailable(f"no vendor baseline for the {workload.epilogue} epilogue")
    if workload.dtype not in ("int8", "float32"):
        return Unavailable(f"no vendor baseline for dtype {workload.dtype}")
    if workload.op not in MATMUL_OPS and workload.op not in CONV_RANK:
        return Unavailable(f"no vendor baseline for operator {workload.op!r}")
    torch.set_num_threads(threads)
    paths = []
    for name, build in _builders(torch, workload):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # quantized tensors are deprecated in PyTorch 2.13
                call = build(torch, workload, logical)
                correct, error = call.check(workload, logical)  # a shape it does not take fails here
        except (RuntimeError, NotImplementedError, ValueError, TypeError) as err:
            paths.append(VendorPath(name, None, None, reason=f"PyTorch cannot run it: {_first_line(err)}"))
            continue
        paths.append(VendorPath(name, call, correct, error,
                                None if correct else f"wrong output on the test data (max abs error {error:.4g})"))
    return paths


def vendor_baseline(
    workload, logical: Sequence[np.ndarray], *, threads: int
) -> VendorCall | Unavailable:
    """The first correct path of :func:`vendor_paths`, or :class:`Unavailable` saying why none is."""
    paths = vendor_paths(workload, logical, threads=threads)
    if isinstance(paths, Unavailable):
        return paths
    for path in paths:
        if path.correct:
            others = [f"{p.name}: {p.reason}" for p in paths if p is not path and not p.correct]
            return attrs.evolve(path.call, note="; ".join(x for x in (path.call.note, *others) if x))
    return Unavailable("no PyTorch path computes it correctly here: "
                       + "; ".join(f"{p.name}: {p.reason}" for p in paths))


def _builders(torch, workload) -> list[tuple[str, Callable]]:
    """(name, build) of every path of the workload, in the order of preference."""
    if workload.dtype == "float32":
        if workload.op in MATMUL_OPS:
            return [("torch fp32 matmul", _matmul_fp32)]
        return [("torch fp32 conv", _conv_fp32)]
    engines = [e for e in QUANTIZED_ENGINES if e in torch.backends.quantized.supported_engines]

    def on(engine, build):
        def run(torch_, workload_, logical_):
            torch_.backends.quantized.engine = engine
            return build(torch_, workload_, logical_, engine)
        return run

    if workload.op in MATMUL_OPS:
        paths = [("torch._int_mm", _matmul_int8)]
        if workload.op != "bmm":
            paths += [(f"quantized.linear {e}", on(e, _quantized_linear)) for e in engines]
        return paths
    return [(f"quantized conv {e}", on(e, _quantized_conv)) for e in engines]


# -- GEMM family --------------------------------------------------------------------------------
def _matmul_fp32(torch, workload, logical) -> VendorCall:
    a, b = (torch.from_numpy(np.ascontiguousarray(x)) for x in logical[:2])
    if a.dim() == 3:
        bt = b.transpose(1, 2)
        return VendorCall("torch.bmm (B transposed view)", lambda: torch.bmm(a, bt), _numpy)
    linear = torch.nn.functional.linear
    return VendorCall("torch.nn.functional.linear", lambda: linear(a, b), _numpy)


def _matmul_int8(torch, workload, logical) -> VendorCall:
    a_u8, b_s8 = logical[:2]
    a = torch.from_numpy((a_u8.astype(np.int16) - 128).astype(np.int8))
    b = torch.from_numpy(np.ascontiguousarray(b_s8))
    # u8 x s8 = (a - 128) x s8 + 128 * sum_k b[n, k]
    compensation = 128 * b_s8.astype(np.int64).sum(axis=-1)[..., None, :]
    int_mm = torch._int_mm  # pylint: disable=protected-access
    note = ("activations shifted to s8 before timing; the u8 result = s8 result + "
            "128*rowsum(B), added outside the timed call")

    def output(result) -> np.ndarray:
        if isinstance(result, list):
            result = torch.stack(result)
        return (result.numpy().astype(np.int64) + compensation).astype(np.int32)

    if a.dim() == 3:
        pairs = [(a[i], b[i].t()) for i in range(a.shape[0])]
        return VendorCall("torch._int_mm per batch (Python loop)",
                          lambda: [int_mm(x, y) for x, y in pairs], output, note=note)
    bt = b.t()
    return VendorCall("torch._int_mm", lambda: int_mm(a, bt), output, note=note)


# -- convolutions -------------------------------------------------------------------------------
@attrs.frozen
class _ConvParams:
    rank: int
    stride: int
    pad: int
    dilation: int
    output_padding: int
    channels_first: bool


def _conv_params(workload) -> _ConvParams:
    rank = CONV_RANK[workload.op]
    stride, pad, dilation, *extra = workload.shape[3 + 2 * rank :]
    layout = getattr(workload, "data_layout", None) or ""
    return _ConvParams(rank, stride, pad, dilation, extra[0] if extra else 0,
                       channels_first=layout.startswith("NC"))


def _activation(torch, a: np.ndarray, params: _ConvParams):
    """An N, C, *spatial tensor over the activation's memory (channel-last stays channel-last)."""
    tensor = torch.from_numpy(np.ascontiguousarray(a))
    return tensor if params.channels_first else tensor.movedim(-1, 1)


def _weight(torch, workload, w: np.ndarray):
    """PyTorch's weight: OI* for a convolution (from O*I), IO* as-is for a transposed one."""
    tensor = torch.from_numpy(np.ascontiguousarray(w))
    return tensor if workload.op == "t2d" else tensor.movedim(-1, 1)


def _channel_last(result) -> np.ndarray:
    return np.ascontiguousarray(result.movedim(1, -1).numpy())


def _conv_fp32(torch, workload, logical) -> VendorCall:
    params = _conv_params(workload)
    x = _activation(torch, logical[0], params)
    w = _weight(torch, workload, logical[1])
    if params.rank > 1:
        fmt = torch.channels_last if params.rank == 2 else torch.channels_last_3d
        x, w = x.contiguous(memory_format=fmt), w.contiguous(memory_format=fmt)
    functional = torch.nn.functional
    if workload.op == "t2d":
        def fn():
            return functional.conv_transpose2d(
                x, w, stride=params.stride, padding=params.pad,
                output_padding=params.output_padding, dilation=params.dilation)
        impl = "torch.nn.functional.conv_transpose2d (channels_last)"
    else:
        conv = getattr(functional, f"conv{params.rank}d")

        def fn():
            return conv(x, w, stride=params.stride, padding=params.pad, dilation=params.dilation)
        impl = f"torch.nn.functional.conv{params.rank}d" + (
            " (channels_last)" if params.rank > 1 else " (NCL view, channel stride 1)")
    return VendorCall(impl, fn, _channel_last)


def _quantized_conv(torch, workload, logical, engine: str) -> VendorCall:
    params = _conv_params(workload)
    x = _activation(torch, logical[0], params)
    if params.rank > 1:
        fmt = torch.channels_last if params.rank == 2 else torch.channels_last_3d
        x = x.contiguous(memory_format=fmt)
    qx = torch._make_per_tensor_quantized_tensor(x, 1.0, 0)  # pylint: disable=protected-access
    w = _weight(torch, workload, logical[1]).contiguous()
    qw = torch._make_per_tensor_quantized_tensor(w, 1.0, 0)  # pylint: disable=protected-access
    expected = workload.reference(*logical)
    scale = max(float(np.max(np.abs(expected))), 1.0) / 127.0
    ops = torch.ops.quantized
    r = params.rank
    stride, pad, dil = [params.stride] * r, [params.pad] * r, [params.dilation] * r
    if workload.op == "t2d":
        out_pad = [params.output_padding] * r
        packed = ops.conv_transpose2d_prepack(qw, None, stride, pad, out_pad, dil, 1)
        op = ops.conv_transpose2d
        impl = "torch.ops.quantized.conv_transpose2d"
    else:
        packed = getattr(ops, f"conv{r}d_prepack")(qw, None, stride, pad, dil, 1)
        op = getattr(ops, f"conv{r}d")
        impl = f"torch.ops.quantized.conv{r}d"

    def output(result) -> np.ndarray:
        return _channel_last(result.dequantize().to(torch.float64))

    return VendorCall(
        f"{impl} ({engine} engine, quint8 x qint8, requantized to quint8)",
        lambda: op(qx, packed, scale, 128),
        output,
        tolerance=1.01 * scale,
        note=f"the output is requantized to quint8 (scale {scale:.4g}), checked to one quantum",
    )


def _quantized_linear(torch, workload, logical, engine: str) -> VendorCall:
    a_u8, b_s8 = logical[:2]
    qx = torch._make_per_tensor_quantized_tensor(  # pylint: disable=protected-access
        torch.from_numpy(np.ascontiguousarray(a_u8)), 1.0, 0)
    qw = torch._make_per_tensor_quantized_tensor(  # pylint: disable=protected-access
        torch.from_numpy(np.ascontiguousarray(b_s8)), 1.0, 0)
    packed = torch.ops.quantized.linear_prepack(qw, None)
    expected = workload.reference(*logical)
    scale = max(float(np.max(np.abs(expected))), 1.0) / 127.0
    linear = torch.ops.quantized.linear

    def output(result) -> np.ndarray:
        return result.dequantize().to(torch.float64).numpy()

    return VendorCall(
        f"torch.ops.quantized.linear ({engine} engine, quint8 x qint8, requantized to quint8)",
        lambda: linear(qx, packed, scale, 128),
        output,
        tolerance=1.01 * scale,
        note=f"the output is requantized to quint8 (scale {scale:.4g}), checked to one quantum",
    )


def _numpy(result) -> np.ndarray:
    return result.numpy()


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:300] if text else ''}"
