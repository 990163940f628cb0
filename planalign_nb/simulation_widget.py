"""SimulationProgress: one row per simulated year, live, from YearStarted/YearFinished.

Like InitializationProgress it is a thread-safe progress observer with a live view
and a deterministic static rendering. A year's figures (headcount, growth, hires,
terminations) are part of the static rendering: the simulation is deterministic for a
given config, so they are the same on every run; only the seconds are live-only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from planalign_nb.progress_widget import CANCELLED_MESSAGE
from planalign_nb.rendering import (
    ErrorReport,
    ItemState,
    Snapshot,
    bar_style,
    css,
    error_report,
    escape,
    format_seconds,
    mark_state,
    row_cells,
    show_error,
    styled,
)
from planalign_orchestrator.progress import ProgressEvent, YearFinished, YearStarted

SIMULATION_CANCELLED_REMEDIATION = (
    "Years already finished are kept; simulate again from the first unfinished year, "
    "or re-run the whole range (a re-run year replaces its rows)."
)


@dataclass
class _Year:
    year: int
    state: ItemState = ItemState.PENDING
    seconds: float | None = None
    figures: str = ""


def year_figures(summary: Any) -> str:
    """One line of a year's results, worded like the terminal's, with its warning if any."""
    figures = (
        f"{summary.headcount_start:,} -> {summary.headcount_end:,} active ({summary.growth_pct:+.2f}%), "
        f"{summary.hires:,} hires, {summary.terminations:,} terminations"
    )
    return f"{figures} · Warning: {summary.target_warning}" if summary.target_warning else figures


class SimulationProgress(widgets.VBox):
    """Live progress of a multi-year run: a bar over the years and one row per year."""

    def __init__(self, start_year: int, end_year: int, *, root: Path | None = None) -> None:
        self._root = root
        self._lock = threading.RLock()
        self._span = f"{start_year}-{end_year}" if start_year != end_year else str(start_year)
        years = list(range(start_year, end_year + 1))  # empty for a reversed range, which the engine refuses
        self._years = {year: _Year(year) for year in years}
        self.outcome: str | None = None
        self.error: ErrorReport | None = None
        self.header = styled(widgets.HTML(), "progress-header")
        self.bar = styled(widgets.IntProgress(min=0, max=len(years)), "bar")
        self.year_rows = {year: styled(widgets.HTML(), "year", f"year-{year}") for year in years}
        self.error_panel = styled(widgets.HTML(), "error-panel")
        self.heading = widgets.HBox([self.header, self.bar])
        super().__init__(children=[self.heading, *self.year_rows.values(), self.error_panel])
        styled(self, "simulation")
        self._render()

    def __call__(self, event: ProgressEvent) -> None:
        """Apply one engine event; safe to call from any thread."""
        with self._lock:
            if isinstance(event, YearStarted):
                self._year(event.year).state = ItemState.RUNNING
            elif isinstance(event, YearFinished):
                year = self._year(event.year)
                year.state = ItemState.DONE
                year.seconds = None if event.reused else event.duration_seconds
                figures = year_figures(event.summary) if event.summary is not None else ""
                year.figures = f"{figures} (up to date, reused)" if event.reused else figures
                if all(y.state is ItemState.DONE for y in self._years.values()):
                    self.outcome = "completed"
            else:
                return
            self._render()

    def _year(self, number: int) -> _Year:
        """The row of a year; an earlier year the engine re-runs first (it was stale) gets one too."""
        if number not in self._years:
            self._years = dict(sorted({**self._years, number: _Year(number)}.items()))
            self.year_rows[number] = styled(widgets.HTML(), "year", f"year-{number}")
            self.year_rows = dict(sorted(self.year_rows.items()))
            self.bar.max = len(self._years)
            self.children = [self.heading, *self.year_rows.values(), self.error_panel]
        return self._years[number]

    def fail(self, error: BaseException) -> None:
        """End the run on an error or interrupt: the running year failed (or was cancelled)."""
        with self._lock:
            cancelled = isinstance(error, KeyboardInterrupt)
            self.outcome = "cancelled" if cancelled else "failed"
            self.error = (
                ErrorReport(CANCELLED_MESSAGE, SIMULATION_CANCELLED_REMEDIATION)
                if cancelled
                else error_report(error, self._root)
            )
            for year in self._years.values():
                if year.state is ItemState.RUNNING:
                    year.state = ItemState.CANCELLED if cancelled else ItemState.FAILED
                elif year.state is ItemState.PENDING:
                    year.state = ItemState.SKIPPED
            self._render()

    def _title(self) -> str:
        done = sum(y.state is ItemState.DONE for y in self._years.values())
        status = self.outcome or ("running" if done or self._running() else "starting")
        return f"Simulation {self._span} {status}: {done} of {len(self._years)} years done"

    def _running(self) -> bool:
        return any(y.state is ItemState.RUNNING for y in self._years.values())

    def _render(self) -> None:
        self.bar.value = sum(y.state is ItemState.DONE for y in self._years.values())
        self.bar.bar_style = bar_style(self.outcome)
        self.header.value = f"<b>{escape(self._title())}</b>"
        for number, year in self._years.items():
            row = self.year_rows[number]
            seconds = f" · {format_seconds(year.seconds)}" if year.seconds is not None else ""
            figures = f" · {escape(year.figures)}" if year.figures else ""
            row.value = f"{year.state.icon} {number} · {year.state.value}{figures}{seconds}"
            mark_state(row, year.state)
        show_error(self.error_panel, self.error)

    def snapshot(self) -> Snapshot:
        """The current state as deterministic text and HTML (no timings, no ids, no absolute paths)."""
        with self._lock:
            title = self._title()
            text = [title] + [
                f"  {y.state.icon} {y.year} {y.state.value:<9} {y.figures}".rstrip() for y in self._years.values()
            ]
            if self.error:
                text += [f"  {line}" for line in self.error.text_lines()]
            rows = "".join(
                f"<tr class='{css('year', f'year-{y.year}')} {y.state.css_class}'>"
                f"{row_cells(y.state.icon, y.year, y.state.value, escape(y.figures))}</tr>"
                for y in self._years.values()
            )
            error_html = self.error.html() if self.error else ""
            return Snapshot(
                "\n".join(text),
                f"<div class='{css('simulation', 'record')}'><div class='{css('progress-header')}'>"
                f"<b>{escape(title)}</b></div><table>{rows}</table>{error_html}</div>",
            )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle.update(self.snapshot()._repr_mimebundle_())
        return bundle
