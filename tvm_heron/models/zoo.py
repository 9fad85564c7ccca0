"""The model registry: build a network as a Relax module with weights, inputs and reference."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from ..errors import HeronError
from .model import Model


def _torch_model(factory: Callable, input_fn: Callable) -> Callable:
    def build(batch: int, seed: int) -> Model:
        from .importer import import_torch  # needs torch

        return import_torch(factory, input_fn(batch), seed=seed)

    return build


def _int8_model(kind: str) -> Callable:
    def build(batch: int, seed: int) -> Model:
        from .quantized import build_quantized

        return build_quantized(kind, batch=batch, seed=seed)

    return build


def _image(size: int, channels: int = 3):
    return lambda batch: [("float32", (batch, channels, size, size))]


def _tokens(seq: int, vocab: int):
    return lambda batch: [("int64", (batch, seq), vocab)]


def _nets():
    from . import nets  # torch

    return nets


#: name -> builder(batch, seed) -> Model. Sizes follow the paper's evaluation.
MODELS: dict[str, Callable[[int, int], Model]] = {
    "resnet50": _torch_model(lambda: _nets().ResNet(), _image(224)),
    "vgg16": _torch_model(lambda: _nets().VGG(), _image(224)),
    "inception-v3": _torch_model(lambda: _nets().InceptionV3(), _image(299)),
    "bert-base": _torch_model(lambda: _nets().BertEncoder(), _tokens(128, 30522)),
    # small models of the same building blocks, for tests and quick checks
    "small-cnn": _torch_model(lambda: _nets().SmallCNN(), _image(16, channels=4)),
    "bert-tiny": _torch_model(
        lambda: _nets().BertEncoder(layers=2, hidden=64, heads=4, intermediate=256, vocab=1000, max_pos=64),
        _tokens(16, 1000),
    ),
    "int8-mlp": _int8_model("mlp"),
    "int8-cnn": _int8_model("cnn"),
}


def load_model(name: str, *, batch: int = 1, seed: int = 0) -> Model:
    """Build the model ``name`` (see :data:`MODELS`) at ``batch`` with seeded weights and inputs."""
    if name not in MODELS:
        raise HeronError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    if batch < 1:
        raise HeronError(f"batch must be positive, got {batch}")
    return attrs.evolve(MODELS[name](batch, seed), name=name)
