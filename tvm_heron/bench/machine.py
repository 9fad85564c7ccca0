"""A description of the machine a benchmark ran on (from /proc/cpuinfo; no TVM)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

#: CPU flags worth naming in a report (Linux /proc/cpuinfo spellings).
NOTABLE_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "amx_bf16")


def _cpuinfo(path: str | Path = "/proc/cpuinfo") -> dict[str, str]:
    """The first processor's ``key: value`` pairs ({} where the file is absent)."""
    fields: dict[str, str] = {}
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
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


def cpu_model(path: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's model name, or the platform's processor string."""
    return _cpuinfo(path).get("model name") or platform.processor() or "unknown CPU"


def cpu_flags(path: str | Path = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags (empty where unknown)."""
    return set(_cpuinfo(path).get("flags", "").split())


def describe(cores: int, path: str | Path = "/proc/cpuinfo") -> dict:
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
