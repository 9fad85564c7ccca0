"""Bar charts of heron-cga's speedups, one PNG per data type (matplotlib, Agg; no TVM)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .results import Speedup, SuiteResults

#: The comparisons drawn (heron-cga's speedup over each rival), with their legend labels.
SERIES = (("evolutionary", "vs MetaSchedule evolutionary"), ("vendor", "vs vendor (PyTorch)"))


def plot_speedups(results: SuiteResults, dtype: str, path: str | Path) -> Path:
    """Draw heron-cga's speedups over the other candidates for each case of ``dtype``."""
    cases = results.cases_of(dtype)
    title = (f"{dtype}: heron-cga speedup, profile {results.profile} "
             f"({results.settings.trials} trials)")
    return draw_speedups([c.case for c in cases], [c.speedup or Speedup() for c in cases],
                         title, path)


def draw_speedups(labels: Sequence[str], speedups: Sequence[Speedup], title: str,
                  path: str | Path) -> Path:
    """Draw one group of bars per label: heron-cga's speedup over each rival of :data:`SERIES`.

    Bars grow from 1 (a dashed line: up, heron-cga wins; down, it loses) on a
    log scale; a missing figure has no bar and an ``n/a`` label.
    """
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    from matplotlib.ticker import (  # pylint: disable=import-outside-toplevel
        FuncFormatter, NullFormatter)

    width = 0.8 / len(SERIES)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(labels) + 2.5), 4.0))
    for index, (rival, label) in enumerate(SERIES):
        xs = [i + (index - (len(SERIES) - 1) / 2) * width for i in range(len(labels))]
        values = [s.over(rival) for s in speedups]
        known = [(x, v) for x, v in zip(xs, values) if v is not None]
        ax.bar([x for x, _ in known], [v - 1.0 for _, v in known], width, bottom=1.0, label=label)
        for x, v in zip(xs, values):
            if v is None:
                ax.text(x, 1.0, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
            else:
                ax.text(x, v, f"{v:.2f}", ha="center", va="bottom" if v >= 1 else "top", fontsize=7)
    ax.axhline(1.0, color="black", linestyle="--", linewidth=0.8)
    ax.set_yscale("log")
    every = [v for s in speedups for rival, _ in SERIES if (v := s.over(rival))]
    low, high = min([0.5, *every]) / 1.3, max([2.0, *every]) * 1.3
    ax.set_ylim(low, high)
    ax.set_yticks([2.0**p for p in range(-12, 13) if low <= 2.0**p <= high])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(-0.6, max(len(labels), 1) - 0.4)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right")
    ax.set_ylabel("heron-cga speedup (log scale)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_all(results: SuiteResults, out_dir: str | Path) -> list[Path]:
    """``speedup_<dtype>.png`` for every data type of the results."""
    out_dir = Path(out_dir)
    return [plot_speedups(results, d, out_dir / f"speedup_{d}.png") for d in results.dtypes()]
