"""SimulationResult: what `planalign_nb.simulate` returns, as DataFrames, a plot and exports.

The numbers come from the session (the engine's metrics model), the same place the
terminal reads them, so the notebook and the terminal report the same figures.
Snapshot and events are read on first use: they are per-employee tables that an
analyst may never look at.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from planalign_nb.charts import TEXT, neutral_figure, tick_format, title

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from planalign_orchestrator.session import WorkspaceSession
    from planalign_orchestrator.views import SimulationSummary


class SimulationResult:
    """One simulate() call: `.summary`, `.snapshot`, `.events` (DataFrames), `.plot()` and exports."""

    def __init__(self, summary: SimulationSummary, session: WorkspaceSession) -> None:
        self.simulation_summary = summary
        self._session = session
        self.created_at = datetime.now(UTC)

    @property
    def scenario(self) -> str:
        return self._session.scenario.name

    @property
    def years(self) -> list[int]:
        return [year.year for year in self.simulation_summary.years]

    @cached_property
    def summary(self) -> pd.DataFrame:
        """One row per simulated year (index `year`), a column per metric of the engine's metrics model.

        The numbers, for analysis: money in whole currency units and rates as fractions
        rounded to 4 decimals (cents and 5.028349e+08 only obscure them). To read them,
        show the result itself (`run`): the same figures formatted as the terminal
        formats them ($96,176, 3.00%, 5,150), a column per year.
        """
        from planalign_orchestrator.views import METRICS

        frame = self.simulation_summary.to_dataframe()
        money = [m.column for m in METRICS if m.kind == "money"]
        fractions = [m.column for m in METRICS if m.kind == "fraction"]
        frame[money] = frame[money].round(0).astype("int64")
        frame[fractions] = frame[fractions].round(4)
        return frame

    @cached_property
    def snapshot(self) -> pd.DataFrame:
        """The workforce snapshot of the simulated years: one row per employee and year."""
        return self._session.snapshot(self.years)

    @cached_property
    def events(self) -> pd.DataFrame:
        """The yearly events (hires, terminations, promotions, raises, ...) of the simulated years."""
        return self._session.events(self.years)

    def plot(self) -> Figure:
        """Headcount (with each year's growth) and average compensation by year, side by side; returns the Figure.

        The headcount axis starts near the data, not at zero, so a few percent of growth
        is visible. The figure is made with pyplot (which sets up the notebook's inline
        rendering) and then closed in pyplot, so a notebook shows it once, as the cell's
        value, instead of a second time when the cell ends.
        """
        from planalign_orchestrator.views import metric

        frame = self.summary
        years = [str(year) for year in frame.index]
        figure, (headcount, pay) = neutral_figure(1, 2, figsize=(10, 3.6))
        headcount.plot(years, frame["headcount_end"], marker="o")
        for year, count, growth in zip(years, frame["headcount_end"], frame["growth_rate"], strict=True):
            headcount.annotate(
                f"{growth:+.1%}",
                (year, count),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                color=TEXT,
                fontsize=9,
            )
        headcount.margins(y=0.2)
        title(headcount, "Active headcount at year end (growth on the year)")
        headcount.set_xlabel("Simulation year")
        headcount.set_ylabel("Employees")
        headcount.yaxis.set_major_formatter(tick_format(metric("headcount_end"), frame["headcount_end"]))
        pay.plot(years, frame["average_compensation"], marker="o", color="#dd8452")
        pay.margins(y=0.2)
        title(pay, "Average compensation")
        pay.set_xlabel("Simulation year")
        pay.set_ylabel("Per active employee")
        pay.yaxis.set_major_formatter(tick_format(metric("average_compensation"), frame["average_compensation"]))
        return figure

    def to_excel(self, path: Path | str) -> Path:
        """A workbook: summary, per-year metrics, the full config and overrides, run metadata."""
        return self._session.write_run_workbook(path, self.simulation_summary, self.created_at)

    def export(self, folder: Path | str, format: Literal["csv", "parquet"] = "parquet") -> list[Path]:
        """Write the snapshot and the events as CSV or Parquet files into `folder`; returns the paths.

        A folder without room for them raises DiskFullError (nothing half-written is left).
        """
        frames = {f"{self.scenario}_snapshot": self.snapshot, f"{self.scenario}_events": self.events}
        return self._session.write_frames(folder, frames, format)

    def __repr__(self) -> str:
        return str(self.simulation_summary)

    def _repr_html_(self) -> str:
        return self.simulation_summary._repr_html_()
