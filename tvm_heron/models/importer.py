"""Import a PyTorch module into Relax through ``torch.export`` (weights kept as parameters).

:func:`import_torch` builds one of the package's networks with seeded weights;
:func:`import_torch_factory` takes a user's ``factory() -> (nn.Module, example inputs)``
as it is (``tvm-heron tune-model --torch MODULE:FACTORY``).
"""

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
    from .nets import randomize_norms  # pylint: disable=import-outside-toplevel

    torch.manual_seed(seed)
    module = factory().eval()
    randomize_norms(module, torch.Generator().manual_seed(seed))
    inputs = example_inputs(specs, seed)
    return export_module(module, [torch.from_numpy(x) for x in inputs])


def export_module(module, tensors, *, name: str | None = None) -> Model:
    """Convert ``module`` (as it is: its weights are kept) on example ``tensors`` to Relax.

    The reference is the module's own output on ``tensors``.
    """
    torch = _require_torch()
    from tvm import relax  # pylint: disable=import-outside-toplevel
    from tvm.relax.frontend.torch import from_exported_program  # pylint: disable=import-outside-toplevel

    module = module.eval()
    tensors = tuple(tensors)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = module(*tensors)
        try:
            exported = torch.export.export(module, tensors)
            mod = from_exported_program(exported, keep_params_as_input=True)
        except Exception as err:  # pylint: disable=broad-except  # torch.export and the frontend raise many kinds
            raise HeronError(f"{type(module).__name__} could not be exported and converted to Relax: "
                             f"{type(err).__name__}: {str(err)[:300]}") from err
    mod, params = relax.frontend.detach_params(mod)
    outputs = reference if isinstance(reference, (tuple, list)) else (reference,)
    return Model(
        name=name or type(module).__name__,
        mod=mod,
        params=[p.numpy() for p in params.get("main", [])],
        inputs=[t.detach().numpy() for t in tensors],
        reference=[o.detach().numpy() for o in outputs],
        dtype="float32",
        exact=False,
        torch_module=module,
    )


def load_factory(spec: str) -> Callable:
    """The callable named by ``"package.module:function"`` (imported; the current directory first)."""
    import importlib  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise HeronError(f"--torch must be MODULE:FACTORY (e.g. mynet:make), got {spec!r}")
    if "" not in sys.path:
        sys.path.insert(0, "")  # as ``python -m`` does: a module in the working directory
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise HeronError(f"--torch {spec}: cannot import {module_name!r}: {err}") from err
    factory = module
    for part in attr.split("."):
        factory = getattr(factory, part, None)
        if factory is None:
            raise HeronError(f"--torch {spec}: {module_name!r} has no {attr!r}")
    if not callable(factory):
        raise HeronError(f"--torch {spec}: {attr!r} is not callable")
    return factory


def import_torch_factory(factory: Callable | str, *, seed: int = 0, name: str | None = None) -> Model:
    """Import the model of a user's ``factory() -> (nn.Module, example inputs)``.

    ``factory`` may be the callable or its ``"module:function"`` name. The
    example inputs are one tensor or a sequence of tensors (numpy arrays are
    accepted); the torch seed is set to ``seed`` before the call.
    """
    torch = _require_torch()
    spec = factory if isinstance(factory, str) else None
    if spec is not None:
        factory = load_factory(spec)
    torch.manual_seed(seed)
    made = factory()
    if not (isinstance(made, (tuple, list)) and len(made) == 2 and isinstance(made[0], torch.nn.Module)):
        raise HeronError(f"{spec or getattr(factory, '__name__', 'the factory')} must return "
                         f"(nn.Module, example inputs), got {type(made).__name__}")
    module, example = made
    example = example if isinstance(example, (tuple, list)) else (example,)
    tensors = [t if isinstance(t, torch.Tensor) else torch.as_tensor(np.asarray(t)) for t in example]
    return export_module(module, tensors, name=name or (spec.partition(":")[2] if spec else None))
