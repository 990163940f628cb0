"""Figures that read in JupyterLab's light and dark themes alike.

A transparent background takes the notebook's own, and text, ticks and grid are a
mid grey that stays legible on white and on near-black, instead of matplotlib's
black-on-white block that shows as a white rectangle in a dark theme.
`plt.style.use(nb.chart_style)` gives an analyst's own figures the same look.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

NEUTRAL = "#8a8a8a"
# matplotlib-inline asks JupyterLab to paint a block behind a transparent figure (a
# dark one in the light theme when every tick label is light, a white one in the dark
# theme when every tick label is dark). Two greys either side of its threshold (BT.601
# luminance 0.5) keep the figure transparent in both themes; the eye cannot tell them apart.
NEUTRAL_DARKER = "#7a7a7a"
chart_style: dict[Any, Any] = {  # matplotlib rcParams
    "figure.facecolor": "none",
    "axes.facecolor": "none",
    "savefig.facecolor": "none",
    "axes.edgecolor": NEUTRAL,
    "axes.labelcolor": NEUTRAL,
    "axes.titlecolor": NEUTRAL,
    "xtick.color": NEUTRAL_DARKER,
    "ytick.color": NEUTRAL,
    "text.color": NEUTRAL,
    "legend.frameon": False,
    "axes.grid": True,
    "grid.color": NEUTRAL,
    "grid.alpha": 0.25,
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


def _neutral_axes(axis: Axes) -> None:
    axis.set_facecolor("none")
    for spine in axis.spines.values():
        spine.set_color(NEUTRAL)
