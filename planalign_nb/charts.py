"""Figures that read in JupyterLab's light and dark themes alike, with figures an analyst reads at a glance.

A transparent background takes the notebook's own, and text is a grey dark enough to
read on white (5:1) and light enough to read on JupyterLab Dark's near-black (3.8:1),
instead of matplotlib's black-on-white block that shows as a white rectangle in a dark
theme. Axes show their metric as the metric catalogue formats it ($12.3M, 80.8%,
5,150), never with a 1e7 offset. `plt.style.use(nb.chart_style)` gives an analyst's
own figures the same look.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.ticker import Formatter

    from planalign_orchestrator.views import Metric

TEXT = "#707070"
NEUTRAL = "#8a8a8a"
# matplotlib-inline asks JupyterLab to paint a block behind a transparent figure (a
# dark one in the light theme when every tick label is light, a white one in the dark
# theme when every tick label is dark). Two greys either side of its threshold (BT.601
# luminance 0.5) keep the figure transparent in both themes; the eye cannot tell them apart.
TICK_DARKER = "#707070"
TICK_LIGHTER = "#808080"
chart_style: dict[Any, Any] = {  # matplotlib rcParams
    "figure.facecolor": "none",
    "axes.facecolor": "none",
    "savefig.facecolor": "none",
    "axes.edgecolor": NEUTRAL,
    "axes.labelcolor": TEXT,
    "axes.titlecolor": TEXT,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "xtick.color": TICK_DARKER,
    "ytick.color": TICK_LIGHTER,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "text.color": TEXT,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "figure.titlesize": 11,
    "axes.grid": True,
    "grid.color": NEUTRAL,
    "grid.alpha": 0.25,
    "axes.formatter.useoffset": False,
}


def neutral_figure(rows: int, columns: int, **options: Any) -> tuple[Figure, Any]:
    """plt.subplots with the neutral style, closed in pyplot so a notebook shows it once (as the value)."""
    import matplotlib.pyplot as plt

    with plt.rc_context(chart_style):
        figure, axes = plt.subplots(rows, columns, layout="constrained", **options)
    plt.close(figure)
    for axis in figure.axes:
        _neutral_axes(axis)
    return figure, axes


def title(axis: Axes, text: str) -> None:
    """A panel's title in the chart style (set_title reads its size and weight when called, not when drawn)."""
    axis.set_title(text, fontsize=chart_style["axes.titlesize"], fontweight=chart_style["axes.titleweight"])


def metric_axis(axis: Axes, metric: Metric, values: Iterable[float]) -> None:
    """Label the y axis of a metric's panel as the catalogue formats it, and the x axis as plain years."""
    axis.yaxis.set_major_formatter(tick_format(metric, values))
    axis.xaxis.set_major_formatter(lambda value, _position: f"{value:.0f}")


def tick_format(metric: Metric, values: Iterable[float]) -> Formatter:
    """Tick labels for a metric: money in $M once it reaches millions, fractions as %, counts with separators.

    The labels carry as many decimals as the ticks' spacing needs, so a narrow range
    (a cost rate between 2.2% and 2.5%) never shows the same label twice.
    """
    from matplotlib.ticker import Formatter

    largest = max((abs(value) for value in values if value == value), default=0.0)
    if metric.kind == "money" and largest >= 1_000_000:
        scale, prefix, suffix, decimals = 1e-6, "$", "M", 1
    elif metric.kind == "fraction":
        scale, prefix, suffix, decimals = 100.0, "", "%", 1
    else:
        scale, prefix, suffix, decimals = 1.0, "$" if metric.kind == "money" else "", "", 0

    class MetricFormatter(Formatter):
        """Imported when a chart is drawn: matplotlib's import is no cost of `import planalign_nb`."""

        def __init__(self) -> None:
            self.decimals = decimals

        def __call__(self, value: float, position: int | None = None) -> str:
            return f"{prefix}{value * scale:,.{self.decimals}f}{suffix}"

        def format_ticks(self, ticks: Sequence[float]) -> list[str]:
            steps = [abs(b - a) * scale for a, b in pairwise(ticks) if b != a]
            needed = -math.floor(math.log10(min(steps))) if steps and min(steps) < 1 else 0
            self.decimals = min(3, max(decimals, needed))
            return [self(tick) for tick in ticks]

    return MetricFormatter()


def _neutral_axes(axis: Axes) -> None:
    axis.set_facecolor("none")
    for spine in axis.spines.values():
        spine.set_color(NEUTRAL)
