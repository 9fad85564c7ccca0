"""ONNX models end to end: tvm-heron vs ONNX Runtime vs OpenVINO (vs PyTorch for float), one run.

For each network (:data:`~tvm_heron.models.onnx_export.ONNX_NETS`: ResNet-50,
BERT-base, MobileNetV2, or their ``-small`` versions) and data type, the
same ONNX file (float32 export, or its QDQ int8 quantization; made and
cached by :func:`~tvm_heron.models.onnx_export.onnx_files`) is

1. imported by tvm-heron (:func:`~tvm_heron.models.onnx_import.import_onnx`:
   QDQ patterns lowered to integer arithmetic), tuned with heron-cga at a
   budget of ``trials_per_task`` per extracted task (optionally capped by
   ``max_trials``; the summary is kept in ``OUT/work/<net>-<dtype>/result.json``
   and a rerun does not tune again) and built for the Relax VM;
2. opened in ONNX Runtime and OpenVINO (:mod:`~.onnx_runtimes`) at the same
   thread count; PyTorch runs the float network itself (the seeded module
   the file was exported from);
3. checked: every runtime's outputs against ONNX Runtime's on the same seeded
   inputs (:class:`Agreement`: exact, within one quantization step, or the
   number of steps / the float tolerance);
4. timed, all candidates interleaved in rotating order under the noise guard
   (:func:`~.timing.time_interleaved`), median and min of ``rounds`` rounds.

The share of the model's multiply-adds that ran on a tensorized int8 or fp32
kernel is counted per task (:mod:`tvm_heron.relax.macs`). Outputs in ``OUT``:
``results.json``, ``REPORT.md``, ``onnx_models.png`` (:mod:`~.onnx_report`).
"""

from __future__ import annotations

import datetime
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np
import tvm
from tvm import relax
from tvm.s_tir import meta_schedule as ms

from ..database import open_database
from ..models.onnx_export import onnx_files, torch_module
from ..models.onnx_import import import_onnx
from ..relax import measure, pipeline
from ..relax.macs import mac_share, task_macs
from ..relax.tune import TaskResult, tune_model
from ..target import host_target
from .machine import describe
from .noise import NoiseGuard
from .onnx_report import write_outputs
from .onnx_runtimes import RUNTIMES, open_runtime
from .timing import python_timer, time_interleaved, tvm_timer

logger = logging.getLogger(__name__)

#: The tvm-heron candidate's name in the timings.
HERON = "tvm-heron"
#: Data types of the ONNX files.
DTYPES = ("float32", "int8")


@attrs.frozen
class Agreement:
    """How one runtime's outputs compare with ONNX Runtime's (the reference).

    Attributes
    ----------
    max_abs_diff : float
        Largest absolute difference over all outputs.
    step : float or None
        The output's quantization step (a QDQ model), else None.
    verdict : str
        ``exact``; ``within one step`` (int8) or ``within tolerance`` (float,
        rtol 1e-3 of the output's magnitude); else ``N steps`` or ``outside
        tolerance``.
    """

    max_abs_diff: float
    step: float | None
    verdict: str

    def to_json(self) -> dict:
        """A JSON-serialisable dict."""
        return attrs.asdict(self)


def agreement(outputs: Sequence[np.ndarray], reference: Sequence[np.ndarray], step: float | None) -> Agreement:
    """Compare ``outputs`` with ``reference`` (see :class:`Agreement`)."""
    if len(outputs) != len(reference) or any(o.shape != r.shape for o, r in zip(outputs, reference)):
        return Agreement(max_abs_diff=math.inf, step=step, verdict="shape mismatch")
    diff = max(float(np.abs(o.astype(np.float64) - r.astype(np.float64)).max(initial=0.0))
               for o, r in zip(outputs, reference))
    if diff == 0.0:
        verdict = "exact"
    elif step:
        steps = diff / step
        verdict = "within one step" if steps <= 1 + 1e-5 else f"{math.ceil(steps - 1e-5)} steps"
    else:
        scale = max(1.0, max(float(np.abs(r).max(initial=0.0)) for r in reference))
        verdict = "within tolerance" if diff <= 1e-3 * scale else "outside tolerance"
    return Agreement(max_abs_diff=diff, step=step, verdict=verdict)


@attrs.frozen
class Settings:
    """The run's settings (``results.json``'s ``settings``)."""

    trials_per_task: int
    max_trials: int | None
    trials_per_round: int
    rounds: int
    seed: int
    threads: int
    runtimes: tuple = attrs.field(converter=tuple)
    pytorch: bool = True
    batch_seconds: float = 0.3
    settle_seconds: float = 0.3
    reduce_range: bool = False


def run_onnx_models(
    names: Sequence[str],
    out: str | Path,
    *,
    dtypes: Sequence[str] = DTYPES,
    trials_per_task: int = 8,
    max_trials: int | None = None,
    trials_per_round: int = 8,
    rounds: int = 10,
    seed: int = 0,
    target=None,
    cache_dir: str | Path | None = None,
    runtimes: Sequence[str] = tuple(RUNTIMES),
    pytorch: bool = True,
    batch_seconds: float = 0.3,
    settle_seconds: float = 0.3,
    reduce_range: bool = False,
) -> dict:
    """Benchmark each network of ``names`` in each of ``dtypes``; returns (and writes) the results.

    Parameters
    ----------
    names : sequence of str
        Keys of :data:`~tvm_heron.models.onnx_export.ONNX_NETS`.
    trials_per_task : int
        Tuning budget per extracted task; the global budget is this times the
        number of tasks (0: build without tuning).
    max_trials : int, optional
        Cap on the global budget (tests tune one or two tasks with it).
    cache_dir : path, optional
        Where the ONNX files are made and cached (default ``OUT/onnx``).
    runtimes : sequence of str
        Baselines of :data:`~.onnx_runtimes.RUNTIMES`.
    reduce_range : bool
        Quantize the int8 files' weights to 7 bits (``quantize_static``'s
        ``reduce_range``, ONNX Runtime's advice for CPUs without VNNI).
    """
    for dtype in dtypes:
        if dtype not in DTYPES:
            raise ValueError(f"dtypes: unknown {dtype!r}; known: {', '.join(DTYPES)}")
    if trials_per_task < 0:
        raise ValueError(f"trials_per_task must be >= 0, got {trials_per_task}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    target = target or host_target()
    threads = int(target.attrs.get("num-cores", 1))
    settings = Settings(trials_per_task=trials_per_task, max_trials=max_trials, trials_per_round=trials_per_round,
                        rounds=rounds, seed=seed, threads=threads, runtimes=runtimes, pytorch=pytorch,
                        batch_seconds=batch_seconds, settle_seconds=settle_seconds, reduce_range=reduce_range)
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": describe(threads),
        "target": str(target),
        "settings": attrs.asdict(settings),
        "versions": _versions(),
        "cases": [],
    }
    cache = Path(cache_dir) if cache_dir is not None else out / "onnx"
    for name in names:
        files = onnx_files(name, cache, seed=seed, int8="int8" in dtypes, reduce_range=reduce_range)
        for dtype in dtypes:
            results["cases"].append(_run_case(name, dtype, files.path(dtype), out, target, settings))
            write_outputs(results, out)
    return results


def _run_case(name: str, dtype: str, path: Path, out: Path, target, settings: Settings) -> dict:
    model = import_onnx(path, seed=settings.seed, name=f"{name}-{dtype}")
    prepared = pipeline.prepare(model.mod, model.params, target)
    extracted = ms.relax_integration.extract_tasks(prepared, target)
    trials = settings.trials_per_task * len(extracted)
    if settings.max_trials is not None:
        trials = min(trials, settings.max_trials)
    work = out / "work" / f"{name}-{dtype}"
    summary = work / "result.json"
    if summary.exists():
        tuned = json.loads(summary.read_text())
        logger.info("%s %s: tuned before, summary read from %s", name, dtype, summary)
    else:
        result = tune_model(model, target=target, work_dir=work, trials=trials, strategy="heron-cga",
                            space="heron", seed=settings.seed, trials_per_round=settings.trials_per_round,
                            max_trials_per_task=settings.trials_per_task or None, measure_untuned=False,
                            repeat=3)
        tuned = result.to_json()
        summary.write_text(json.dumps(tuned, indent=1))
    executable = pipeline.build(prepared, target, open_database(work, target=target))
    step = model.quant_steps[0] if model.quant_steps else None
    candidates = {HERON: _HeronVM(executable, target)}
    for runtime in settings.runtimes:
        candidates[runtime] = open_runtime(runtime, path, threads=settings.threads)
    # The reference is ONNX Runtime unfused (import_onnx): its fused run is a rival like the others.
    agreements = {key: agreement(c.run(model.inputs), model.reference, step).to_json()
                  for key, c in candidates.items()}
    timers = {key: c.timer(model.inputs) for key, c in candidates.items()}
    if settings.pytorch and dtype == "float32":
        timers["pytorch"] = _torch_timer(name, settings.seed, model.inputs, settings.threads)
    timings = time_interleaved(timers, rounds=settings.rounds, batch_seconds=settings.batch_seconds,
                               guard=NoiseGuard(), settle_seconds=settings.settle_seconds)
    median = {k: v.median_s * 1e3 for k, v in timings.items()}
    tasks = _task_results(tuned)
    return {
        "model": name,
        "dtype": dtype,
        "file": path.name,
        "tasks": len(extracted),
        "budget": {"trials_per_task": settings.trials_per_task, "trials": trials},
        "tuning_seconds": tuned["tuning_seconds"],
        "trials_measured": sum(t.trials for t in tasks),
        "mac_share": mac_share(tasks, task_macs(extracted)).to_json(),
        "agreement": agreements,
        "graph_fallbacks": tuned.get("graph_fallbacks", []),
        "timing": {k: v.to_json() for k, v in timings.items()},
        "median_ms": median,
        "min_ms": {k: v.min_s * 1e3 for k, v in timings.items()},
        "speedup": {k: v / median[HERON] for k, v in median.items() if k != HERON},
        "tuning": tuned,
    }


class _HeronVM:
    """tvm-heron's built module as a candidate: run and timer, like the runtimes."""

    def __init__(self, executable, target) -> None:
        self._executable, self._target = executable, target
        self._dev = measure.device_of(target)
        self._vm = relax.VirtualMachine(executable, self._dev)

    def run(self, inputs):
        return measure.run_model(self._executable, self._target, inputs)

    def timer(self, inputs):
        args = [tvm.runtime.tensor(x, self._dev) for x in inputs]
        return tvm_timer(self._vm, self._dev, args)


def _torch_timer(name: str, seed: int, inputs, threads: int):
    import torch  # pylint: disable=import-outside-toplevel

    torch.set_num_threads(threads)
    module = torch_module(name, seed)
    tensors = [torch.from_numpy(x) for x in inputs]

    def call():
        with torch.inference_mode():
            return module(*tensors)

    return python_timer(call)


def _task_results(tuned: dict) -> list[TaskResult]:
    return [TaskResult(**t) for t in tuned["tasks"]]


def _versions() -> dict:
    versions = {"tvm": tvm.__version__}
    for module in ("onnx", "onnxruntime", "openvino", "torch"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = None
    return versions


__all__ = ["DTYPES", "HERON", "Agreement", "Settings", "agreement", "run_onnx_models"]
