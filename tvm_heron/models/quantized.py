"""Integer-only quantised models built in Relax, with a numpy reference of the same arithmetic.

Every layer multiplies uint8 activations by int8 weights into int32 (the
VNNI ``vpdpbusd`` form), adds an int32 bias and requantises to uint8 with an
explicit fixed-point scale (``mult / 2**shift``, round half up, clip to
``[0, 255]``, which is also the ReLU); the last layer returns its int32
accumulator. Scales come from :func:`tvm_heron.ops.epilogue.requant_params`,
so random inputs spread over the uint8 range instead of saturating.

The arithmetic is integer throughout, so the tuned model must equal the
numpy reference exactly.

* ``mlp``: three dense layers, 64 -> 128 -> 64 -> 32 (input ``[B, 64]``);
* ``cnn``: two NHWC 3x3 convolutions (8 -> 16 -> 32 channels, the second with
  stride 2) on 8x8 images, then a dense layer to 16 classes.
"""

from __future__ import annotations

import numpy as np
from tvm import relax
from tvm.script import relax as R

from ..errors import HeronError
from .model import Model
from ..ops.epilogue import requant_params


def _requant(bb, acc, mult: int, shift: int):
    wide = bb.emit(relax.op.astype(acc, "int64"))
    scaled = bb.emit(relax.op.add(relax.op.multiply(wide, relax.const(mult, "int64")),
                                  relax.const(1 << (shift - 1), "int64")))
    shifted = bb.emit(relax.op.right_shift(scaled, relax.const(shift, "int64")))
    return bb.emit(relax.op.astype(relax.op.clip(shifted, 0, 255), "uint8"))


def _requant_np(acc: np.ndarray, mult: int, shift: int) -> np.ndarray:
    scaled = (acc.astype(np.int64) * mult + (1 << (shift - 1))) >> shift
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _conv_np(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """NHWC x OHWI -> NHWC int32 convolution (direct, integer)."""
    n, h, wd, ci = x.shape
    co, kh, kw, _ = w.shape
    xp = np.pad(x.astype(np.int32), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, oh, ow, co), np.int32)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i : i + stride * oh : stride, j : j + stride * ow : stride, :]
            out += np.einsum("nhwc,oc->nhwo", patch, w[:, i, j, :].astype(np.int32))
    return out


def build_quantized(kind: str, *, batch: int = 1, seed: int = 0):
    """A :class:`~tvm_heron.models.model.Model` of the quantised ``kind`` (``mlp`` or ``cnn``)."""

    rng = np.random.default_rng(seed)
    if kind == "mlp":
        dims = (64, 128, 64, 32)
        x = rng.integers(0, 256, size=(batch, dims[0]), dtype=np.uint8)
        layers = [("dense", dims[i], dims[i + 1]) for i in range(len(dims) - 1)]
    elif kind == "cnn":
        x = rng.integers(0, 256, size=(batch, 8, 8, 8), dtype=np.uint8)
        layers = [("conv", 8, 16, 1), ("conv", 16, 32, 2), ("flatten",), ("dense", 4 * 4 * 32, 16)]
    else:
        raise HeronError(f"unknown quantised model kind {kind!r} (mlp, cnn)")

    weights, ref = [], x
    bb = relax.BlockBuilder()
    x_var = relax.Var("x", R.Tensor(x.shape, "uint8"))
    w_vars = []
    dense_count = sum(layer[0] in ("dense", "conv") for layer in layers)
    with bb.function("main", attrs={"num_input": 1}):
        with bb.dataflow():
            h, done = x_var, 0
            for layer in layers:
                if layer[0] == "flatten":
                    h = bb.emit(relax.op.reshape(h, (batch, -1)))
                    ref = ref.reshape(batch, -1)
                    continue
                if layer[0] == "dense":
                    _, k, n = layer
                    w = rng.integers(-128, 128, size=(k, n), dtype=np.int8)
                    acc = bb.emit(relax.op.matmul(h, _weight(w_vars, w, "w"), out_dtype="int32"))
                    ref_acc = ref.astype(np.int32) @ w.astype(np.int32)
                else:
                    _, ci, co, stride = layer
                    k = ci * 9
                    w = rng.integers(-128, 128, size=(co, 3, 3, ci), dtype=np.int8)
                    acc = bb.emit(
                        relax.op.nn.conv2d(
                            h, _weight(w_vars, w, "w"), strides=stride, padding=1,
                            data_layout="NHWC", kernel_layout="OHWI", out_dtype="int32",
                        )
                    )
                    ref_acc = _conv_np(ref, w, stride, 1)
                bias = rng.integers(-(1 << 12), 1 << 12, size=(ref_acc.shape[-1],), dtype=np.int32)
                acc = bb.emit(relax.op.add(acc, _weight(w_vars, bias, "b")))
                ref_acc = ref_acc + bias
                weights += [w, bias]
                done += 1
                if done == dense_count:
                    h, ref = acc, ref_acc
                else:
                    mult, shift = requant_params(k)
                    h, ref = _requant(bb, acc, mult, shift), _requant_np(ref_acc, mult, shift)
            out = bb.emit_output(h)
        bb.emit_func_output(out, params=[x_var, *w_vars])
    return Model(
        name=f"int8-{kind}",
        mod=bb.get(),
        params=weights,
        inputs=[x],
        reference=[ref],
        dtype="int8",
        exact=True,
    )


def _weight(w_vars: list, array: np.ndarray, prefix: str):
    var = relax.Var(f"{prefix}{len(w_vars)}", R.Tensor(array.shape, str(array.dtype)))
    w_vars.append(var)
    return var
