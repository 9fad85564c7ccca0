"""Imports flow one way: the constraint model and the genetic operators never import TVM."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tvm_heron"

_PRELUDE = f"""
import sys, types
import numpy as np

class BlockTvm:
    def find_spec(self, name, path=None, target=None):
        if name == "tvm" or name.startswith("tvm."):
            raise ImportError("tvm is blocked in this test")
        return None

sys.meta_path.insert(0, BlockTvm())
# Stub the parent package: tvm_heron/__init__.py imports TVM on purpose.
pkg = types.ModuleType("tvm_heron")
pkg.__path__ = [{str(PACKAGE)!r}]
sys.modules["tvm_heron"] = pkg

from tvm_heron.constraints import (
    ConstraintModel, CpSatSolver, Monomial, ProductEquals, TileFactor, Variable)

keys = (TileFactor(0, 0), TileFactor(0, 1))
model = ConstraintModel(
    variables=[Variable(k, domain=(1, 2, 4)) for k in keys],
    constraints=[ProductEquals(term=Monomial(keys=keys), value=4, reason="split")])
"""

_EPILOGUE = """
assert not any(m == "tvm" or m.startswith("tvm.") for m in sys.modules)
print("ok")
"""


def _run_without_tvm(body: str) -> None:
    script = _PRELUDE + textwrap.dedent(body) + _EPILOGUE
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")


def test_constraints_do_not_import_tvm():
    _run_without_tvm("assert len(CpSatSolver(model).enumerate_all()) == 3")


def test_search_does_not_import_tvm():
    _run_without_tvm(
        """
        from tvm_heron.search import ConstrainedCrossover, KnobModel, evolve
        p1, p2 = model.from_tuple((1, 4)), model.from_tuple((4, 1))
        child = ConstrainedCrossover(CpSatSolver(model))([p1, p2], np.random.default_rng(0))
        assert model.is_feasible(child)
        """
    )


def test_import_registers_every_intrinsic_a_trace_can_name():
    """A database written by an earlier process replays after a bare ``import tvm_heron``."""
    code = (
        "import tvm_heron\n"
        "from tvm.s_tir import TensorIntrin\n"
        "from tvm_heron import isa\n"
        "for name in [i.name for i in isa.intrinsics()]:\n"
        "    assert TensorIntrin.get(name, allow_missing=True) is not None, name\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_descriptions_options_outcomes_and_the_record_store_do_not_import_tvm(tmp_path):
    """Hardware knowledge, strategy options, outcomes and the SQLite store are plain Python."""
    _run_without_tvm(
        f"""
        from tvm_heron import isa
        from tvm_heron.database.jsonio import read_work_dir
        from tvm_heron.database.store import RecordStore
        from tvm_heron.outcome import FailureTally, classify
        from tvm_heron.strategies.options import CgaOptions

        assert isa.pack_tile("int8") == (16, 4) and isa.by_name("avx2").vector_registers == 16
        assert CgaOptions(seed=1).to_kwargs()["seed"] == 1
        assert classify("LocalBuilder: Timeout, killed after 30 seconds").transient
        store = RecordStore({str(tmp_path / "t.sqlite")!r})
        assert store.stats()["records"] == 0
        """
    )
