"""Build checks of CUDA programs without a GPU: CUDA C from TVM, PTX from nvcc, wmma in the PTX.

``tvm.compile`` for a CUDA target works without a driver: the module carries
the generated CUDA C. This module compiles that source with the local
``nvcc -ptx`` for each architecture asked for and checks that the PTX holds
the TensorCore instruction (``wmma.mma.sync``), the checks the TensorCore
tests and ``benchmarks/tensorcore_validity.py`` apply to every candidate.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import attrs
import tvm

#: The PTX instruction of a TensorCore multiply-accumulate.
WMMA_PTX = "wmma.mma.sync"
#: Architectures checked by default (A100, H100).
ARCHS = ("sm_80", "sm_90")


@attrs.frozen
class BuildCheck:
    """The outcome of :func:`check_build`.

    ``stage`` names the first check that failed (``"compile"``, ``"nvcc
    sm_80"``, ``"wmma sm_90"``...), or is ``"ok"``; ``message`` says why.
    """

    stage: str
    message: str = ""

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return self.stage == "ok"


def nvcc_path() -> str | None:
    """The ``nvcc`` on PATH, or None."""
    return shutil.which("nvcc")


def cuda_source(mod, target) -> str:
    """CUDA C of ``mod`` compiled for ``target`` (no GPU needed)."""
    executable = tvm.compile(mod, target=target)
    imports = list(executable.mod.imports)
    if not imports:
        raise RuntimeError("the compiled module carries no device code")
    return imports[0].inspect_source()


def ptx_of(source: str, arch: str, *, nvcc: str | None = None, timeout_s: float = 120.0) -> str:
    """PTX of a CUDA C source for ``arch`` (e.g. ``"sm_80"``).

    Raises
    ------
    RuntimeError
        When nvcc is missing or rejects the source (its message included).
    """
    nvcc = nvcc or nvcc_path()
    if nvcc is None:
        raise RuntimeError("nvcc not found on PATH")
    with tempfile.TemporaryDirectory(prefix="heron_nvcc_") as tmp:
        src, ptx = Path(tmp) / "kernel.cu", Path(tmp) / "kernel.ptx"
        src.write_text(source)
        done = subprocess.run(
            [nvcc, f"-arch={arch}", "-ptx", str(src), "-o", str(ptx)],
            capture_output=True, text=True, timeout=timeout_s, check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"nvcc -arch={arch} failed: {done.stderr.strip()[-2000:]}")
        return ptx.read_text()


def check_build(mod, target, *, archs: Sequence[str] = ARCHS, nvcc: bool = True) -> BuildCheck:
    """Compile ``mod`` to CUDA C, then (``nvcc``) to PTX for each arch; look for wmma.

    Never raises for a failing program: the first failing stage is returned.
    """
    try:
        source = cuda_source(mod, target)
    except Exception as err:  # pylint: disable=broad-except  # TVM raises many types
        return BuildCheck("compile", str(err).strip().splitlines()[-1][:500] if str(err) else "")
    if not nvcc:
        return BuildCheck("ok")
    for arch in archs:
        try:
            ptx = ptx_of(source, arch)
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            return BuildCheck(f"nvcc {arch}", str(err)[:500])
        if WMMA_PTX not in ptx:
            return BuildCheck(f"wmma {arch}", f"no {WMMA_PTX} in the PTX")
    return BuildCheck("ok")
