"""Whole-model benchmark: tvm-heron vs MetaSchedule's evolutionary search vs PyTorch, end to end.

For each model: tune it with heron-cga in Heron's space and with MetaSchedule's
evolutionary search in its default space, at the same global trial budget,
rounds and builder/runner settings (:func:`tvm_heron.relax.tune.tune_model`;
each run's summary is kept in ``OUT/work/<model>-b<batch>/<tuner>/result.json``
and a rerun does not tune again); build both, check both against the
reference, then time both and PyTorch (oneDNN) interleaved in this process
under the noise guard. Outputs in ``OUT``: ``results.json``, ``REPORT.md``,
``speedup_models.png``.

    python benchmarks/models.py --models bert-base resnet50 --trials 512 --out DIR
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import attrs
import tvm
from tvm import relax
from tvm.s_tir import meta_schedule as ms

from ..database import open_database
from ..models import load_model
from ..relax import measure, pipeline
from ..relax.tune import ModelResult, TaskResult, tune_model
from ..target import host_target
from . import plots
from .figures import geomean, speedup
from .machine import describe
from .noise import NoiseGuard
from .results import Speedup
from .timing import python_timer, time_interleaved, tvm_timer

logger = logging.getLogger(__name__)

#: Tuner name -> (space, strategy).
TUNERS = {"heron-cga": ("heron", "heron-cga"), "evolutionary": ("default", "evolutionary")}


def run_models(
    names: Sequence[str],
    out: str | Path,
    *,
    batch: int = 1,
    trials: int = 256,
    trials_per_round: int = 8,
    max_trials_per_task: int | None = None,
    rounds: int = 10,
    seed: int = 0,
    target=None,
    vendor: bool = True,
) -> dict:
    """Benchmark each model of ``names``; returns (and writes) the results."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    target = target or host_target()
    cores = int(target.attrs.get("num-cores", 1))
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": describe(cores),
        "target": str(target),
        "settings": {"batch": batch, "trials": trials, "trials_per_round": trials_per_round,
                     "max_trials_per_task": max_trials_per_task, "rounds": rounds, "seed": seed},
        "profile": "models",
        "models": [],
    }
    for name in names:
        results["models"].append(
            _run_model(name, out, target, batch=batch, trials=trials, per_round=trials_per_round,
                       per_task=max_trials_per_task, rounds=rounds, seed=seed, vendor=vendor)
        )
        write_outputs(results, out)
    return results


def _run_model(name, out, target, *, batch, trials, per_round, per_task, rounds, seed, vendor) -> dict:
    model = load_model(name, batch=batch, seed=seed)
    entry = {"model": name, "batch": batch, "dtype": model.dtype, "tuners": {}}
    executables = {}
    for tuner, (space, strategy) in TUNERS.items():
        work = out / "work" / f"{name}-b{batch}" / tuner
        summary = work / "result.json"
        if summary.exists():
            result = json.loads(summary.read_text())
            logger.info("%s %s: tuned before, summary read from %s", name, tuner, summary)
        else:
            tuned = tune_model(
                model, target=target, work_dir=work, trials=trials, strategy=strategy, space=space,
                seed=seed, trials_per_round=per_round, max_trials_per_task=per_task,
                measure_untuned=tuner == "heron-cga", repeat=3,
            )
            result = tuned.to_json()
            summary.write_text(json.dumps(result, indent=1))
        entry["tuners"][tuner] = result
        prepared = pipeline.prepare(model.mod, model.params, target)
        executables[tuner] = pipeline.build(prepared, target, open_database(work, target=target))
    entry["untuned_ms"] = _ms(entry["tuners"]["heron-cga"].get("untuned_latency_s"))
    timers, dev = {}, measure.device_of(target)
    args = [tvm.runtime.tensor(x, dev) for x in model.inputs]
    for tuner, executable in executables.items():
        timers[tuner] = tvm_timer(relax.VirtualMachine(executable, dev), dev, args)
    if vendor and model.torch_module is not None:
        timers["pytorch"] = _torch_timer(model, int(target.attrs.get("num-cores", 1)))
    timings = time_interleaved(timers, rounds=rounds, batch_seconds=0.3, guard=NoiseGuard(),
                               settle_seconds=0.3)
    entry["timing"] = {k: v.to_json() for k, v in timings.items()}
    median = {k: v.median_s for k, v in timings.items()}
    entry["median_ms"] = {k: v * 1e3 for k, v in median.items()}
    entry["min_ms"] = {k: v.min_s * 1e3 for k, v in timings.items()}
    entry["speedup"] = {
        "vs_evolutionary": speedup(median["heron-cga"], median.get("evolutionary")),
        "vs_vendor": speedup(median["heron-cga"], median.get("pytorch")),
    }
    return entry


def _torch_timer(model, threads: int):
    import torch  # pylint: disable=import-outside-toplevel

    torch.set_num_threads(threads)
    tensors = [torch.from_numpy(x) for x in model.inputs]
    module = model.torch_module

    def call():
        with torch.inference_mode():
            return module(*tensors)

    return python_timer(call)


def write_outputs(results: dict, out: str | Path) -> None:
    """``results.json``, ``REPORT.md`` and the speedup chart."""
    out = Path(out)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "REPORT.md").write_text(render_markdown(results))
    timed = [m for m in results["models"] if "speedup" in m]
    if timed:
        plots.draw_speedups([f"{m['model']} b{m['batch']}" for m in timed],
                            [Speedup.from_json(m["speedup"]) for m in timed],
                            f"models: heron-cga speedup, profile models "
                            f"({results['settings']['trials']} trials)", out / "speedup_models.png")


def render_markdown(results: dict) -> str:
    """The report: end-to-end table, tuning cost, per-task tables."""
    s = results["settings"]
    lines = [
        "# Whole-model benchmark: tvm-heron vs MetaSchedule evolutionary vs PyTorch",
        "",
        f"{results['date']}; {results['machine']['cpu']}, {results['machine']['cores_used']} threads; "
        f"target `{results['target']}`.",
        "",
        f"Budget: {s['trials']} trials per tuner and model (global, split across tasks by "
        f"MetaSchedule's gradient task scheduler), {s['trials_per_round']} per round, seed {s['seed']}. "
        "heron-cga tunes Heron's space where a task tensorizes and MetaSchedule's default space "
        "elsewhere; evolutionary tunes MetaSchedule's default space everywhere. Latencies: "
        f"median (min) of {s['rounds']} interleaved rounds, ms. PyTorch {_torch_version()} "
        "(oneDNN), eager, inference mode, same thread count.",
        "",
        "| model | batch | heron-cga | evolutionary | PyTorch | untuned | vs evolutionary | vs PyTorch "
        "| tuning s heron / evo | tensorized tasks | correct heron / evo |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for m in results["models"]:
        med, low, t = m.get("median_ms", {}), m.get("min_ms", {}), m["tuners"]
        h, e = t.get("heron-cga", {}), t.get("evolutionary", {})
        tasks = h.get("tasks", [])
        lines.append(
            f"| {m['model']} | {m['batch']} | {_cell(med, low, 'heron-cga')} | {_cell(med, low, 'evolutionary')} "
            f"| {_cell(med, low, 'pytorch')} | {_num(m.get('untuned_ms'))} "
            f"| {_ratio(m.get('speedup', {}).get('vs_evolutionary'))} | {_ratio(m.get('speedup', {}).get('vs_vendor'))} "
            f"| {_num(h.get('tuning_seconds'), 0)} / {_num(e.get('tuning_seconds'), 0)} "
            f"| {sum(bool(x['space'] == 'heron') for x in tasks)}/{len(tasks)} "
            f"| {h.get('correct')} / {e.get('correct')} |"
        )
    ups = [m.get("speedup", {}).get("vs_evolutionary") for m in results["models"]]
    vend = [m.get("speedup", {}).get("vs_vendor") for m in results["models"]]
    lines += ["", f"Geomean: {_ratio(geomean(ups))} vs evolutionary, {_ratio(geomean(vend))} vs PyTorch.", ""]
    for m in results["models"]:
        for tuner, data in m["tuners"].items():
            result = _result_of(data)
            lines += [f"## {m['model']} batch {m['batch']}: {tuner}", "",
                      f"{len(result.tasks)} tasks, {sum(t.trials for t in result.tasks)} trials measured, "
                      f"tuning {result.tuning_seconds:.0f} s.", "", result.table(), ""]
    return "\n".join(lines) + "\n"


def _result_of(data: dict) -> ModelResult:
    names = {a.name for a in attrs.fields(ModelResult)}
    fields = {k: v for k, v in data.items() if k in names}
    fields["tasks"] = tuple(TaskResult(**t) for t in data["tasks"])
    return ModelResult(**fields)


def _torch_version() -> str:
    try:
        import torch  # pylint: disable=import-outside-toplevel

        return torch.__version__
    except ImportError:
        return "(not installed)"


def _cell(med: dict, low: dict, key: str) -> str:
    return "-" if key not in med else f"{med[key]:.3f} ({low[key]:.3f})"


def _num(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _ms(seconds):
    return None if seconds is None else seconds * 1e3


__all__ = ["TUNERS", "render_markdown", "run_models", "write_outputs"]
