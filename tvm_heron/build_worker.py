"""The build worker's one function, sent to the workers by value (see :mod:`tvm_heron.builder`).

Everything it uses is imported inside it: a worker imports TVM, never tvm_heron.
"""

from __future__ import annotations


def build_and_export(job) -> str:
    """Worker: build one candidate and export it; returns the artifact path."""
    # pylint: disable=import-outside-toplevel
    import os
    import tempfile

    from tvm.driver import build as tvm_build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock
    from tvm.support.tar import tar

    mod, target = job
    mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
    artifact = os.path.join(tempfile.mkdtemp(), "tvm_tmp_mod." + tar.output_format)
    tvm_build(mod, target=target).export_library(artifact, fcompile=tar)
    return artifact
