"""What this machine's CPU can execute, as the operating system reports it (no TVM).

LLVM names the host CPU from its family and model (``znver4``) and a target of
that name has every feature the model has. A virtual machine may hide some of
them: a Zen 4 guest whose hypervisor masks AVX-512 is still ``znver4`` to LLVM,
and its AVX-512 code dies with an illegal instruction. The kernel's
``/proc/cpuinfo`` lists what the CPU and the OS together allow (CPUID as the
guest sees it, and the register state the OS saves), so
:func:`tvm_heron.target.host_target` subtracts what it lacks.
"""

from __future__ import annotations

import functools
import platform
from collections.abc import Iterable
from pathlib import Path

#: Where Linux describes the CPU. Tests point it at a made-up file.
CPUINFO = Path("/proc/cpuinfo")

#: LLVM feature name -> Linux flag name, where the two differ. Every other
#: feature named in :data:`tvm_heron.target.X86_FEATURES` and
#: :data:`tvm_heron.target.AARCH64_FEATURES` is spelled the same in both.
LINUX_NAMES = {
    "sse4.2": "sse4_2",
    "avx512vnni": "avx512_vnni",
    "avx512bf16": "avx512_bf16",
    "avx512fp16": "avx512_fp16",
    "avxvnni": "avx_vnni",
    "amx-int8": "amx_int8",
    # aarch64 ("Features" line)
    "neon": "asimd",
    "dotprod": "asimddp",
    "fullfp16": "asimdhp",
}


@functools.lru_cache(maxsize=8)
def _first_processor(path: Path) -> dict[str, str]:
    """The first processor's ``key: value`` pairs ({} where the file is absent)."""
    fields: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return fields
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_fields(path: str | Path | None = None) -> dict[str, str]:
    """The first processor's fields of ``path`` (default :data:`CPUINFO`)."""
    return dict(_first_processor(Path(path or CPUINFO)))


def cpu_model(path: str | Path | None = None) -> str:
    """The CPU's model name, or the platform's processor string."""
    return cpu_fields(path).get("model name") or platform.processor() or "unknown CPU"


def cpu_flags(path: str | Path | None = None) -> set[str]:
    """The CPU's feature flags in Linux's spelling (x86 ``flags``, aarch64 ``Features``).

    Empty where unknown (no such file, another OS).
    """
    fields = cpu_fields(path)
    return set((fields.get("flags") or fields.get("Features") or "").split())


def lacking(llvm_features: Iterable[str], path: str | Path | None = None) -> list[str]:
    """The LLVM features among ``llvm_features`` that the OS says this CPU lacks.

    Nothing is lacking where the OS says nothing (no flags to read): LLVM's
    own view of the host then stands.
    """
    flags = cpu_flags(path)
    if not flags:
        return []
    return [f for f in llvm_features if LINUX_NAMES.get(f, f) not in flags]
