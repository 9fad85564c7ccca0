"""Operator definitions (TensorIR from TE) with numpy references."""

from .conv import conv_nd, conv_reference
from .epilogue import EPILOGUES, requant_params
from .gemm import gemm_packed, gemm_plain
from .layout import (
    PACK,
    oihw_to_ohwi,
    pack_conv_weight,
    pack_vnni_weight,
    pack_weight,
    transposed_conv_weight,
)
from .registry import CONV_RANK, DTYPES, FIELDS, LAYOUTS, make_workload
from .transposed import conv_transpose_nd, conv_transpose_reference
from .workload import Workload

__all__ = [
    "CONV_RANK",
    "DTYPES",
    "EPILOGUES",
    "FIELDS",
    "LAYOUTS",
    "PACK",
    "Workload",
    "conv_nd",
    "conv_reference",
    "conv_transpose_nd",
    "conv_transpose_reference",
    "gemm_packed",
    "gemm_plain",
    "make_workload",
    "oihw_to_ohwi",
    "pack_conv_weight",
    "pack_vnni_weight",
    "pack_weight",
    "requant_params",
    "transposed_conv_weight",
]
