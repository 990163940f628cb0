"""InitializationProgress: the four initialization steps, live, from the engine's events.

The widget is a progress observer: `AutoInitializer.subscribe(widget)`. What the events
add up to is the engine's own state model (planalign_orchestrator.progress.
InitializationRun, which the terminal renders too); the widget only draws it. dbt calls
observers on its worker threads, so every event is applied under a lock and the view
is redrawn straight away; ipywidgets sends each change to the browser as it happens,
which is what makes the view live while the cell is still running. A heartbeat
(`tick`, driven by planalign_nb.live) redraws the clock between events, so the view
never looks frozen while dbt is imported and parsed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import ipywidgets as widgets

from planalign_nb.rendering import (
    ErrorReport,
    Snapshot,
    barline,
    css,
    escape,
    estimate,
    format_seconds,
    frame,
    header,
    icon,
    node_line,
    record_timings,
    report_of,
    seconds_cell,
    state_class,
    state_row,
    styled,
    table,
)
from planalign_orchestrator.progress import (
    Failure,
    InitializationRun,
    ItemState,
    ProgressEvent,
    StepProgress,
    utc_now,
)

PREPARING_DBT = "Preparing dbt: first run in this kernel"
PARSING_PROJECT = "Preparing dbt: reading the project"


def phase_label(phase: str | None) -> str | None:
    """Dbt's load before its first node, in words: imported (first run in the kernel) or the project parsed."""
    if phase is None:
        return None
    return PREPARING_DBT if phase == "importing" else PARSING_PROJECT


def failure_report(failure: Failure | None, root: Path | None) -> ErrorReport | None:
    """A run's failure as the panels show it, its remedy worded for the notebook."""
    if failure is None:
        return None
    return report_of(failure.message, failure.remedy, failure.remediation, root)


class RunState(Protocol):
    """What a live widget draws: one of the engine's run-state models (progress.py)."""

    @property
    def outcome(self) -> str | None: ...

    @property
    def failure(self) -> Failure | None: ...

    def apply(self, event: ProgressEvent) -> bool: ...

    def fail(self, error: BaseException) -> None: ...

    def running(self) -> Any: ...


RunT = TypeVar("RunT", bound=RunState)


class LiveRunWidget(widgets.VBox, Generic[RunT]):
    """A widget drawing an engine run-state model as its events arrive, from any thread.

    The initialization, simulation and optimization views differ only in what they draw
    (`_render`); applying events, the heartbeat's redraw and ending on the caller's
    exception are the same, so they live here once.
    """

    run: RunT
    _root: Path | None
    _lock: threading.RLock

    def _render(self) -> None:
        raise NotImplementedError

    def __call__(self, event: ProgressEvent) -> None:
        """Apply one engine event; safe to call from any thread."""
        with self._lock:
            if self.run.apply(event):
                self._render()

    def tick(self) -> None:
        """Redraw the clock (elapsed, estimate) while an item runs; called by the heartbeat."""
        with self._lock:
            if self.run.outcome is None and self.run.running() is not None:
                self._render()

    def fail(self, error: BaseException) -> None:
        """End the run with the exception the caller received: its message and remedy win.

        The exception is the engine's final word (e.g. InitializationTimeoutError with
        its remedy), so it replaces what the events said; it also covers failures outside
        any item, such as an invalid config. An interrupt shows "cancelled".
        """
        with self._lock:
            self.run.fail(error)
            self._render()

    @property
    def outcome(self) -> str | None:
        return self.run.outcome

    @property
    def error(self) -> ErrorReport | None:
        return failure_report(self.run.failure, self._root)


class InitializationProgress(LiveRunWidget[InitializationRun]):
    """Live progress of one initialization: step states, overall bar, current dbt node, errors.

    Feed it progress events (it is callable) and display it for the live view. `steps`
    (name -> ItemState), `node_label`, `phase`, `fraction`, `outcome` and `error` say
    where it is; `body` is the HTML the browser shows. `expected` holds each step's
    duration on its last successful run (the workspace's step log), for an estimate of
    what is left. The record (`snapshot()`, and the text/plain and text/html of its
    mime bundle) is the live view without the clock.
    """

    def __init__(
        self,
        *,
        root: Path | None = None,
        expected: Mapping[str, float] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._root = root
        self._clock = clock
        self._expected = dict(expected or {})
        self._lock = threading.RLock()
        self.body = styled(widgets.HTML(), "progress-view")
        super().__init__(children=[self.body])
        styled(self, "progress-widget")
        self.reset()

    # -- observer ----------------------------------------------------------------

    def reset(self) -> None:
        """Back to four pending steps, for the next run of the same widget."""
        with self._lock:
            self.run = InitializationRun()
            self._render()

    @property
    def steps(self) -> dict[str, ItemState]:
        return {name: step.state for name, step in self.run.steps.items()}

    @property
    def node_label(self) -> str:
        return self.run.dbt.node_label

    @property
    def phase(self) -> str | None:
        return phase_label(self.run.dbt.phase)

    @property
    def fraction(self) -> float:
        with self._lock:
            return self.run.fraction

    # -- rendering ---------------------------------------------------------------

    def _title(self) -> str:
        run = self.run
        if run.outcome == "completed" and run.result is not None:
            return run.result.headline
        if run.outcome is not None:
            return f"Initialization {run.outcome}"
        step = run.running()
        if step is not None:
            index = list(run.steps).index(step.name) + 1
            return f"Initialization: {step.display_name} ({index}/{len(run.steps)})"
        if any(step.state is not ItemState.PENDING for step in run.steps.values()):
            return "Initialization running"
        return f"Initialization starting ({len(run.steps)} steps)"

    def _step_seconds(self, step: StepProgress, live: bool) -> float | None:
        if step.state is ItemState.RUNNING and step.started_at is not None:
            return (self._clock() - step.started_at).total_seconds() if live else None
        return step.seconds if live or record_timings() else None

    def _meta(self, live: bool) -> list[str]:
        run = self.run
        if not live:
            seconds = run.result.duration_seconds if run.result is not None else None
            return [f"in {format_seconds(seconds)}"] if seconds is not None and record_timings() else []
        meta = [f"{run.fraction:.0%}"]
        if run.started_at is not None and run.outcome is None:
            meta.append(format_seconds((self._clock() - run.started_at).total_seconds()))
            step = run.running()
            if step is not None and step.started_at is not None:
                left = estimate((self._clock() - step.started_at).total_seconds(), self._expected.get(step.name))
                meta += [left] if left else []
        return meta

    def _node_line(self, live: bool) -> str:
        dbt = self.run.dbt
        label = phase_label(dbt.phase)
        if live and label and dbt.phase_started is not None:
            return f"{label} · {format_seconds((self._clock() - dbt.phase_started).total_seconds())}"
        if not dbt.node_label:
            return ""
        if self.run.outcome in ("failed", "cancelled"):
            return f"stopped at dbt node: {dbt.node_label}"
        return f"dbt node: {dbt.node_label}"

    def _extra_lines(self) -> list[str]:
        result = self.run.result
        if result is None:
            return []
        lines = []
        if result.success and result.missing_tables_found:
            lines.append("Created: " + ", ".join(result.missing_tables_found))
        if result.success and result.stale_tables_found:
            lines.append("Rebuilt (out of date): " + ", ".join(result.stale_tables_found))
        if result.backup_path is not None:
            lines.append(f"Unreadable database kept as: {result.backup_path.name}")
        return lines

    def _html(self, live: bool) -> str:
        rows = [
            state_row(
                f"{css('step', 'step-' + s.name)} {state_class(s.state)}",
                s.state,
                icon(s.state),
                escape(s.display_name),
                s.state.value,
                seconds_cell(self._step_seconds(s, live)),
            )
            for s in self.run.steps.values()
        ]
        extras = "".join(f"<div>{escape(line)}</div>" for line in self._extra_lines())
        error = self.error
        classes = css("progress", "record") if not live else css("progress")
        return frame(
            classes,
            f"{header(self._title())}{barline(self.run.fraction, self.run.outcome, self._meta(live))}"
            f"{node_line(self._node_line(live))}{table(rows)}{extras}{error.html() if error else ''}",
        )

    def _render(self) -> None:
        """Push the current state to the browser (one comm message)."""
        self.body.value = self._html(live=True)

    def snapshot(self) -> Snapshot:
        """The current state as a record: the live view without the clock (and without seconds when they are off)."""
        with self._lock:
            text = [self._title()]
            for s in self.run.steps.values():
                seconds = self._step_seconds(s, live=False)
                text.append(
                    f"  {icon(s.state)} {s.display_name:<28} {s.state.value:<9} {format_seconds(seconds)}".rstrip()
                )
            node = self._node_line(live=False)
            text += [f"  {line}" for line in ([node] if node else []) + self._extra_lines()]
            error = self.error
            if error:
                text += [f"  {line}" for line in error.text_lines()]
            return Snapshot("\n".join(text), self._html(live=False))

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle.update(self.snapshot()._repr_mimebundle_())
        return bundle
