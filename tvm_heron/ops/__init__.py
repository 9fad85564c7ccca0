"""Operator definitions (TensorIR from TE) with numpy references."""

from .gemm import pack_vnni_weight
from .registry import DTYPES, FIELDS, LAYOUTS, make_workload
from .workload import Workload

__all__ = ["DTYPES", "FIELDS", "LAYOUTS", "Workload", "make_workload", "pack_vnni_weight"]
