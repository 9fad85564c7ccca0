"""Whole networks for model tuning, defined in code: the paper's four and small test models.

``load_model(name, batch=1, seed=0)`` returns a :class:`~tvm_heron.models.model.Model`: the
Relax module, its weights, example inputs and a reference of the outputs.
The float32 models are PyTorch modules imported through ``torch.export``
(PyTorch is needed: ``pip install 'tvm-heron[models]'``); the int8 models are
built directly in Relax with explicit quantisation scales.

A user's own model comes in through :func:`import_onnx` (an ONNX file, float
or QDQ-quantized int8; reference: ONNX Runtime) or :func:`import_torch_factory`
(a PyTorch module with example inputs; reference: PyTorch).
:mod:`~tvm_heron.models.onnx_export` makes such files from the package's own
networks (ResNet-50, BERT-base, MobileNetV2 and small versions): float32
exports and their QDQ int8 quantizations, cached by content.
"""

from .model import Model
from .zoo import MODELS, load_model


def import_onnx(path, shapes=None, **options) -> Model:
    """Import an ONNX model (see :func:`tvm_heron.models.onnx_import.import_onnx`)."""
    from .onnx_import import import_onnx as _import  # pylint: disable=import-outside-toplevel  # needs onnx

    return _import(path, shapes, **options)


def import_torch_factory(factory, **options) -> Model:
    """Import a user's PyTorch model (see :func:`tvm_heron.models.importer.import_torch_factory`)."""
    from .importer import import_torch_factory as _import  # pylint: disable=import-outside-toplevel

    return _import(factory, **options)


__all__ = ["MODELS", "Model", "import_onnx", "import_torch_factory", "load_model"]
