"""A description of the machine a benchmark ran on (from /proc/cpuinfo; no TVM)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from ..cpuinfo import cpu_flags, cpu_model

#: CPU flags worth naming in a report (Linux /proc/cpuinfo spellings).
NOTABLE_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "amx_bf16")


def describe(cores: int, path: str | Path | None = None) -> dict:
    """CPU model, cores used, CPUs online, notable flags, kernel and Python version."""
    flags = cpu_flags(path)
    return {
        "cpu": cpu_model(path),
        "cores_used": cores,
        "cpus_online": os.cpu_count(),
        "flags": [f for f in NOTABLE_FLAGS if f in flags],
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
