"""Golden sketches of Heron's rules, in the style of MetaSchedule's own rule tests.

Each case generates the design spaces of a small workload and compares every
sketch with its golden file under ``tests/golden/``: the same number of
sketches, the same sampling instructions with the same decisions, and the
same scheduled IR (parsed back and compared structurally, global symbols
aside), and the trace survives a JSON round trip.  A rule change that alters
a sketch fails here; if the change is intended, regenerate the files with
``HERON_UPDATE_GOLDEN=1 pytest tests/test_golden_sketches.py`` and review the
diff as part of the change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import tvm
from helpers import isa_target
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.testing.space_generation import structural_equal_no_gs
from tvm.s_tir.schedule.testing import verify_trace_roundtrip

from tvm_heron import isa
from tvm_heron.ops import make_workload
from tvm_heron.space import heron_space
from tvm_heron.target import parse_target

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("HERON_UPDATE_GOLDEN") == "1"

#: name -> (operator, shape, dtype, target). Built, never run: any host.
CASES = {
    "dlboost_vnni512_gemm_int8": ("gemm", (16, 32, 64), "int8", lambda: isa_target(isa.by_name("avx512_vnni"))),
    "dlboost_avx2_gemm_int8": ("gemm", (16, 32, 64), "int8", lambda: isa_target(isa.by_name("avx2"))),
    "dlboost_fma512_gemm_fp32": ("gemm", (16, 32, 16), "float32", lambda: isa_target(isa.by_name("avx512"))),
    "tensorcore_gemm_fp16": ("gemm", (32, 32, 32), "float16", lambda: parse_target("nvidia/nvidia-a100")),
}


def _decisions(sketch) -> list:
    """[instruction kind, decision] of every sampling instruction, in trace order."""
    out = []
    for inst in sketch.trace.insts:
        if inst.kind.name.startswith("Sample"):
            decision = sketch.trace.decisions.get(inst)
            out.append([inst.kind.name, _plain(decision)])
    return out


def _plain(decision):
    """A decision as JSON-ready Python: an int, a list of ints, or None."""
    if decision is None:
        return None
    if hasattr(decision, "__len__"):
        return [int(x) for x in decision]
    return int(decision)


def _sketches(op, shape, dtype, target):
    mod = tvm.IRModule({"main": make_workload(op, shape, dtype).func})
    ctx = ms.TuneContext(mod=mod, target=target, space_generator=heron_space(target), task_name="main",
                         rand_state=1, num_threads=1)
    return mod, list(ctx.generate_design_space())


@pytest.mark.parametrize("name", sorted(CASES))
def test_sketches_match_golden(name):
    op, shape, dtype, target = CASES[name]
    mod, sketches = _sketches(op, shape, dtype, target())
    got = [{"decisions": _decisions(s), "script": s.mod.script()} for s in sketches]
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        path.write_text(json.dumps({"workload": [op, list(shape), dtype], "sketches": got}, indent=1) + "\n")
    golden = json.loads(path.read_text())["sketches"]
    assert len(sketches) == len(golden), f"{name}: {len(sketches)} sketches, golden has {len(golden)}"
    for i, (sketch, want) in enumerate(zip(sketches, golden)):
        assert got[i]["decisions"] == want["decisions"], f"{name} sketch {i}: decisions differ"
        expected = tvm.script.from_source(want["script"])
        assert structural_equal_no_gs(sketch.mod, expected), f"{name} sketch {i}: IR differs from the golden"
        verify_trace_roundtrip(sch=sketch, mod=mod, text_format="json")
