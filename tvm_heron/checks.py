"""Checks of user input made before any tuning starts, each a :class:`~tvm_heron.errors.HeronError`.

A tuning run can last hours: an output path that cannot be written, a trial
count that MetaSchedule's C++ would wrap around, a shape whose buffers do
not fit in memory, must fail at once with the limit named, not after the
measurements (or inside TVM with a traceback).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import BadInputError, InvalidShapeError

#: MetaSchedule takes trial counts and seeds as C ``int``.
C_INT_MAX = 2**31 - 1


def count_in_range(name: str, value: int, *, minimum: int = 1, maximum: int = C_INT_MAX) -> int:
    """``value`` if ``minimum <= value <= maximum``; else a :class:`BadInputError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise BadInputError(f"{name} must be an integer in [{minimum}, {maximum}], got {value!r}")
    return value


def writable_dir(path: str | Path, what: str = "--work-dir") -> Path:
    """Create ``path`` as a directory if needed and check that files can be written in it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BadInputError(f"{what} {path} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as err:
        raise BadInputError(f"{what} {path} is not writable: {err.strerror or err}") from err
    return path


def writable_file(path: str | Path, what: str = "--json") -> Path:
    """Check that ``path`` can be created or overwritten (its directory exists and is writable)."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise BadInputError(f"{what} {path} is a directory, not a file")
    if not parent.is_dir():
        raise BadInputError(f"{what} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BadInputError(f"{what} {path} is not writable")
    return path


def memory_bytes() -> int:
    """Physical memory of this machine (bytes)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**40


def buffers_fit(func, name: str, *, limit: int | None = None) -> None:
    """Raise :class:`InvalidShapeError` when a PrimFunc's buffers exceed ``limit`` (memory) or int32 extents."""
    limit = memory_bytes() if limit is None else limit
    total = 0
    for buffer in func.params:  # TVM 0.27: a PrimFunc's parameters are its buffers
        if not hasattr(buffer, "shape"):
            continue
        elements = 1
        for extent in buffer.shape:
            extent = int(extent)
            if extent > C_INT_MAX:
                raise InvalidShapeError(f"{name}: buffer {buffer.name} has an extent {extent} > {C_INT_MAX}")
            elements *= extent
        total += elements * np.dtype(str(buffer.dtype)).itemsize
    if total > limit:
        raise InvalidShapeError(
            f"{name}: its buffers take {total / 2**30:.1f} GiB, more than this machine's "
            f"{limit / 2**30:.1f} GiB of memory"
        )
