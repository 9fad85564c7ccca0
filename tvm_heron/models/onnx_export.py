"""The package's networks as ONNX files: float32 exports and their QDQ int8 quantizations.

No model hub is reachable, so the models a user would bring (an ONNX export,
often quantized with ONNX Runtime's tool) are made here from
:mod:`tvm_heron.models.nets`:

1. the network is built with seeded weights (random batch-norm statistics,
   as :func:`~tvm_heron.models.importer.import_torch` does) and exported with
   ``torch.onnx.export`` at fixed shapes (batch 1), inference mode;
2. the float file is quantized with ``onnxruntime.quantization.quantize_static``
   in QDQ format: int8 weights per output channel, uint8 activations,
   calibrated (min-max) on seeded generated inputs read through a
   ``CalibrationDataReader``.

Both files are kept. They are cached by content in a directory the caller
gives: a file's name carries a hash of everything it is made from (the
network and its configuration, the input shapes, the seed, the calibration
settings and the versions of PyTorch and ONNX Runtime; for the quantized
file, the float file's bytes too), so a changed input makes a new file and an
unchanged one is reused.

Needs ``torch``, ``onnx`` and ``onnxruntime``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from pathlib import Path

import attrs
import numpy as np

from ..errors import HeronError

logger = logging.getLogger(__name__)

#: ONNX opset of the exports (LayerNormalization needs 17).
OPSET = 17
#: Calibration batches of ``quantize_static``.
CALIBRATION_BATCHES = 8


@attrs.frozen
class InputSpec:
    """One input of an exported network.

    Attributes
    ----------
    name : str
        The ONNX input name.
    dtype : str
        ``float32`` (normal values) or ``int64`` (token ids in ``[0, high)``).
    shape : tuple of int
        Static shape (batch first).
    high : int
        Exclusive bound of integer inputs (the vocabulary).
    """

    name: str
    dtype: str
    shape: tuple
    high: int = 0

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """A seeded example of this input."""
        if self.dtype == "int64":
            return rng.integers(0, self.high, size=self.shape, dtype=np.int64)
        return rng.standard_normal(self.shape).astype(self.dtype)


@attrs.frozen
class NetSpec:
    """A network of :mod:`~tvm_heron.models.nets` to export.

    Attributes
    ----------
    net : str
        Class name in :mod:`~tvm_heron.models.nets`.
    config : dict
        Its keyword arguments (JSON values: part of the cache key).
    inputs : tuple of InputSpec
        The inputs, in the order of ``forward``'s arguments.
    """

    net: str
    config: dict
    inputs: tuple

    def build(self):
        """The PyTorch module (unseeded: :func:`export_float` seeds it)."""
        from . import nets  # pylint: disable=import-outside-toplevel  # torch

        return getattr(nets, self.net)(**self.config).eval()


def _image(size: int, channels: int = 3) -> tuple:
    return (InputSpec("image", "float32", (1, channels, size, size)),)


def _tokens(seq: int, vocab: int) -> tuple:
    return (InputSpec("ids", "int64", (1, seq), vocab),)


_BERT_SMALL = {"layers": 1, "hidden": 64, "heads": 4, "intermediate": 256, "vocab": 512, "max_pos": 32}

#: name -> network. ``<name>-small`` is a few layers of the same blocks, for tests.
ONNX_NETS: dict[str, NetSpec] = {
    "resnet50": NetSpec("ResNet", {}, _image(224)),
    "bert-base": NetSpec("BertEncoder", {}, _tokens(128, 30522)),
    "mobilenetv2": NetSpec("MobileNetV2", {}, _image(224)),
    "resnet50-small": NetSpec("ResNet", {"layers": [1, 1], "widths": [16, 32], "stem": 16, "classes": 16},
                              _image(32)),
    "bert-base-small": NetSpec("BertEncoder", _BERT_SMALL, _tokens(16, 512)),
    "mobilenetv2-small": NetSpec("MobileNetV2", {"stem": 16, "classes": 16, "last": 64,
                                                 "settings": [[1, 16, 1, 1], [6, 32, 2, 2]]},
                                 _image(32)),
}


@attrs.frozen
class OnnxFiles:
    """The ONNX files of one network.

    Attributes
    ----------
    name : str
        Key of :data:`ONNX_NETS`.
    float32 : pathlib.Path
        The float export.
    int8 : pathlib.Path or None
        Its QDQ quantization (None when not asked for).
    spec : NetSpec
        What was exported.
    """

    name: str
    float32: Path
    int8: Path | None
    spec: NetSpec

    def path(self, dtype: str) -> Path:
        """The file of ``dtype`` (``float32`` or ``int8``)."""
        chosen = {"float32": self.float32, "int8": self.int8}.get(dtype)
        if chosen is None:
            raise HeronError(f"{self.name}: no {dtype} ONNX file (dtypes: float32, int8)")
        return chosen


def spec_of(name: str) -> NetSpec:
    """The :class:`NetSpec` named ``name`` (a HeronError naming the known ones otherwise)."""
    if name not in ONNX_NETS:
        raise HeronError(f"unknown ONNX network {name!r}; known: {', '.join(ONNX_NETS)}")
    return ONNX_NETS[name]


def torch_module(name: str, seed: int = 0):
    """The seeded PyTorch module of ``name`` (the same weights as its ONNX export)."""
    import torch  # pylint: disable=import-outside-toplevel

    from .nets import randomize_norms  # pylint: disable=import-outside-toplevel

    torch.manual_seed(seed)
    module = spec_of(name).build()
    randomize_norms(module, torch.Generator().manual_seed(seed))
    return module


def example_inputs(name: str, seed: int = 0) -> list[np.ndarray]:
    """Seeded inputs of ``name``, in input order."""
    rng = np.random.default_rng(seed)
    return [i.draw(rng) for i in spec_of(name).inputs]


def onnx_files(name: str, cache_dir: str | os.PathLike, *, seed: int = 0, int8: bool = True,
               reduce_range: bool = False) -> OnnxFiles:
    """The float (and, with ``int8``, QDQ) ONNX files of ``name`` in ``cache_dir``, made if missing.

    ``reduce_range``: the QDQ file's weights in 7 bits (see :func:`quantize_qdq`).
    """
    spec = spec_of(name)
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    float_path = cache / f"{name}-{_key(_float_recipe(spec, seed))}.onnx"
    if not float_path.is_file():
        export_float(name, float_path, seed=seed)
    else:
        logger.info("%s: float32 ONNX file cached at %s", name, float_path)
    int8_path = None
    if int8:
        recipe = _quant_recipe(spec, seed, _file_hash(float_path), reduce_range)
        int8_path = cache / f"{name}-{_key(recipe)}-qdq.onnx"
        if not int8_path.is_file():
            quantize_qdq(name, float_path, int8_path, seed=seed, reduce_range=reduce_range)
        else:
            logger.info("%s: int8 QDQ ONNX file cached at %s", name, int8_path)
    return OnnxFiles(name=name, float32=float_path, int8=int8_path, spec=spec)


def export_float(name: str, path: str | os.PathLike, *, seed: int = 0) -> Path:
    """Export ``name`` with seeded weights to ``path`` (fixed shapes, opset :data:`OPSET`)."""
    import torch  # pylint: disable=import-outside-toplevel

    spec = spec_of(name)
    module = torch_module(name, seed)
    args = tuple(torch.from_numpy(x) for x in example_inputs(name, seed))
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    logger.info("%s: exporting to ONNX (%s)", name, path)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The TorchScript exporter: the torch.export-based default needs onnxscript, and this
        # one folds batch norms into the convolutions as a user's export would.
        torch.onnx.export(module, args, str(partial), dynamo=False, opset_version=OPSET,
                          input_names=[i.name for i in spec.inputs], output_names=["output"],
                          do_constant_folding=True)
    os.replace(partial, path)
    return path


def quantize_qdq(name: str, float_path: str | os.PathLike, path: str | os.PathLike, *, seed: int = 0,
                 reduce_range: bool = False) -> Path:
    """QDQ-quantize ``float_path`` to ``path``: s8 per-channel weights, u8 activations, min-max calibration.

    ``reduce_range`` keeps the weights in 7 bits (-64..64), which ONNX Runtime
    advises for CPUs without VNNI: its u8 x s8 kernels there saturate on
    full-range weights, and tvm-heron's may then use ``vpmaddubsw`` exactly
    (:mod:`tvm_heron.relax.weight_range`).

    Calibration reads :data:`CALIBRATION_BATCHES` inputs drawn with ``seed + 1``
    (not the benchmark's example inputs, drawn with ``seed``).
    """
    from onnxruntime.quantization import (  # pylint: disable=import-outside-toplevel
        CalibrationMethod, QuantFormat, QuantType, quantize_static)

    spec = spec_of(name)
    path = Path(path)
    partial = path.with_name(path.name + ".partial.onnx")
    logger.info("%s: quantizing to QDQ int8 (%s)", name, path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_static(str(float_path), str(partial), _reader(spec, seed + 1), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                        calibrate_method=CalibrationMethod.MinMax, reduce_range=reduce_range)
    os.replace(partial, path)
    return path


def _reader(spec: NetSpec, seed: int):
    from onnxruntime.quantization import CalibrationDataReader  # pylint: disable=import-outside-toplevel

    class _Reader(CalibrationDataReader):
        """Seeded generated inputs, one batch at a time."""

        def __init__(self) -> None:
            rng = np.random.default_rng(seed)
            self._batches = iter([{i.name: i.draw(rng) for i in spec.inputs}
                                  for _ in range(CALIBRATION_BATCHES)])

        def get_next(self):
            return next(self._batches, None)

    return _Reader()


def _float_recipe(spec: NetSpec, seed: int) -> dict:
    import torch  # pylint: disable=import-outside-toplevel

    return {"spec": attrs.asdict(spec), "seed": seed, "opset": OPSET, "torch": torch.__version__}


def _quant_recipe(spec: NetSpec, seed: int, float_hash: str, reduce_range: bool = False) -> dict:
    import onnxruntime  # pylint: disable=import-outside-toplevel

    weights = "s7-per-channel" if reduce_range else "s8-per-channel"
    return {"float": float_hash, "inputs": attrs.asdict(spec)["inputs"], "seed": seed + 1,
            "batches": CALIBRATION_BATCHES, "format": "QDQ", "weights": weights,
            "activations": "u8", "calibration": "minmax", "onnxruntime": onnxruntime.__version__}


def _key(recipe: dict) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


__all__ = ["ONNX_NETS", "InputSpec", "NetSpec", "OnnxFiles", "example_inputs", "export_float", "onnx_files",
           "quantize_qdq", "spec_of", "torch_module"]
