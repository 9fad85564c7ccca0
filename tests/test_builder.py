"""The persistent builder: same artifacts as LocalBuilder, failures reported per candidate."""

from __future__ import annotations

import sys

import pytest
from helpers import HOST, HOST_ISA
from test_intrinsics import _tensorized
from tvm.s_tir import meta_schedule as ms

from tvm_heron.builder import PersistentBuilder
from tvm_heron.ops import gemm as gemm_ops


def test_builds_and_reports_failures_in_order():
    intrinsic = HOST_ISA.intrinsics_for("int8")[0]  # the host's: any CPU builds its own
    good = _tensorized(gemm_ops.gemm_packed(32, 32, 32, "int8"), intrinsic)
    bad = _tensorized(gemm_ops.gemm_plain(32, 32, 32, "int8"), intrinsic)  # strided weight tile
    builder = PersistentBuilder(max_workers=1, timeout_sec=120)
    inputs = [ms.builder.BuilderInput(m, HOST) for m in (good, bad, good)]
    first = builder.build(inputs)
    assert [r.error_msg is None for r in first] == [True, False, True]
    assert "strides" in first[1].error_msg
    # The pool survives the batch (and the failure): a second batch works.
    second = builder.build(inputs[:1])
    assert second[0].error_msg is None and second[0].artifact_path


@pytest.mark.parametrize("name", ["max_workers", "timeout_sec", "max_uses"])
def test_arguments_are_validated(name):
    with pytest.raises(ValueError, match=name):
        PersistentBuilder(**{name: 0})


def test_workers_import_tvm_but_not_tvm_heron():
    """The build function travels by value: a worker's start costs TVM's import, not tvm_heron's."""
    import cloudpickle

    def loaded():
        import sys  # pylint: disable=import-outside-toplevel,redefined-outer-name,reimported

        return sorted({name.split(".")[0] for name in sys.modules if name.startswith("tvm")})

    intrinsic = HOST_ISA.intrinsics_for("int8")[0]
    good = _tensorized(gemm_ops.gemm_packed(32, 32, 32, "int8"), intrinsic)
    builder = PersistentBuilder(max_workers=1)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        (result,) = builder.build([ms.builder.BuilderInput(good, HOST)])
        assert result.error_msg is None, result.error_msg
        modules = builder._executor().submit(loaded).result()  # pylint: disable=protected-access
        assert "tvm" in modules and "tvm_heron" not in modules, modules
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        builder.shutdown()
