"""InitializationProgress: the four initialization steps, live, from the engine's events.

The widget is a progress observer: `AutoInitializer.subscribe(widget)`. dbt calls
observers on its worker threads, so every event is applied under a lock and each
child widget is updated straight away; ipywidgets sends each change to the browser
as it happens, which is what makes the view live while the cell is still running.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import ipywidgets as widgets

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
    relative_to_workspace,
    row_cells,
    show_error,
    styled,
)
from planalign_orchestrator.progress import (
    InitializationFinished,
    NodeFinished,
    NodeStarted,
    ProgressEvent,
    StepFinished,
    StepStarted,
)
from planalign_orchestrator.self_healing.models import STANDARD_STEPS, InitializationResult

CANCELLED_MESSAGE = "Cancelled by interrupt."
CANCELLED_REMEDIATION = "Run the initialization again: it finds what is missing or incomplete and builds only that."
_SUCCESS_NODE_STATUSES = {"success", "pass"}


@dataclass
class _Step:
    name: str
    display_name: str
    state: ItemState = ItemState.PENDING
    started_at: datetime | None = None
    seconds: float | None = None


class InitializationProgress(widgets.VBox):
    """Live progress of one initialization: step states, overall bar, current dbt node, errors.

    Feed it progress events (it is callable) and display it for the live view; the
    children (`header`, `bar`, `node`, `step_rows`, `error_panel`) and `outcome` and
    `error` show where it is. Its static rendering (`snapshot()`, and the text/plain
    and text/html of its mime bundle) holds no timings, so executed notebooks
    compare equal run after run.
    """

    def __init__(self, *, root: Path | None = None) -> None:
        self._root = root
        self._lock = threading.RLock()
        self.header = styled(widgets.HTML(), "progress-header")
        self.bar = styled(widgets.FloatProgress(min=0.0, max=float(len(STANDARD_STEPS))), "bar")
        self.node = styled(widgets.HTML(), "node")
        self.step_rows = {name: styled(widgets.HTML(), "step", f"step-{name}") for name, _ in STANDARD_STEPS}
        self.error_panel = styled(widgets.HTML(), "error-panel")
        super().__init__(
            children=[
                widgets.HBox([self.header, self.bar]),
                self.node,
                *self.step_rows.values(),
                self.error_panel,
            ]
        )
        styled(self, "progress")
        self.reset()

    # -- observer ----------------------------------------------------------------

    def __call__(self, event: ProgressEvent) -> None:
        """Apply one engine event; safe to call from any thread."""
        with self._lock:
            if isinstance(event, StepStarted):
                self._step_started(event)
            elif isinstance(event, StepFinished):
                self._step_finished(event)
            elif isinstance(event, (NodeStarted, NodeFinished)):
                self._node_event(event)
            elif isinstance(event, InitializationFinished):
                self._finished(event)
            else:
                return  # year events belong to SimulationProgress
            self._render()

    def reset(self) -> None:
        """Back to four pending steps, for the next run of the same widget."""
        with self._lock:
            self._steps = {name: _Step(name, display) for name, display in STANDARD_STEPS}
            self._node_label = ""
            self._node_fraction = 0.0
            self.outcome: str | None = None
            self.error: ErrorReport | None = None
            self._headline = ""
            self._created: list[str] = []
            self._rebuilt: list[str] = []
            self._backup_name: str | None = None
            self._render()

    def fail(self, error: BaseException) -> None:
        """End the run with the exception the caller received: its message and remediation win.

        The exception is the engine's final word (e.g. InitializationTimeoutError with
        its remediation), so it replaces what the step events said; it also covers
        failures outside any step, such as an invalid config. An interrupt shows
        "cancelled".
        """
        with self._lock:
            if isinstance(error, KeyboardInterrupt):
                if self.outcome != "cancelled":
                    self._end_run("cancelled", ErrorReport(CANCELLED_MESSAGE, CANCELLED_REMEDIATION))
            else:
                self._end_run("failed", error_report(error, self._root))
            self._render()

    # -- event handlers ----------------------------------------------------------

    def _step_started(self, event: StepStarted) -> None:
        step = self._steps[event.step_name]
        step.state, step.started_at, step.seconds = ItemState.RUNNING, event.at, 0.0
        self._node_fraction = 0.0

    def _step_finished(self, event: StepFinished) -> None:
        step = self._steps[event.step_name]
        step.seconds = event.duration_seconds
        if event.success:
            step.state = ItemState.DONE
            return
        step.state = ItemState.FAILED
        self.error = ErrorReport(
            relative_to_workspace(event.error or "step failed", self._root),
            relative_to_workspace(event.remediation, self._root) if event.remediation else None,
        )

    def _node_event(self, event: NodeStarted | NodeFinished) -> None:
        self._node_label = event.label
        if isinstance(event, NodeFinished):
            if event.status not in _SUCCESS_NODE_STATUSES:
                self._node_label = f"{event.label} {event.status}"
            self._node_fraction = event.index / event.total if event.total else 0.0
        step = self._steps.get(event.step_name or "")
        if step is not None and step.state is ItemState.RUNNING and step.started_at is not None:
            step.seconds = (event.at - step.started_at).total_seconds()

    def _finished(self, event: InitializationFinished) -> None:
        result = event.result
        if event.cancelled:
            self._end_run("cancelled", ErrorReport(CANCELLED_MESSAGE, CANCELLED_REMEDIATION))
        elif result.success:
            self._end_run("completed", None, result)
        else:
            # The result's error is the final word; a step's remediation is kept only
            # when it answers that same error (fail() then adds the raised exception's).
            final = relative_to_workspace(result.error, self._root) if result.error else None
            if self.error is not None and final in (None, self.error.message):
                self._end_run("failed", self.error)
            else:
                self._end_run("failed", ErrorReport(final or "Initialization failed."))
        if result.backup_path is not None:
            self._backup_name = result.backup_path.name

    def _end_run(self, outcome: str, error: ErrorReport | None, result: InitializationResult | None = None) -> None:
        self.outcome, self.error = outcome, error
        for step in self._steps.values():
            if step.state is ItemState.PENDING:
                step.state = ItemState.SKIPPED
            elif outcome == "cancelled" and step.state in (ItemState.RUNNING, ItemState.FAILED):
                step.state = ItemState.CANCELLED
            elif step.state is ItemState.RUNNING:
                step.state = ItemState.FAILED
        if result is not None:
            self._headline = result.headline
            self._created = list(result.missing_tables_found)
            self._rebuilt = list(result.stale_tables_found)

    # -- rendering ---------------------------------------------------------------

    def _title(self) -> str:
        if self.outcome == "completed":
            return self._headline
        if self.outcome is not None:
            return f"Initialization {self.outcome}"
        running = [(i, s) for i, s in enumerate(self._steps.values(), 1) if s.state is ItemState.RUNNING]
        if running:
            index, step = running[-1]
            return f"Initialization running: {step.display_name} ({index}/{len(self._steps)})"
        if any(step.state is not ItemState.PENDING for step in self._steps.values()):
            return "Initialization running"
        return f"Initialization starting ({len(self._steps)} steps)"

    def _render(self) -> None:
        """Push the current state into the child widgets (one comm message per change)."""
        # A step skipped because there was nothing to do counts as complete; one skipped
        # because an earlier step failed does not.
        complete = (ItemState.DONE, ItemState.SKIPPED) if self.outcome == "completed" else (ItemState.DONE,)
        completed = sum(s.state in complete for s in self._steps.values())
        running = any(s.state is ItemState.RUNNING for s in self._steps.values())
        self.bar.value = float(completed) + (self._node_fraction if running else 0.0)
        self.bar.bar_style = bar_style(self.outcome)
        self.header.value = f"<b>{escape(self._title())}</b>"
        self.node.value = f"dbt node: {escape(self._node_label)}" if self._node_label else ""
        for name, step in self._steps.items():
            row = self.step_rows[name]
            row.value = (
                f"{step.state.icon} {escape(step.display_name)} · {step.state.value}"
                f"{' · ' + format_seconds(step.seconds) if step.seconds is not None else ''}"
            )
            mark_state(row, step.state)
        show_error(self.error_panel, self.error)

    def snapshot(self) -> Snapshot:
        """The current state as deterministic text and HTML (no timings, no ids, no absolute paths)."""
        with self._lock:
            title = self._title()
            started = self.outcome is not None or any(s.state is not ItemState.PENDING for s in self._steps.values())
            if not started:
                return Snapshot(title, f"<div class='{css('progress', 'record')}'><b>{escape(title)}</b></div>")
            text = [title]
            text += [f"  {s.state.icon} {s.display_name:<28} {s.state.value}" for s in self._steps.values()]
            extras = self._extra_lines()
            text += [f"  {line}" for line in extras]
            if self.error:
                text += [f"  {line}" for line in self.error.text_lines()]
            rows = "".join(
                f"<tr class='{css('step', 'step-' + s.name)} {s.state.css_class}'>"
                f"{row_cells(s.state.icon, escape(s.display_name), s.state.value)}</tr>"
                for s in self._steps.values()
            )
            extras_html = "".join(f"<div>{escape(line)}</div>" for line in extras)
            error_html = self.error.html() if self.error else ""
            return Snapshot(
                "\n".join(text),
                f"<div class='{css('progress', 'record')}'><div class='{css('progress-header')}'>"
                f"<b>{escape(title)}</b></div><table>{rows}</table>{extras_html}{error_html}</div>",
            )

    def _extra_lines(self) -> list[str]:
        lines = []
        if self._node_label:
            lines.append(f"dbt node: {self._node_label}")
        if self._created:
            lines.append("Created: " + ", ".join(self._created))
        if self._rebuilt:
            lines.append("Rebuilt (out of date): " + ", ".join(self._rebuilt))
        if self._backup_name:
            lines.append(f"Unreadable database kept as: {self._backup_name}")
        return lines

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle.update(self.snapshot()._repr_mimebundle_())
        return bundle
