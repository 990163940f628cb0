"""SimulationProgress: one row per simulated year, live, from YearStarted/YearFinished and the year's dbt nodes.

Like InitializationProgress it is a thread-safe progress observer with a live view
and a record drawn by the same code. A year's figures (headcount, growth, hires,
terminations) are part of the record: the simulation is deterministic for a given
config, so they are the same on every run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from planalign_nb.progress_widget import LiveRunWidget, phase_label
from planalign_nb.rendering import (
    ORANGE,
    Snapshot,
    barline,
    css,
    escape,
    format_seconds,
    frame,
    header,
    icon,
    node_line,
    notebook_call,
    record_timings,
    seconds_cell,
    state_class,
    state_row,
    styled,
    table,
    with_code,
    workspace_reference,
)
from planalign_orchestrator.progress import ItemState, SimulationRun, YearProgress, utc_now

if TYPE_CHECKING:
    from planalign_orchestrator.views import SimulationSummary


def year_figures(year: YearProgress) -> str:
    """One line of a year's results, worded like the terminal's, with its warning if any."""
    if year.seeds is not None:
        return f"{year.seeds:,} seeds"
    summary = year.summary
    if year.state is not ItemState.DONE or summary is None:
        return ""
    figures = summary.figures()
    figures = f"{figures} · Warning: {summary.target_warning}" if summary.target_warning else figures
    return f"{figures} (up to date, reused)" if year.reused else figures


class SimulationProgress(LiveRunWidget[SimulationRun]):
    """Live progress of a multi-year run: a bar over the years (and the running year's dbt nodes), one row per year.

    What the events add up to is the engine's SimulationRun; the widget draws it.
    `scenario` names a scenario other than the baseline, in the title and the remedy;
    `seeds` is an ensemble's number of seeds.
    """

    def __init__(
        self,
        start_year: int,
        end_year: int,
        *,
        root: Path | None = None,
        scenario: str | None = None,
        seeds: int | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._root = root
        self._clock = clock
        self._lock = threading.RLock()
        years = f"{start_year}-{end_year}" if start_year != end_year else str(start_year)
        self._span = f"{scenario} {years}" if scenario else years
        self.run = SimulationRun(start_year, end_year, scenario=scenario, seeds=seeds)
        self.warnings: list[str] = []
        self.body = styled(widgets.HTML(), "simulation-view")
        super().__init__(children=[self.body])
        styled(self, "simulation-widget")
        self._render()

    def warn_stale_later_years(self, summary: SimulationSummary) -> None:
        """Say which later years the run made stale, and the call that refreshes them."""
        options: dict[str, Any] = {"start_year": summary.first_year, "end_year": summary.stale_later_years[-1]}
        options.update({"scenario": self.run.scenario} if self.run.scenario else {})
        call = notebook_call("simulate", options, workspace_reference(self._root))
        with self._lock:
            self.warnings.append(summary.stale_later_years_warning(f"`{call}`"))
            self._render()

    @property
    def years(self) -> dict[int, ItemState]:
        return {number: year.state for number, year in self.run.years.items()}

    @property
    def node_label(self) -> str:
        return self.run.dbt.node_label

    @property
    def fraction(self) -> float:
        with self._lock:
            return self.run.fraction

    def _title(self) -> str:
        years = self.run.years
        done = sum(y.state is ItemState.DONE for y in years.values())
        if self.run.outcome is not None:
            count = f": {done} of {len(years)} years done" if years else ""
            return f"Simulation {self._span} {self.run.outcome}{count}"
        running = self.run.running()
        if running is not None:
            index = list(years).index(running.year) + 1
            return f"Simulation {self._span}: {running.year} running ({index}/{len(years)})"
        return f"Simulation {self._span} starting"

    def _meta(self, live: bool) -> list[str]:
        run = self.run
        if not live:
            return []
        meta = [f"{run.fraction:.0%}"]
        if run.started_at is not None and run.outcome is None:
            meta.append(format_seconds((self._clock() - run.started_at).total_seconds()))
            left = self._seconds_left()
            meta += [f"about {left:.0f} s left"] if left is not None and left >= 0.5 else []
        return meta

    def _seconds_left(self) -> float | None:
        """The mean of the years simulated so far, times the years still to run, less the running one's time."""
        years = self.run.years.values()
        timed = [y.seconds for y in years if y.state is ItemState.DONE and y.seconds is not None]
        if not timed:
            return None
        remaining = [y for y in years if y.state in (ItemState.PENDING, ItemState.RUNNING)]
        running = self.run.running()
        spent = (self._clock() - running.started_at).total_seconds() if running and running.started_at else 0.0
        return max(0.0, sum(timed) / len(timed) * len(remaining) - spent)

    def _year_seconds(self, year: YearProgress, live: bool) -> float | None:
        if year.state is ItemState.RUNNING and year.started_at is not None:
            return (self._clock() - year.started_at).total_seconds() if live else None
        return year.seconds if live or record_timings() else None

    def _node_line(self, live: bool) -> str:
        dbt = self.run.dbt
        label = phase_label(dbt.phase)
        if live and label and dbt.phase_started is not None:
            return f"{label} · {format_seconds((self._clock() - dbt.phase_started).total_seconds())}"
        if not dbt.node_label:
            return ""
        return f"stopped at dbt node: {dbt.node_label}" if self.run.outcome else f"dbt node: {dbt.node_label}"

    def _html(self, live: bool) -> str:
        rows = [
            state_row(
                f"{css('year', f'year-{y.year}')} {state_class(y.state)}",
                y.state,
                icon(y.state),
                str(y.year),
                y.state.value,
                escape(year_figures(y)),
                seconds_cell(self._year_seconds(y, live)),
            )
            for y in self.run.years.values()
        ]
        error = self.error
        warnings = "".join(
            f"<div class='{css('warning')}'><b style='color:{ORANGE}'>Warning:</b> {with_code(text)}</div>"
            for text in self.warnings
        )
        classes = css("simulation") if live else css("simulation", "record")
        return frame(
            classes,
            f"{header(self._title())}{barline(self.run.fraction, self.run.outcome, self._meta(live))}"
            f"{node_line(self._node_line(live))}{table(rows)}{warnings}{error.html() if error else ''}",
        )

    def _render(self) -> None:
        self.body.value = self._html(live=True)

    def snapshot(self) -> Snapshot:
        """The current state as a record: the live view without the clock (and without seconds when they are off)."""
        with self._lock:
            text = [self._title()]
            for y in self.run.years.values():
                seconds = format_seconds(self._year_seconds(y, live=False))
                text.append(f"  {icon(y.state)} {y.year} {y.state.value:<9} {year_figures(y)}  {seconds}".rstrip())
            node = self._node_line(live=False)
            text += [f"  {node}"] if node else []
            text += [f"  Warning: {warning}" for warning in self.warnings]
            error = self.error
            if error:
                text += [f"  {line}" for line in error.text_lines()]
            return Snapshot("\n".join(text), self._html(live=False))

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle.update(self.snapshot()._repr_mimebundle_())
        return bundle
