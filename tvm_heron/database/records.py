"""TuningRecord <-> JSON as MetaSchedule's JSON files write it, for every instruction a trace holds.

``TuningRecord.as_json()`` (Python) gives up on a trace with an ``IndexMap``
(a ``TransformLayout``: the DL Boost rule's in-kernel weight packing);
MetaSchedule's C++ ``JSONDumps`` writes an index map as the string of its
JSON graph, which ``TuningRecord.from_json`` reads back. This does the same.
"""

from __future__ import annotations

import tvm_ffi
from tvm.tirx import FloatImm, IntImm
from tvm.s_tir.meta_schedule import _ffi_api
from tvm.tirx import IndexMap

_TO_GRAPH = tvm_ffi.get_global_func("ffi.ToJSONGraph")
_STRINGIFY = tvm_ffi.get_global_func("ffi.json.Stringify")


def _plain(obj):
    if obj is None or isinstance(obj, (bool, int, float)):
        return obj
    if isinstance(obj, (IntImm, FloatImm)):
        return obj.value
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, IndexMap):
        return str(_STRINGIFY(_TO_GRAPH(obj, {"tvm_version": _tvm_version()}), 2))
    if isinstance(obj, (tvm_ffi.Array, list, tuple)):
        return [_plain(x) for x in obj]
    if isinstance(obj, (tvm_ffi.Map, dict)):
        return {str(k): _plain(v) for k, v in obj.items()}
    raise TypeError(f"a tuning record holds a {type(obj).__name__}, which has no JSON form")


def _tvm_version() -> str:
    import tvm  # pylint: disable=import-outside-toplevel

    return str(tvm.__version__)


def record_json(record) -> list:
    """``[trace, run_secs, target, args_info]`` of a TuningRecord as plain Python (JSON-ready)."""
    return _plain(_ffi_api.TuningRecordAsJSON(record))  # pylint: disable=no-member
