"""SimulationProgress: one row per simulated year, live, from YearStarted/YearFinished and the year's dbt nodes.

Like InitializationProgress it is a thread-safe progress observer with a live view
and a record drawn by the same code. A year's figures (headcount, growth, hires,
terminations) are part of the record: the simulation is deterministic for a given
config, so they are the same on every run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from planalign_nb.progress_widget import CANCELLED_MESSAGE, preparing_label
from planalign_nb.rendering import (
    STYLE,
    ErrorReport,
    ItemState,
    Snapshot,
    barline,
    css,
    error_report,
    escape,
    format_seconds,
    notebook_call,
    record_timings,
    row,
    seconds_cell,
    styled,
    table,
    workspace_reference,
)
from planalign_orchestrator.progress import (
    SIMULATE_STEP,
    DbtPreparationFinished,
    DbtPreparationStarted,
    NodeFinished,
    NodeStarted,
    ProgressEvent,
    YearFinished,
    YearStarted,
    utc_now,
)


@dataclass
class _Year:
    year: int
    state: ItemState = ItemState.PENDING
    seconds: float | None = None
    figures: str = ""
    started_at: datetime | None = None
    reused: bool = False


def year_figures(summary: Any) -> str:
    """One line of a year's results, worded like the terminal's, with its warning if any."""
    figures = (
        f"{summary.headcount_start:,} -> {summary.headcount_end:,} active ({summary.growth_pct:+.2f}%), "
        f"{summary.hires:,} hires, {summary.terminations:,} terminations"
    )
    return f"{figures} · Warning: {summary.target_warning}" if summary.target_warning else figures


class SimulationProgress(widgets.VBox):
    """Live progress of a multi-year run: a bar over the years (and the running year's dbt nodes), one row per year.

    `scenario` names a scenario other than the baseline, in the title and the remedy.
    """

    def __init__(
        self,
        start_year: int,
        end_year: int,
        *,
        root: Path | None = None,
        scenario: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._root = root
        self._clock = clock
        self._scenario = scenario
        self._lock = threading.RLock()
        self._first, self._last = start_year, end_year
        years = f"{start_year}-{end_year}" if start_year != end_year else str(start_year)
        self._span = f"{scenario} {years}" if scenario else years
        # Empty for a reversed range, which the engine refuses.
        self._years = {year: _Year(year) for year in range(start_year, end_year + 1)}
        self.outcome: str | None = None
        self.error: ErrorReport | None = None
        self.node_label = ""
        self._node_fraction = 0.0
        self.phase: str | None = None
        self._phase_started: datetime | None = None
        self._started_at: datetime | None = None
        self.body = styled(widgets.HTML(), "simulation-view")
        super().__init__(children=[self.body])
        styled(self, "simulation-widget")
        self._render()

    def __call__(self, event: ProgressEvent) -> None:
        """Apply one engine event; safe to call from any thread."""
        with self._lock:
            if isinstance(event, YearStarted):
                year = self._year(event.year)
                year.state, year.started_at = ItemState.RUNNING, event.at
                self._started_at = self._started_at or event.at
                self.node_label, self._node_fraction, self.phase = "", 0.0, None
            elif isinstance(event, YearFinished):
                self._year_finished(event)
            elif isinstance(event, (NodeStarted, NodeFinished, DbtPreparationStarted, DbtPreparationFinished)):
                if event.step_name != SIMULATE_STEP or self._running() is None:
                    return  # an initialization step's: InitializationProgress shows it
                self._dbt_event(event)
            else:
                return
            self._render()

    def tick(self) -> None:
        """Redraw the clock while a year runs; called by the heartbeat."""
        with self._lock:
            if self.outcome is None and self._running() is not None:
                self._render()

    @property
    def years(self) -> dict[int, ItemState]:
        return {number: year.state for number, year in self._years.items()}

    @property
    def fraction(self) -> float:
        with self._lock:
            if not self._years:
                return 0.0
            states = [year.state for year in self._years.values()]
            done = float(sum(state is ItemState.DONE for state in states))
            if self.outcome in ("failed", "cancelled"):
                done += any(state in (ItemState.FAILED, ItemState.CANCELLED) for state in states)
            elif self._running() is not None:
                done += self._node_fraction
            return done / len(states)

    def _year_finished(self, event: YearFinished) -> None:
        year = self._year(event.year)
        year.state, year.reused = ItemState.DONE, event.reused
        year.seconds = None if event.reused else event.duration_seconds
        figures = year_figures(event.summary) if event.summary is not None else ""
        year.figures = f"{figures} (up to date, reused)" if event.reused else figures
        self.node_label, self.phase = "", None
        if all(y.state is ItemState.DONE for y in self._years.values()):
            self.outcome = "completed"

    def _dbt_event(self, event: NodeStarted | NodeFinished | DbtPreparationStarted | DbtPreparationFinished) -> None:
        if isinstance(event, DbtPreparationStarted):
            self.phase, self._phase_started = preparing_label(event.importing), event.at
        elif isinstance(event, DbtPreparationFinished):
            self.phase = None
        else:
            self.node_label = event.label
            if isinstance(event, NodeFinished):
                self._node_fraction = event.index / event.total if event.total else 0.0

    def _year(self, number: int) -> _Year:
        """The row of a year; an earlier year the engine re-runs first (it was stale) gets one too."""
        if number not in self._years:
            self._years = dict(sorted({**self._years, number: _Year(number)}.items()))
        return self._years[number]

    def fail(self, error: BaseException) -> None:
        """End the run on an error or interrupt: the running year failed (or was cancelled)."""
        with self._lock:
            cancelled = isinstance(error, KeyboardInterrupt)
            self.outcome = "cancelled" if cancelled else "failed"
            self.phase = None
            self.error = ErrorReport(CANCELLED_MESSAGE, self._cancelled_remediation()) if cancelled else None
            self.error = self.error or error_report(error, self._root)
            for year in self._years.values():
                if year.state is ItemState.RUNNING:
                    year.state = ItemState.CANCELLED if cancelled else ItemState.FAILED
                elif year.state is ItemState.PENDING:
                    year.state = ItemState.SKIPPED
            self._render()

    def _cancelled_remediation(self) -> str:
        options: dict[str, Any] = {"start_year": self._first, "end_year": self._last}
        options.update({"scenario": self._scenario} if self._scenario else {})
        call = notebook_call("simulate", options, workspace_reference(self._root))
        return (
            f"Years already finished are kept; run `{call}` again to simulate the rest (up-to-date years are reused)."
        )

    def _running(self) -> _Year | None:
        running = [y for y in self._years.values() if y.state is ItemState.RUNNING]
        return running[-1] if running else None

    def _title(self) -> str:
        done = sum(y.state is ItemState.DONE for y in self._years.values())
        if self.outcome is not None:
            count = f": {done} of {len(self._years)} years done" if self._years else ""
            return f"Simulation {self._span} {self.outcome}{count}"
        running = self._running()
        if running is not None:
            index = list(self._years).index(running.year) + 1
            return f"Simulation {self._span}: {running.year} running ({index}/{len(self._years)})"
        return f"Simulation {self._span} starting"

    def _meta(self, live: bool) -> list[str]:
        if not live:
            return []
        meta = [f"{self.fraction:.0%}"]
        if self._started_at is not None and self.outcome is None:
            meta.append(format_seconds((self._clock() - self._started_at).total_seconds()))
            left = self._seconds_left()
            meta += [f"about {left:.0f} s left"] if left is not None and left >= 0.5 else []
        return meta

    def _seconds_left(self) -> float | None:
        """The mean of the years simulated so far, times the years still to run, less the running one's time."""
        timed = [y.seconds for y in self._years.values() if y.state is ItemState.DONE and y.seconds is not None]
        if not timed:
            return None
        remaining = [y for y in self._years.values() if y.state in (ItemState.PENDING, ItemState.RUNNING)]
        running = self._running()
        spent = (self._clock() - running.started_at).total_seconds() if running and running.started_at else 0.0
        return max(0.0, sum(timed) / len(timed) * len(remaining) - spent)

    def _year_seconds(self, year: _Year, live: bool) -> float | None:
        if year.state is ItemState.RUNNING and year.started_at is not None:
            return (self._clock() - year.started_at).total_seconds() if live else None
        return year.seconds if live or record_timings() else None

    def _node_line(self, live: bool) -> str:
        if live and self.phase and self._phase_started is not None:
            return f"{self.phase} · {format_seconds((self._clock() - self._phase_started).total_seconds())}"
        if not self.node_label:
            return ""
        return f"stopped at dbt node: {self.node_label}" if self.outcome else f"dbt node: {self.node_label}"

    def _html(self, live: bool) -> str:
        rows = [
            row(
                f"{css('year', f'year-{y.year}')} {y.state.css_class}",
                y.state.icon,
                str(y.year),
                y.state.value,
                escape(y.figures),
                seconds_cell(self._year_seconds(y, live)),
            )
            for y in self._years.values()
        ]
        node = self._node_line(live)
        node_html = f"<div class='{css('node')}'>{escape(node)}</div>" if node else ""
        classes = css("simulation") if live else css("simulation", "record")
        return (
            f"{STYLE}<div class='{classes}'><div class='{css('progress-header')}'><b>{escape(self._title())}</b></div>"
            f"{barline(self.fraction, self.outcome, self._meta(live))}{node_html}{table(rows)}"
            f"{self.error.html() if self.error else ''}</div>"
        )

    def _render(self) -> None:
        self.body.value = self._html(live=True)

    def snapshot(self) -> Snapshot:
        """The current state as a record: the live view without the clock (and without seconds when they are off)."""
        with self._lock:
            text = [self._title()]
            for y in self._years.values():
                seconds = format_seconds(self._year_seconds(y, live=False))
                text.append(f"  {y.state.icon} {y.year} {y.state.value:<9} {y.figures}  {seconds}".rstrip())
            node = self._node_line(live=False)
            text += [f"  {node}"] if node else []
            if self.error:
                text += [f"  {line}" for line in self.error.text_lines()]
            return Snapshot("\n".join(text), self._html(live=False))

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle.update(self.snapshot()._repr_mimebundle_())
        return bundle
