"""Whole networks for model tuning, defined in code: the paper's four and small test models.

``load_model(name, batch=1, seed=0)`` returns a :class:`~tvm_heron.models.model.Model`: the
Relax module, its weights, example inputs and a reference of the outputs.
The float32 models are PyTorch modules imported through ``torch.export``
(PyTorch is needed: ``pip install 'tvm-heron[models]'``); the int8 models are
built directly in Relax with explicit quantisation scales.
"""

from .model import Model
from .zoo import MODELS, load_model

__all__ = ["MODELS", "Model", "load_model"]
