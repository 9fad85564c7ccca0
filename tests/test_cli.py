"""The command line: bad input gets a clear error and exit status; a real tuning run."""

from __future__ import annotations

import json
import sys
from unittest import mock

import pytest

from tvm_heron.cli import EXIT_BAD_INPUT, main

CASCADELAKE = '{"kind":"llvm","mcpu":"cascadelake"}'
AARCH64 = '{"kind":"llvm","mtriple":"aarch64-linux-gnu","mattr":["+neon","+dotprod","+i8mm"]}'


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--op", "softmax", "--shape", "4,4,4"], "unknown operator 'softmax'"),
        (["--op", "gemm", "--shape", "64,64"], "gemm takes 3 shape fields (M,K,N)"),
        (["--op", "gemm", "--shape", "64,0,64"], "K must be positive"),
        (["--op", "gemm", "--shape", "64,64,64", "--dtype", "float64"], "not 'float64'"),
        (["--op", "gemm", "--shape", "64,64,64", "--dtype", "float16"], "TensorCore only"),
        (
            ["--op", "gemm", "--shape", "64,64,64", "--target", '{"kind":"llvm","mcpu":"sandybridge"}'],
            "CPU sandybridge (x86_64) has none of the instruction sets",
        ),
        (["--op", "t2d", "--shape", "1,6,6,32,16,3,3,2,3,1,0"], "at most dilation*(KH-1) = 2"),
        (
            ["--op", "gemm", "--shape", "64,64,64", "--dtype", "float32", "--int8-range", "u7"],
            "means nothing for float32",
        ),
        (
            ["--op", "gemm", "--shape", "64,64,64", "--int8-range", "u7", "--target", CASCADELAKE],
            "--int8-range u7 means nothing on cascadelake",
        ),
        (["--op", "gemm", "--shape", "64,64,64", "--target", AARCH64], "can be built here but not run"),
        (["--op", "gemm", "--shape", "64,64,64", "--trials", "0"], "must be an integer in [1, 2147483647]"),
        (["--op", "gemm", "--shape", "64,64,64", "--trials", "4294967297"], "got 4294967297"),
        (["--op", "gemm", "--shape", "64,64,64", "--seed", "-1"], "must be an integer in [0, 2147483647]"),
        (["--op", "gemm", "--shape", "64,64,64", "--data-layout", "NCHW"],
         "--data-layout applies to convolutions only"),
        (["--op", "gemm", "--shape", f"{10**20},64,64"], "larger than 2147483647"),
        (["--op", "gemm", "--shape", f"{2**31 - 1},64,64"], "more than this machine's"),
        (["--op", "gemm", "--shape", "64,64,64", "--json", "/no/such/dir/out.json"],
         "directory /no/such/dir does not exist"),
        (["--op", "gemm", "--shape", "64,64,64", "--rpc-key", "k"], "--rpc-tracker and --rpc-key go together"),
        (["--op", "gemm", "--shape", "64,64,64", "--rpc-tracker", "nohost", "--rpc-key", "k"],
         "--rpc-tracker must be HOST:PORT"),
        (["--op", "gemm", "--shape", "64,64,64", "--strategy", "magic"], "unknown strategy 'magic'"),
        (["--op", "gemm", "--shape", "64,64,64", "--target", "not-a-target"], "cannot parse target"),
    ],
)
def test_bad_input(argv, message, capsys, tmp_path):
    """Every row: exit 2 and a message naming the problem, before any tuning (no traceback)."""
    status = _status(["tune", *argv, "--work-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == EXIT_BAD_INPUT, err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "tuning.sqlite").exists()  # nothing started


def _status(argv) -> int:
    try:
        return main(argv)
    except SystemExit as done:  # argparse's own errors exit 2 too
        return int(done.code)


@pytest.mark.parametrize("work_dir, message", [
    ("file", "is a file, not a directory"),
    ("/proc/heron-work", "is not writable"),
])
def test_unusable_work_dir(work_dir, message, capsys, tmp_path):
    if work_dir == "file":
        work_dir = tmp_path / "f"
        work_dir.write_text("x")
    status = _status(["tune", "--op", "gemm", "--shape", "64,64,64", "--work-dir", str(work_dir)])
    assert status == EXIT_BAD_INPUT and message in capsys.readouterr().err


def test_an_infeasible_space_exits_2(monkeypatch, capsys, tmp_path):
    from tvm_heron import tuning

    monkeypatch.setattr(tuning, "space_problem", lambda *_: "no design space with a feasible model")
    status = main(["tune", "--op", "gemm", "--shape", "64,64,64", "--work-dir", str(tmp_path)])
    assert status == EXIT_BAD_INPUT
    assert "heron-cga cannot search it: no design space with a feasible model" in capsys.readouterr().err


def test_cpu_without_a_described_set_error_suggests_fallback(capsys, tmp_path):
    target = '{"kind":"llvm","mcpu":"sandybridge"}'
    main(["tune", "--op", "gemm", "--shape", "64,64,64", "--target", target, "--work-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert "--space default" in err and "avx2 (avx2+fma)" in err


@pytest.mark.parametrize("target, name", [
    ('{"kind":"llvm","mcpu":"znver3"}', "avx2"), ('{"kind":"llvm","mcpu":"alderlake"}', "avx_vnni"),
    ('{"kind":"llvm","mcpu":"skylake-avx512"}', "avx512"), (CASCADELAKE, "avx512_vnni"),
    (AARCH64, "neon_i8mm"),
])
def test_space_and_info_accept_any_described_target(capsys, tmp_path, target, name):
    """Built, never run: the target's own description, whatever this machine is."""
    assert main(["info", "--target", target, "--json", str(tmp_path / "i.json")]) == 0
    assert json.loads((tmp_path / "i.json").read_text())["instruction_set"] == name
    assert main(["space", "--op", "gemm", "--shape", "32,32,32", "--target", target]) == 0
    assert capsys.readouterr().out.count("# design space") == 6


def test_info_of_this_machine(capsys):
    from helpers import HOST_ISA

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"instruction set: {HOST_ISA.name}" in out
    assert HOST_ISA.intrinsics_for("int8")[0].name in out


def test_space_prints_the_constraint_model(capsys):
    assert main(["space", "--op", "gemm", "--shape", "64,64,64"]) == 0
    out = capsys.readouterr().out
    # (2 write-back levels, no output cache) x (parallel, serial)
    assert out.count("# design space") == 6
    assert "split of loop i" in out and "register tile" in out


def test_module_entry_point_help(capsys):
    """``python -m tvm_heron --help``, as runpy runs it (real ``-m`` processes: test_database)."""
    import runpy

    with mock.patch.object(sys, "argv", ["tvm_heron", "--help"]), pytest.raises(SystemExit) as done:
        runpy.run_module("tvm_heron", run_name="__main__")
    assert done.value.code == 0
    assert "quickstart" in capsys.readouterr().out


@pytest.mark.slow
def test_tune_writes_summary_and_kernel_is_exact(tmp_path):
    """A real (short) tuning run through the CLI; every measured point was feasible."""
    summary = tmp_path / "g.json"
    argv = ["tune", "--op", "gemm", "--shape", "64,64,64", "--dtype", "int8", "--trials", "8",
            "--trials-per-round", "8", "--strategy", "heron-crand", "--work-dir",
            str(tmp_path / "run"), "--seed", "1", "--json", str(summary)]
    assert main(argv) == 0
    data = json.loads(summary.read_text())
    assert data["trials"] == 8 and data["valid_trials"] == 8
    assert data["correct"] is True and data["max_abs_error"] == 0
    assert data["best_latency_s"] > 0
    assert data["strategy"] == "heron-crand" and data["workload"] == "gemm_64x64x64_int8"
    _all_records_feasible(tmp_path / "run", 64)


def _all_records_feasible(work_dir, n):
    from helpers import HOST, design_spaces

    from tvm_heron.database import open_database
    from tvm_heron.ops import make_workload
    from tvm_heron.space import analyze

    workload = make_workload("gemm", (n, n, n), "int8")
    mod, _, spaces = design_spaces(workload)
    models = [analyze(s, mod, HOST) for s in spaces]
    records = open_database(work_dir, target=HOST).get_all_tuning_records()
    assert records
    for record in records:
        points = [m.point_of(record.trace) for m in models]
        assert any(p is not None and m.model.is_feasible(p) for m, p in zip(models, points))
