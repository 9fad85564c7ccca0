"""Import a PyTorch module into Relax through ``torch.export`` (weights kept as parameters)."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from ..errors import HeronError
from .model import Model


def _require_torch():
    try:
        import torch  # pylint: disable=import-outside-toplevel
    except ImportError as err:
        raise HeronError(
            "the float32 models are PyTorch modules imported with torch.export: "
            "install PyTorch (pip install 'tvm-heron[models]')"
        ) from err
    return torch


def example_inputs(specs, seed: int) -> list[np.ndarray]:
    """Seeded inputs: ``(dtype, shape)`` normal floats, ``(int64, shape, vocab)`` token ids."""
    rng = np.random.default_rng(seed)
    inputs = []
    for spec in specs:
        dtype, shape = spec[0], spec[1]
        if dtype == "int64":
            inputs.append(rng.integers(0, spec[2], size=shape, dtype=np.int64))
        else:
            inputs.append(rng.standard_normal(shape).astype(dtype))
    return inputs


def import_torch(factory: Callable, specs, *, seed: int = 0):
    """Build ``factory()`` with seeded weights, export it and convert it to Relax.

    Returns a :class:`~tvm_heron.models.model.Model` whose reference is
    PyTorch's output on the example inputs.
    """
    torch = _require_torch()
    from tvm import relax  # pylint: disable=import-outside-toplevel
    from tvm.relax.frontend.torch import from_exported_program  # pylint: disable=import-outside-toplevel

    from .nets import randomize_norms  # pylint: disable=import-outside-toplevel

    torch.manual_seed(seed)
    module = factory().eval()
    randomize_norms(module, torch.Generator().manual_seed(seed))
    inputs = example_inputs(specs, seed)
    tensors = tuple(torch.from_numpy(x) for x in inputs)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = module(*tensors)
        exported = torch.export.export(module, tensors)
        mod = from_exported_program(exported, keep_params_as_input=True)
    mod, params = relax.frontend.detach_params(mod)
    outputs = reference if isinstance(reference, (tuple, list)) else (reference,)
    return Model(
        name=type(module).__name__,
        mod=mod,
        params=[p.numpy() for p in params["main"]],
        inputs=inputs,
        reference=[o.detach().numpy() for o in outputs],
        dtype="float32",
        exact=False,
        torch_module=module,
    )
