"""SimulationResult: what `planalign_nb.simulate` returns, as DataFrames and a plot.

The numbers come from planalign_orchestrator.pipeline.results, the single place
that reads simulation results back, so the notebook and the terminal report the same
figures. Snapshot and events are read on first use: they are per-employee tables
that an analyst may never look at.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from planalign_orchestrator.database import DatabaseConnectionManager
    from planalign_orchestrator.pipeline.results import SimulationSummary


class SimulationResult:
    """One simulate() call: `.summary`, `.snapshot`, `.events` (DataFrames) and `.plot()`."""

    def __init__(self, summary: SimulationSummary, db_manager: DatabaseConnectionManager) -> None:
        self.simulation_summary = summary
        self._db_manager = db_manager

    @property
    def years(self) -> list[int]:
        return [year.year for year in self.simulation_summary.years]

    @cached_property
    def summary(self) -> pd.DataFrame:
        """One row per simulated year (index `year`): headcount, hires, terminations, pay, contributions."""
        return self.simulation_summary.to_dataframe()

    @cached_property
    def snapshot(self) -> pd.DataFrame:
        """The workforce snapshot of the simulated years: one row per employee and year."""
        from planalign_orchestrator.pipeline.results import workforce_snapshot

        return workforce_snapshot(self._db_manager, self.years)

    @cached_property
    def events(self) -> pd.DataFrame:
        """The yearly events (hires, terminations, promotions, raises, ...) of the simulated years."""
        from planalign_orchestrator.pipeline.results import yearly_events

        return yearly_events(self._db_manager, self.years)

    def plot(self) -> Figure:
        """Headcount and average compensation by year, side by side; returns the Figure.

        The figure is made with pyplot (which sets up the notebook's inline rendering)
        and then closed in pyplot, so a notebook shows it once, as the cell's value,
        instead of a second time when the cell ends.
        """
        import matplotlib.pyplot as plt

        frame = self.summary
        years = [str(year) for year in frame.index]
        figure, (headcount, pay) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
        plt.close(figure)
        headcount.bar(years, frame["headcount_end"], color="#4c72b0")
        headcount.set_title("Active headcount at year end")
        headcount.set_xlabel("Simulation year")
        headcount.set_ylabel("Employees")
        pay.plot(years, frame["average_compensation"], marker="o", color="#dd8452")
        pay.set_title("Average compensation")
        pay.set_xlabel("Simulation year")
        pay.set_ylabel("Per active employee")
        pay.yaxis.set_major_formatter(lambda value, _position: f"{value:,.0f}")
        return figure

    def __repr__(self) -> str:
        return str(self.simulation_summary)

    def _repr_html_(self) -> str:
        return self.simulation_summary._repr_html_()
