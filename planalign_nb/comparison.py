"""ScenarioComparison: the engine's Comparison, shown in a notebook and drawn as charts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from planalign_nb.charts import neutral_figure, tick_format, title

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from planalign_orchestrator.views import Comparison


class ScenarioComparison:
    """Scenarios side by side: shows as a table; `.table`, `.deltas`, `.metrics`, `.plot()`, `.to_excel()`."""

    def __init__(self, comparison: Comparison) -> None:
        self.comparison = comparison

    @property
    def names(self) -> list[str]:
        return self.comparison.names

    @property
    def table(self) -> pd.DataFrame:
        """Index (metric, year), one column per scenario."""
        return self.comparison.table

    @property
    def deltas(self) -> pd.DataFrame:
        """Index (metric, year); per scenario after the first, its absolute ('abs') and relative ('pct') delta."""
        return self.comparison.deltas

    @property
    def metrics(self) -> pd.DataFrame:
        """One row per (scenario, year) with every metric: the tidy form, for your own analysis."""
        return self.comparison.metrics

    def to_excel(self, path: Path | str) -> Path:
        """A workbook: comparison, deltas, metrics, configs and overrides, run metadata."""
        return self.comparison.to_excel(path)

    def plot(self) -> Figure:
        """Each key metric over the years, one line per scenario (four panels a row); returns the Figure."""
        from planalign_orchestrator.views import KEY_METRICS

        rows_of_panels = -(-len(KEY_METRICS) // 4)
        figure, axes = neutral_figure(rows_of_panels, 4, figsize=(15, 3.25 * rows_of_panels), squeeze=False)
        for axis in list(axes.flat)[len(KEY_METRICS) :]:
            axis.set_visible(False)
        metrics = self.comparison.metrics
        for metric, axis in zip(KEY_METRICS, axes.flat, strict=False):
            for name in self.names:
                rows = metrics[metrics["scenario"] == name]
                axis.plot(rows["year"].astype(str), rows[metric.column], marker="o", label=name)
            title(axis, metric.label)
            axis.yaxis.set_major_formatter(tick_format(metric, metrics[metric.column]))
        for axis in list(axes.flat)[len(KEY_METRICS) :]:
            axis.set_visible(False)
        axes.flat[0].legend()
        return figure

    def __repr__(self) -> str:
        return str(self.comparison)

    def _repr_html_(self) -> str:
        return self.comparison._repr_html_()
