"""Charts an analyst reads at a glance, in JupyterLab's light and dark themes (issue 21, items 5 and 7)."""

from __future__ import annotations

from datetime import UTC, datetime

import matplotlib
import pandas as pd
from matplotlib_inline.backend_inline import _fetch_figure_metadata

from planalign_nb import EnsembleView
from planalign_nb.charts import TEXT, tick_format
from planalign_orchestrator.ensemble.metrics import METRICS
from planalign_orchestrator.views import EnsembleResult, metric

matplotlib.use("Agg")


def contrast(colour: str, background: tuple[float, float, float]) -> float:
    """WCAG contrast ratio of a colour against a background."""

    def luminance(rgb: tuple[float, ...]) -> float:
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    lighter, darker = sorted((luminance(matplotlib.colors.to_rgb(colour)), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_chart_text_reads_on_the_light_and_the_dark_theme() -> None:
    """Item 7: titles and labels were a pale grey on white; now at least 4.5:1 on white and 3.5:1 on near-black."""
    assert contrast(TEXT, (1.0, 1.0, 1.0)) >= 4.5
    assert contrast(TEXT, (0x11 / 255, 0x11 / 255, 0x11 / 255)) >= 3.5


def test_axes_read_as_the_metric_catalogue_formats_them() -> None:
    money = tick_format(metric("employer_contributions"), [11_000_000.0, 15_500_000.0])
    small_money = tick_format(metric("average_compensation"), [96_176.0])
    fraction = tick_format(metric("participation_rate"), [0.81])
    count = tick_format(metric("headcount_end"), [5150.0])

    assert money(12_300_000, 0) == "$12.3M"
    assert small_money(96_176, 0) == "$96,176"
    assert fraction(0.8078, 0) == "80.8%"
    assert count(5150, 0) == "5,150"
    cost = tick_format(metric("employer_cost_rate"), [0.022, 0.025])
    assert cost.format_ticks([0.0220, 0.0225, 0.0230]) == ["2.20%", "2.25%", "2.30%"], "no label twice"
    assert money.format_ticks([11_040_000, 11_060_000, 11_080_000]) == ["$11.04M", "$11.06M", "$11.08M"]


def test_fan_charts_have_no_offsets_and_readable_fonts() -> None:
    """Item 5: the axes carried 1e7/1e8 offsets and 9-point titles."""
    rows = [
        {
            "seed": seed,
            "year": year,
            **dict.fromkeys(METRICS, 5000.0),
            "total_compensation": 500_000_000.0 + seed * 1_000_000,
            "employer_contributions": 11_000_000.0 + seed * 10_000 + year,
            "participation_rate": 0.80 + seed / 1000,
        }
        for seed in range(10)
        for year in (2025, 2026, 2027)
    ]
    result = EnsembleResult("baseline", tuple(range(10)), 2025, 2027, pd.DataFrame(rows), datetime.now(UTC))

    figure = EnsembleView(result).fan_chart()
    figure.canvas.draw()

    panels = [axis for axis in figure.axes if axis.get_visible()]
    titles = {axis.get_title(): axis for axis in panels}
    pay = titles["Total pay (annual, active)"]
    assert all(axis.yaxis.get_offset_text().get_text() == "" for axis in panels), "no 1e7 offsets"
    assert all(axis.title.get_fontsize() >= 11 for axis in panels)
    assert all(axis.title.get_fontweight() == "bold" for axis in panels), "without plt.style.use(nb.chart_style)"
    assert all(label.get_fontsize() >= 9 for axis in panels for label in axis.get_yticklabels())
    assert all(label.get_text().startswith("$") and label.get_text().endswith("M") for label in pay.get_yticklabels())
    participation = [label.get_text() for label in titles["Participation (active, enrolled)"].get_yticklabels()]
    assert all(text.endswith("%") for text in participation), participation
    years = [label.get_text() for label in pay.get_xticklabels()]
    assert years == ["2025", "2026", "2027"]
    assert _fetch_figure_metadata(figure) is None, "JupyterLab paints no block behind it in either theme"
