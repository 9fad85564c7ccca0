"""A network ready for tuning: a Relax module with its weights, inputs and reference."""

from __future__ import annotations

import attrs
import numpy as np


@attrs.frozen
class Model:
    """A network ready for tuning.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``resnet50``.
    mod : tvm.IRModule
        Relax module whose ``main`` takes ``inputs`` then ``params``.
    params : list of numpy.ndarray
        Weights, in the order of ``main``'s parameters after the inputs.
    inputs : list of numpy.ndarray
        Example inputs (seeded).
    reference : list of numpy.ndarray
        The outputs of the reference implementation on ``inputs``
        (PyTorch for float32, numpy integer arithmetic for int8).
    dtype : str
        ``float32`` or ``int8`` (u8 activations x s8 weights -> s32).
    exact : bool
        Whether the outputs must equal the reference exactly (integer models).
    torch_module : object
        The PyTorch module (float32 models), for baselines; None otherwise.
    fallbacks : tuple of tvm_heron.relax.qdq.GraphFallback
        Parts of an imported quantized model that stay float, with the reason
        (empty for every other model).
    quant_steps : tuple of (float or None)
        Per output: the quantization step of an output dequantized from
        integers (a QDQ model), which the output must match the reference to
        within; None (or an empty tuple) compares to the float tolerance.
    """

    name: str
    mod: object
    params: list
    inputs: list
    reference: list
    dtype: str
    exact: bool = False
    torch_module: object = None
    fallbacks: tuple = ()
    quant_steps: tuple = ()

    @property
    def num_params(self) -> int:
        """Number of weight elements."""
        return int(sum(np.prod(p.shape) for p in self.params))
