"""Convergence plots of the replay benchmark (matplotlib, without a display)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .replay_report import curves_of

#: Colours per strategy, stable across plots.
COLOURS = {
    "heron-cga": "tab:red", "heron-ga": "tab:orange", "heron-sa": "tab:green",
    "heron-crand": "tab:grey", "evolutionary": "tab:blue",
}


def convergence_plot(table, runs: dict[str, list], budget: int, path: str | Path) -> Path:
    """Median fraction of the optimum vs trials per strategy, with the interquartile band.

    The x axis is logarithmic (trials 1..budget); a lighter band spans the
    10th to 90th percentile.
    """
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    trials = np.arange(1, budget + 1)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, trajectories in runs.items():
        curves = curves_of(trajectories, table.optimum_s, budget)
        p10, q1, median, q3, p90 = np.percentile(curves, [10, 25, 50, 75, 90], axis=0)
        colour = COLOURS.get(name)
        ax.plot(trials, median, color=colour, drawstyle="steps-post", label=f"{name} (n={len(trajectories)})")
        ax.fill_between(trials, q1, q3, color=colour, alpha=0.25, linewidth=0, step="post")
        ax.fill_between(trials, p10, p90, color=colour, alpha=0.08, linewidth=0, step="post")
    ax.set_xscale("log", base=2)
    ax.set_xlim(1, budget)
    ax.set_ylim(0, 1.02)
    ax.axhline(0.95, color="black", linewidth=0.6, linestyle=":")
    ax.set_xlabel("trials (measurements)")
    ax.set_ylabel("fraction of the table's optimum (throughput)")
    ax.set_title(f"{table.spec.name}: median, quartiles and 10-90% over seeds")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
