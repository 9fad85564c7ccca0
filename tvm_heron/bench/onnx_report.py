"""The ONNX models benchmark's outputs: ``results.json``, ``REPORT.md``, ``onnx_models.png``.

Reads the results dict of :func:`~.onnx_models.run_onnx_models` (as written
to ``results.json``); no TVM here.
"""

from __future__ import annotations

import json
from pathlib import Path

#: Candidates in table and chart order (tvm-heron's own column first), with their titles.
CANDIDATES = (("tvm-heron", "tvm-heron"), ("onnxruntime", "ONNX Runtime"), ("openvino", "OpenVINO"),
              ("pytorch", "PyTorch"))
#: The runtimes whose agreement with the reference the table shows, with their column titles.
AGREEMENT_TITLES = {"tvm-heron": "tvm-heron", "onnxruntime": "ORT fused", "openvino": "OpenVINO"}
#: Chart file name.
CHART = "onnx_models.png"


def write_outputs(results: dict, out: str | Path) -> None:
    """``results.json``, ``REPORT.md`` and the speedup chart in ``out``."""
    out = Path(out)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "REPORT.md").write_text(render_markdown(results))
    if results["cases"]:
        draw_speedups(results, out / CHART)


def render_markdown(results: dict) -> str:
    """The end-to-end table, then per case its graph fallbacks and per-task table."""
    s, v = results["settings"], results["versions"]
    rivals = [(k, t) for k, t in CANDIDATES[1:] if any(k in c["median_ms"] for c in results["cases"])]
    lines = [
        "# ONNX models: tvm-heron vs ONNX Runtime vs OpenVINO vs PyTorch",
        "",
        f"{results['date']}; {results['machine']['cpu']}, {s['threads']} threads; target `{results['target']}`.",
        f"Versions: {', '.join(f'{k} {x}' for k, x in v.items() if x)}.",
        "",
        f"Batch 1. Budget: {s['trials_per_task']} trials per task"
        + (f" (at most {s['max_trials']} in all)" if s["max_trials"] is not None else "")
        + f", {s['trials_per_round']} per round, heron-cga, seed {s['seed']}. Every runtime runs the same "
        "ONNX file (float32 export, or its QDQ int8 quantization by ONNX Runtime's quantize_static) at "
        "the same thread count; PyTorch runs the float network the file was exported from (eager, "
        f"inference mode). Latency: median (min) of {s['rounds']} interleaved rounds, ms. Speedup: "
        "the rival's median over tvm-heron's (> 1: tvm-heron is faster). MACs tensorized: share of the "
        "model's multiply-adds on a tensorized int8 / fp32 kernel. Agreement: max abs difference from "
        "the reference on the same input: ONNX Runtime's outputs, for an int8 file with its graph "
        "optimizations off (each operator as ONNX defines it; its fused int8 kernels saturate on CPUs "
        "without VNNI, so its own row is a rival's)"
        + (", weights in 7 bits (reduce_range)" if s.get("reduce_range") else "")
        + ". Tuned ms: one call of the task's best kernel as "
        "tuning measured it, its weights flushed from the caches first (as in the model).",
        "",
        "| model | dtype | " + " | ".join(t for _, t in CANDIDATES[:1] + tuple(rivals)) + " | "
        + " | ".join(f"vs {t}" for _, t in rivals)
        + " | tuning s (trials) | MACs tensorized int8 / fp32 | agreement: "
        + " | ".join(AGREEMENT_TITLES.values()) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in range(1 + 2 * len(rivals))) + " | ---: | ---: | "
        + " | ".join("---" for _ in AGREEMENT_TITLES) + " |",
    ]
    for c in results["cases"]:
        cells = [_latency(c, k) for k, _ in CANDIDATES[:1] + tuple(rivals)]
        cells += [_ratio(c["speedup"].get(k)) for k, _ in rivals]
        share = c["mac_share"]
        lines.append(
            f"| {c['model']} | {c['dtype']} | " + " | ".join(cells)
            + f" | {c['tuning_seconds']:.0f} ({c['trials_measured']}/{c['budget']['trials']}) "
            f"| {_pct(share['int8_share'])} / {_pct(share['float32_share'])} "
            "| " + " | ".join(_agree(c["agreement"].get(k)) for k in AGREEMENT_TITLES) + " |"
        )
    for c in results["cases"]:
        lines += ["", f"## {c['model']} {c['dtype']}", "", f"File `{c['file']}`, {c['tasks']} tasks."]
        if c["graph_fallbacks"]:
            lines += ["", "Stays float (graph fallbacks of the QDQ lowering):", ""]
            lines += [f"- `{f['op']}` ({f['var']}): {f['reason']}" for f in c["graph_fallbacks"]]
        lines += ["", _task_table(c["tuning"]["tasks"])]
    return "\n".join(lines) + "\n"


def _task_table(tasks: list) -> str:
    rows = ["| task | calls | space | trials (valid) | tuned ms | note |", "| --- | ---: | --- | ---: | ---: | --- |"]
    for t in tasks:
        space = f"heron ({t['intrinsic']})" if t["space"] == "heron" else t["space"]
        best = "-" if t["best_latency_s"] is None else f"{t['best_latency_s'] * 1e3:.4g}"
        rows.append(f"| {t['name']} | {t['weight']} | {space} | {t['trials']} ({t['valid_trials']}) | {best} "
                    f"| {t['fallback'] or ''} |")
    return "\n".join(rows)


def draw_speedups(results: dict, path: str | Path) -> Path:
    """One group of bars per case: tvm-heron's speedup over each rival (log scale, 1 dashed; no bar: not run)."""
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    from matplotlib.ticker import FuncFormatter, NullFormatter  # pylint: disable=import-outside-toplevel

    cases = results["cases"]
    rivals = [(k, t) for k, t in CANDIDATES[1:] if any(k in c["speedup"] for c in cases)]
    width = 0.8 / max(1, len(rivals))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(cases) + 2.5), 4.0))
    every = []
    for index, (key, title) in enumerate(rivals):
        for i, c in enumerate(cases):
            value = c["speedup"].get(key)
            x = i + (index - (len(rivals) - 1) / 2) * width
            if value is None:  # PyTorch on an int8 file, or a rival that failed
                continue
            every.append(value)
            ax.bar(x, value - 1.0, width, bottom=1.0, color=f"C{index}", label=title if i == 0 else None)
            ax.text(x, value, f"{value:.2f}", ha="center", va="bottom" if value >= 1 else "top", fontsize=7)
    ax.axhline(1.0, color="black", linestyle="--", linewidth=0.8)
    ax.set_yscale("log")
    low, high = min([0.5, *every]) / 1.3, max([2.0, *every]) * 1.3
    ax.set_ylim(low, high)
    ax.set_yticks([2.0**p for p in range(-12, 13) if low <= 2.0**p <= high])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels([f"{c['model']} {c['dtype']}" for c in cases], rotation=30, ha="right")
    ax.set_ylabel("tvm-heron speedup (rival / tvm-heron)")
    ax.set_title(f"ONNX models, batch 1, {results['settings']['trials_per_task']} trials per task")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _latency(case: dict, key: str) -> str:
    med, low = case["median_ms"], case["min_ms"]
    return "-" if key not in med else f"{med[key]:.3f} ({low[key]:.3f})"


def _ratio(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _agree(data: dict | None) -> str:
    return "-" if data is None else f"{data['max_abs_diff']:.3g} ({data['verdict']})"


__all__ = ["CHART", "draw_speedups", "render_markdown", "write_outputs"]
