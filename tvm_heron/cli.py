"""The ``tvm-heron`` command line (also ``python -m tvm_heron``).

Subcommands
-----------
tune        tune one operator and optionally write a JSON summary
tune-model  tune a whole network (Relax) and check it against its reference
space       print the constraint model of each design space of an operator
info        the CPU, its instruction set and what Heron's space uses on it
db          check, count, export or import a tuning database
quickstart  tune int8 GEMM 64x64x64 on this CPU; print PASS and the latency
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from .checks import C_INT_MAX
from .errors import HeronError

#: Exit status for bad input (argparse uses 2 as well).
EXIT_BAD_INPUT = 2
#: Exit status when the tuned kernel is wrong or nothing valid was found.
EXIT_FAIL = 1


def _shape(text: str) -> list[int]:
    try:
        return [int(x) for x in text.replace("x", ",").split(",") if x.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"shape must be integers separated by commas: {text!r}") from err


def _integer(minimum: int):
    """An argparse type: an integer in [minimum, 2**31 - 1] (MetaSchedule takes a C int)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if not minimum <= value <= C_INT_MAX:
            raise argparse.ArgumentTypeError(
                f"must be an integer in [{minimum}, {C_INT_MAX}], got {value}")
        return value

    return parse


_positive = _integer(1)
_non_negative = _integer(0)


def _add_workload_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--op", required=True, help="operator name, e.g. gemm")
    parser.add_argument("--shape", required=True, type=_shape, help="shape fields, e.g. 64,64,64 (M,K,N)")
    parser.add_argument(
        "--dtype",
        default="int8",
        help="int8 (u8 x s8 -> s32), float32 (CPU) or float16 (TensorCore, with a CUDA --target)",
    )
    parser.add_argument(
        "--acc-dtype",
        default=None,
        choices=("float32",),
        help="float16 only: accumulate (and output) in float32 instead of float16",
    )
    parser.add_argument(
        "--layout",
        default=None,
        choices=("packed", "plain"),
        help="weight layout the kernel takes: packed 16-lane tiles (the CPU default) or the user's "
        "plain layout ([N,K], OHWI; float16 has only this one), packed inside the kernel",
    )
    parser.add_argument(
        "--data-layout",
        default=None,
        choices=("NHWC", "NCHW"),
        help="activation layout of convolutions: channels last (default) or first",
    )
    parser.add_argument(
        "--epilogue",
        default="none",
        choices=("none", "bias_relu", "requant"),
        help="fused epilogue: bias + ReLU, or (int8) bias + requantize + ReLU to uint8",
    )
    parser.add_argument(
        "--int8-range",
        default="u8",
        choices=("u8", "u7"),
        help="int8 activations: u8 (0..255, default) or u7 (0..127, 7-bit quantized data): lets "
        "AVX2 without VNNI use vpmaddubsw, which is wrong for activations above 127",
    )
    parser.add_argument("--target", default=None, help="'host' (default), a JSON dict or a tag")
    parser.add_argument("--space", default="heron", choices=("heron", "default"))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``tvm-heron``."""
    parser = argparse.ArgumentParser(prog="tvm-heron", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log MetaSchedule's progress")
    sub = parser.add_subparsers(dest="command", required=True)

    tune = sub.add_parser("tune", help="tune one operator")
    _add_workload_args(tune)
    tune.add_argument("--strategy", default="heron-cga")
    tune.add_argument("--trials", type=_positive, default=64, help="measurement budget")
    tune.add_argument("--trials-per-round", type=_positive, default=16)
    tune.add_argument("--work-dir", default="runs/tvm-heron", help="database and logs")
    tune.add_argument("--seed", type=_non_negative, default=None)
    tune.add_argument("--json", default=None, metavar="FILE", help="write a JSON summary")
    tune.add_argument("--rpc-tracker", default=None, metavar="HOST:PORT",
                      help="measure on the RPC servers of this tracker (default: locally)")
    tune.add_argument("--rpc-key", default=None, help="the key the RPC servers registered with")
    tune.add_argument("--rpc-wait", type=_positive, default=60,
                      help="seconds to wait for an RPC server before a batch, then stop (default 60)")

    model = sub.add_parser("tune-model", help="tune a whole network through Relax")
    source = model.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="a built-in network: resnet50, bert-base, vgg16, inception-v3, ...")
    source.add_argument("--onnx", metavar="FILE",
                        help="an ONNX model, float or QDQ int8 (reference: ONNX Runtime's outputs)")
    source.add_argument("--torch", metavar="MODULE:FACTORY",
                        help="a Python callable returning (nn.Module, example inputs)")
    model.add_argument("--input", action="append", default=[], metavar="NAME=SHAPE",
                       help="--onnx: static shape of an input, e.g. input=1,3,224,224 (needed for "
                       "every dynamic dimension; repeat for several inputs)")
    model.add_argument("--batch", type=_positive, default=1, help="--model: batch size")
    model.add_argument("--target", default=None, help="'host' (default), a JSON dict or a tag")
    model.add_argument("--space", default="heron", choices=("heron", "default"))
    model.add_argument("--strategy", default="heron-cga")
    model.add_argument("--trials", type=_non_negative, default=256,
                       help="global budget over all tasks (0: no tuning)")
    model.add_argument("--trials-per-round", type=_positive, default=8)
    model.add_argument("--max-trials-per-task", type=_positive, default=None)
    model.add_argument("--work-dir", default="runs/tvm-heron-model", help="database and logs")
    model.add_argument("--seed", type=_non_negative, default=None)
    model.add_argument("--no-untuned", action="store_true", help="skip timing the untuned model")
    model.add_argument("--warm-weights", action="store_true",
                       help="CPU: measure kernels with warm caches (MetaSchedule's default); by default "
                       "each kernel runs with its weights flushed from the caches, as in the model")
    model.add_argument(
        "--build-only",
        action="store_true",
        help="no device needed: build the model with one solver-sampled program of each "
        "tensorized task (e.g. CUDA on a machine without a GPU); nothing is measured",
    )
    model.add_argument("--json", default=None, metavar="FILE", help="write a JSON summary")

    space = sub.add_parser("space", help="print the constraint model of each design space")
    _add_workload_args(space)

    info = sub.add_parser("info", help="this CPU's instruction set and Heron's intrinsics for it")
    info.add_argument("--target", default=None, help="'host' (default) or a JSON dict of a CPU")
    info.add_argument("--json", default=None, metavar="FILE", help="also write the report as JSON")

    db = sub.add_parser("db", help="check, count, export or import a tuning database")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    for name, text in (("check", "problems of a database or JSON work dir, with file and line"),
                       ("stats", "workloads, records, valid and failed by kind, per target")):
        command = db_sub.add_parser(name, help=text)
        command.add_argument("location", help="work directory or .sqlite file")
        command.add_argument("--json", default=None, metavar="FILE", help="also write the report as JSON")
    export = db_sub.add_parser("export", help="write the JSON pair MetaSchedule's JSONDatabase loads")
    export.add_argument("location", help="work directory or .sqlite file")
    export.add_argument("out", help="directory for database_workload.json / database_tuning_record.json")
    export.add_argument("--target", default=None, help="only this target's records (a JSON dict)")
    export.add_argument("--json", default=None, metavar="FILE", help="also write the counts as JSON")
    imp = db_sub.add_parser("import", help="import a MetaSchedule JSON work directory (tolerantly)")
    imp.add_argument("source", help="directory with database_workload.json and database_tuning_record.json")
    imp.add_argument("location", help="work directory or .sqlite file to import into")
    imp.add_argument("--json", default=None, metavar="FILE", help="also write the report as JSON")

    quick = sub.add_parser("quickstart", help="tune int8 GEMM 64^3 on this CPU, print PASS")
    quick.add_argument("--trials", type=_positive, default=32)
    quick.add_argument("--work-dir", default="runs/quickstart")
    quick.add_argument("--seed", type=_non_negative, default=1)
    quick.add_argument("--strategy", default="heron-cga")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        if args.command == "tune":
            return _tune(args)
        if args.command == "tune-model":
            return _tune_model(args)
        if args.command == "space":
            return _space(args)
        if args.command == "info":
            return _info(args)
        if args.command == "db":
            from .db_cli import run_db  # pylint: disable=import-outside-toplevel

            return run_db(args, _write_json)
        return _quickstart(args)
    except HeronError as err:
        print(f"tvm-heron: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _workload_and_target(args):
    from .ops import make_workload  # pylint: disable=import-outside-toplevel
    from .target import parse_target  # pylint: disable=import-outside-toplevel

    workload = make_workload(
        args.op,
        args.shape,
        args.dtype,
        layout=args.layout,
        data_layout=args.data_layout,
        epilogue=args.epilogue,
        acc_dtype=args.acc_dtype,
        int8_range=args.int8_range,
    )
    return workload, parse_target(args.target)


def _check_outputs(args) -> None:
    """Exit 2 before any work if the work directory or the JSON summary cannot be written."""
    from .checks import writable_dir, writable_file  # pylint: disable=import-outside-toplevel

    writable_dir(args.work_dir)
    if args.json:
        writable_file(args.json)


def _search_options(args) -> dict:
    """The arguments ``tune`` and ``tune_model`` share, from the command line."""
    return {"work_dir": args.work_dir, "trials": args.trials, "strategy": args.strategy,
            "space": args.space, "seed": args.seed, "trials_per_round": args.trials_per_round}


def _tune(args) -> int:
    from .tuning import tune  # pylint: disable=import-outside-toplevel

    _check_outputs(args)
    workload, target = _workload_and_target(args)
    result = tune(workload, target=target, runner=_rpc_runner(args), **_search_options(args))
    _write_json(args.json, result)
    _report(result, workload)
    return 0 if result.correct else EXIT_FAIL


def _rpc_runner(args):
    """The RPC runner of ``--rpc-tracker`` / ``--rpc-key`` (None: measure locally)."""
    if args.rpc_tracker is None and args.rpc_key is None:
        return None
    if args.rpc_tracker is None or args.rpc_key is None:
        raise HeronError("--rpc-tracker and --rpc-key go together")
    from .rpc import TrackedRPCRunner, parse_tracker, wait_for_servers  # pylint: disable=import-outside-toplevel
    from .threads import usable_cores  # pylint: disable=import-outside-toplevel

    host, port = parse_tracker(args.rpc_tracker)
    runner = TrackedRPCRunner(tracker_host=host, tracker_port=port, tracker_key=args.rpc_key,
                              max_workers=usable_cores(), wait_s=args.rpc_wait)
    wait_for_servers(runner.config, args.rpc_wait)  # before any tuning: a clear error, not a hang
    return runner


def _write_json(path: str | None, result) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(result.to_json(), out, indent=1)


def _report(result, workload) -> None:
    print(f"{result.workload}: {result.valid_trials}/{result.trials} trials built and ran")
    if result.failure_summary:
        print(f"failures: {result.failure_summary}")
    if result.correct is None:
        print("FAIL: no valid kernel was found")
        return
    print("PASS" if result.correct else f"FAIL: max abs error {result.max_abs_error}")
    print(f"Case {list(workload.shape)}, latency {result.best_latency_s * 1e3:.6f} ms.")


def _tune_model(args) -> int:
    from .relax.tune import tune_model  # pylint: disable=import-outside-toplevel
    from .target import parse_target  # pylint: disable=import-outside-toplevel

    _check_outputs(args)
    target = parse_target(args.target)
    model = _load_model(args)
    if args.build_only:
        return _build_model_only(model, target, args.seed or 0)
    result = tune_model(model, target=target, max_trials_per_task=args.max_trials_per_task,
                        measure_untuned=not args.no_untuned, cold_weights=not args.warm_weights,
                        **_search_options(args))
    _write_json(args.json, result)
    print(result.table())
    tensorized = sum(t.tensorized for t in result.tasks)
    shape = f"batch {args.batch}" if args.model else "inputs " + ", ".join(str(list(x.shape)) for x in model.inputs)
    print(f"{model.name} {shape}: {len(result.tasks)} tasks, {tensorized} tensorized, "
          f"{len(result.fallbacks)} fell back; tuning {result.tuning_seconds:.1f} s")
    for graph_fallback in result.graph_fallbacks:
        print(f"  fallback (float, not integer) {graph_fallback.text()}")
    for task in result.fallbacks:
        print(f"  fallback {task.name}: {task.fallback}")
    if result.untuned_latency_s is not None:
        print(f"untuned latency {result.untuned_latency_s * 1e3:.4f} ms")
    print("PASS" if result.correct else f"FAIL: max abs error {result.max_abs_error}")
    print(f"Model {model.name}, latency {result.latency_s * 1e3:.4f} ms.")
    return 0 if result.correct else EXIT_FAIL


def _load_model(args):
    """The model of ``--model``, ``--onnx`` (with ``--input``) or ``--torch``."""
    if args.input and not args.onnx:
        raise HeronError("--input gives the shapes of an --onnx model's inputs")
    if args.batch != 1 and not args.model:
        raise HeronError("--batch applies to --model; an --onnx model's shapes come from --input, "
                         "a --torch model's from its example inputs")
    if args.onnx:
        from .models import import_onnx  # pylint: disable=import-outside-toplevel
        from .models.onnx_import import parse_input_shape  # pylint: disable=import-outside-toplevel

        shapes = dict(parse_input_shape(text) for text in args.input)
        return import_onnx(args.onnx, shapes, seed=args.seed or 0)
    if args.torch:
        from .models import import_torch_factory  # pylint: disable=import-outside-toplevel

        return import_torch_factory(args.torch, seed=args.seed or 0)
    from .models import load_model  # pylint: disable=import-outside-toplevel

    return load_model(args.model, batch=args.batch, seed=args.seed or 0)


def _build_model_only(model, target, seed: int) -> int:
    from .relax.verify import build_sampled, cuda_source  # pylint: disable=import-outside-toplevel

    check = build_sampled(model, target, seed=seed)
    for plan in check.plans:
        state = "sampled" if plan.name in check.sampled else (plan.fallback or "not sampled")
        print(f"{plan.name}: {plan.space} ({plan.intrinsic or '-'}): {state}")
    for name, reason in check.failed:
        print(f"  failed {name}: {reason}")
    source = cuda_source(check.executable)
    extra = f"; CUDA source with {source.count('mma_sync')} wmma mma_sync calls" if source else ""
    print(f"BUILT {model.name} for {target.kind.name}: {len(check.sampled)} tensorized tasks "
          f"with a sampled program, {len(check.failed)} failed{extra}")
    return 0 if not check.failed else EXIT_FAIL


def _space(args) -> int:
    import tvm  # pylint: disable=import-outside-toplevel
    from tvm.s_tir import meta_schedule as ms  # pylint: disable=import-outside-toplevel

    from .space import analyze, heron_space  # pylint: disable=import-outside-toplevel
    from .tuning import check_supported  # pylint: disable=import-outside-toplevel

    workload, target = _workload_and_target(args)
    check_supported(workload, target, args.space)
    mod = tvm.IRModule({"main": workload.func})
    generator = heron_space(target) if args.space == "heron" else "post-order-apply"
    ctx = ms.TuneContext(mod=mod, target=target, space_generator=generator, task_name="main")
    for index, design_space in enumerate(ctx.generate_design_space()):
        print(f"# design space {index}")
        print(analyze(design_space, mod, target).model.dump())
    return 0


def _info(args) -> int:
    from .info import describe  # pylint: disable=import-outside-toplevel
    from .target import parse_target  # pylint: disable=import-outside-toplevel

    report = describe(parse_target(args.target))
    _write_json(args.json, report)
    print(report.text())
    return 0


def _quickstart(args) -> int:
    from .ops import make_workload  # pylint: disable=import-outside-toplevel
    from .target import host_target  # pylint: disable=import-outside-toplevel
    from .tuning import tune  # pylint: disable=import-outside-toplevel

    workload = make_workload("gemm", (64, 64, 64), "int8")
    result = tune(
        workload,
        target=host_target(),
        work_dir=args.work_dir,
        trials=args.trials,
        strategy=args.strategy,
        seed=args.seed,
    )
    _report(result, workload)
    return 0 if result.correct else EXIT_FAIL
