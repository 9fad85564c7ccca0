"""Import TVM's shipped tensor intrinsics (``tvm.s_tir.tensor_intrin``) in seconds, not a minute.

MetaSchedule imports ``tvm.s_tir.tensor_intrin`` when the first
``TuneContext`` is made, and its builder workers do when they start. The
package parses about 500 TVMScript functions, and TVMScript's ``prim_func``
calls ``inspect.stack()`` for each: that reads the source of every frame on
the stack, and for the import machinery's frames (``<frozen importlib...>``,
no file on disk) ``inspect`` scans all of ``sys.modules``. Measured here:
12.9 s in a bare process, 47 s inside pytest (more modules loaded), 1.9 s
with the cheaper stack below. It is what made MetaSchedule's default
``LocalBuilder`` time out on 2-core machines.

The parser reads only the first frames' source lines (``is_defined_in_class``
looks at ``frames[2]``) and the ``f_code`` / ``f_locals`` of the others
(closure variables), so inside :func:`cheap_inspect_stack` (this import, our
CPU intrinsics' import, the wmma registration) ``inspect.stack`` describes
the first :data:`_FULL_FRAMES` frames as usual and the rest without source.
It is restored afterwards; nothing else changes.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import linecache
import sys
import threading

#: Frames described with their source lines, as ``inspect.stack`` does.
_FULL_FRAMES = 3
_LOCK = threading.RLock()  # reentrant: a use nested in another must not deadlock


def _frame_with_source(frame, context: int) -> inspect.FrameInfo:
    """``inspect.getframeinfo``'s record, with the lines read from ``linecache`` by the code's file
    name. ``getframeinfo`` finds the module of each frame through ``inspect.getmodule``, which
    walks all of ``sys.modules`` when the file is not in its cache: 40% of this import's time
    with PyTorch loaded (``tvm_ffi`` imports it when it is installed)."""
    code = frame.f_code
    lineno = frame.f_lineno
    lines = linecache.getlines(code.co_filename, frame.f_globals) if context > 0 else []
    if lines:
        start = max(0, min(lineno - 1 - context // 2, len(lines) - context))
        code_context, index = lines[start:start + context], lineno - 1 - start
    else:
        code_context = index = None
    return inspect.FrameInfo(frame, code.co_filename, lineno, code.co_name, code_context, index,
                             positions=None)


def _cheap_stack(context: int = 1) -> list[inspect.FrameInfo]:
    frame = sys._getframe(1)  # pylint: disable=protected-access
    records = []
    while frame is not None:
        if len(records) < _FULL_FRAMES:
            records.append(_frame_with_source(frame, context))
        else:
            code = frame.f_code
            records.append(inspect.FrameInfo(
                frame, code.co_filename, frame.f_lineno, code.co_name, None, None, positions=None
            ))
        frame = frame.f_back
    return records


@contextlib.contextmanager
def cheap_inspect_stack():
    with _LOCK:
        original = inspect.stack
        inspect.stack = _cheap_stack
        try:
            yield
        finally:
            inspect.stack = original


def import_shipped_intrinsics() -> None:
    """Import ``tvm.s_tir.tensor_intrin`` (idempotent), with the cheap stack."""
    if "tvm.s_tir.tensor_intrin" in sys.modules:
        return
    with cheap_inspect_stack():
        importlib.import_module("tvm.s_tir.tensor_intrin")
