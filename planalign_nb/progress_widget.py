"""InitializationProgress: the four initialization steps, live, from the engine's events.

The widget is a progress observer: `AutoInitializer.subscribe(widget)`. dbt calls
observers on its worker threads, so every event is applied under a lock and the view
is redrawn straight away; ipywidgets sends each change to the browser as it happens,
which is what makes the view live while the cell is still running. A heartbeat
(`tick`, driven by planalign_nb.live) redraws the clock between events, so the view
never looks frozen while dbt is imported and parsed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from planalign_nb.rendering import (
    STYLE,
    ErrorReport,
    ItemState,
    Snapshot,
    barline,
    css,
    error_report,
    escape,
    estimate,
    format_seconds,
    notebook_call,
    record_timings,
    relative_to_workspace,
    report_of,
    row,
    seconds_cell,
    styled,
    table,
    workspace_reference,
)
from planalign_orchestrator.progress import (
    DbtPreparationFinished,
    DbtPreparationStarted,
    InitializationFinished,
    NodeFinished,
    NodeStarted,
    ProgressEvent,
    StepFinished,
    StepStarted,
    utc_now,
)
from planalign_orchestrator.self_healing.models import STANDARD_STEPS, InitializationResult

CANCELLED_MESSAGE = "Cancelled by interrupt."
_SUCCESS_NODE_STATUSES = {"success", "pass"}
PREPARING_DBT = "Preparing dbt: first run in this kernel"
PARSING_PROJECT = "Preparing dbt: reading the project"


def cancelled_remediation(root: Path | None) -> str:
    call = notebook_call("initialize", {}, workspace_reference(root))
    return f"Run `{call}` again: it finds what is missing or incomplete and builds only that."


def preparing_label(importing: bool) -> str:
    return PREPARING_DBT if importing else PARSING_PROJECT


@dataclass
class _Step:
    name: str
    display_name: str
    state: ItemState = ItemState.PENDING
    started_at: datetime | None = None
    seconds: float | None = None


class InitializationProgress(widgets.VBox):
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

    def __call__(self, event: ProgressEvent) -> None:
        """Apply one engine event; safe to call from any thread."""
        with self._lock:
            if isinstance(event, StepStarted):
                self._step_started(event)
            elif isinstance(event, StepFinished):
                self._step_finished(event)
            elif isinstance(event, (NodeStarted, NodeFinished, DbtPreparationStarted, DbtPreparationFinished)):
                if not self._dbt_event(event):
                    return
            elif isinstance(event, InitializationFinished):
                self._finished(event)
            else:
                return  # year events belong to SimulationProgress
            self._render()

    def tick(self) -> None:
        """Redraw the clock (elapsed, estimate) while a step runs; called by the heartbeat."""
        with self._lock:
            if self.outcome is None and self._running() is not None:
                self._render()

    def reset(self) -> None:
        """Back to four pending steps, for the next run of the same widget."""
        with self._lock:
            self._steps = {name: _Step(name, display) for name, display in STANDARD_STEPS}
            self.node_label = ""
            self._node_fraction = 0.0
            self.phase: str | None = None
            self._phase_started: datetime | None = None
            self.outcome: str | None = None
            self.error: ErrorReport | None = None
            self._headline = ""
            self._created: list[str] = []
            self._rebuilt: list[str] = []
            self._backup_name: str | None = None
            self._started_at: datetime | None = None
            self._seconds: float | None = None
            self._render()

    def fail(self, error: BaseException) -> None:
        """End the run with the exception the caller received: its message and remedy win.

        The exception is the engine's final word (e.g. InitializationTimeoutError with
        its remedy), so it replaces what the step events said; it also covers failures
        outside any step, such as an invalid config. An interrupt shows "cancelled".
        """
        with self._lock:
            if isinstance(error, KeyboardInterrupt):
                if self.outcome != "cancelled":
                    self._end_run("cancelled", self._cancelled())
            else:
                self._end_run("failed", error_report(error, self._root))
            self._render()

    @property
    def steps(self) -> dict[str, ItemState]:
        return {name: step.state for name, step in self._steps.items()}

    @property
    def fraction(self) -> float:
        """How far the run got, 0..1: finished steps, plus the running step's share of its dbt nodes."""
        with self._lock:
            states = [step.state for step in self._steps.values()]
            if self.outcome == "completed":
                return 1.0
            done = float(sum(state is ItemState.DONE for state in states))
            if self.outcome in ("failed", "cancelled"):  # the step that stopped it counts, in red
                done += any(state in (ItemState.FAILED, ItemState.CANCELLED) for state in states)
            elif self._running() is not None:
                done += self._node_fraction
            return done / len(states)

    # -- event handlers ----------------------------------------------------------

    def _step_started(self, event: StepStarted) -> None:
        step = self._steps[event.step_name]
        step.state, step.started_at, step.seconds = ItemState.RUNNING, event.at, None
        self._started_at = self._started_at or event.at
        self.node_label, self._node_fraction, self.phase = "", 0.0, None

    def _step_finished(self, event: StepFinished) -> None:
        step = self._steps[event.step_name]
        step.seconds = event.duration_seconds
        self.phase = None
        if event.success:
            step.state = ItemState.DONE
            self.node_label = ""  # the next step's first node replaces it; never shown beside another step
            return
        step.state = ItemState.FAILED
        self.error = report_of(event.error or "step failed", event.remedy, event.remediation, self._root)

    def _dbt_event(self, event: NodeStarted | NodeFinished | DbtPreparationStarted | DbtPreparationFinished) -> bool:
        """Apply a dbt event of a running initialization step; False for others (a simulated year's)."""
        step = self._steps.get(event.step_name) if event.step_name else self._running()
        if self.outcome is not None or step is None or step.state is not ItemState.RUNNING:
            return False
        if isinstance(event, DbtPreparationStarted):
            self.phase, self._phase_started = preparing_label(event.importing), event.at
            return True
        if isinstance(event, DbtPreparationFinished):
            self.phase = None
            return True
        self.node_label = event.label
        if isinstance(event, NodeFinished):
            if event.status not in _SUCCESS_NODE_STATUSES:
                self.node_label = f"{event.label} {event.status}"
            self._node_fraction = event.index / event.total if event.total else 0.0
        return True

    def _finished(self, event: InitializationFinished) -> None:
        result = event.result
        if event.cancelled:
            self._end_run("cancelled", self._cancelled())
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
        if result.duration_seconds is not None:
            self._seconds = result.duration_seconds

    def _cancelled(self) -> ErrorReport:
        return ErrorReport(CANCELLED_MESSAGE, cancelled_remediation(self._root))

    def _end_run(self, outcome: str, error: ErrorReport | None, result: InitializationResult | None = None) -> None:
        self.outcome, self.error, self.phase = outcome, error, None
        if outcome == "completed":
            self.node_label = ""
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

    def _running(self) -> _Step | None:
        running = [step for step in self._steps.values() if step.state is ItemState.RUNNING]
        return running[-1] if running else None

    def _title(self) -> str:
        if self.outcome == "completed":
            return self._headline
        if self.outcome is not None:
            return f"Initialization {self.outcome}"
        step = self._running()
        if step is not None:
            index = list(self._steps).index(step.name) + 1
            return f"Initialization: {step.display_name} ({index}/{len(self._steps)})"
        if any(step.state is not ItemState.PENDING for step in self._steps.values()):
            return "Initialization running"
        return f"Initialization starting ({len(self._steps)} steps)"

    def _step_seconds(self, step: _Step, live: bool) -> float | None:
        if step.state is ItemState.RUNNING and step.started_at is not None:
            return (self._clock() - step.started_at).total_seconds() if live else None
        return step.seconds if live or record_timings() else None

    def _meta(self, live: bool) -> list[str]:
        if not live:
            return [f"in {format_seconds(self._seconds)}"] if self._seconds is not None and record_timings() else []
        meta = [f"{self.fraction:.0%}"]
        if self._started_at is not None and self.outcome is None:
            meta.append(format_seconds((self._clock() - self._started_at).total_seconds()))
            step = self._running()
            if step is not None and step.started_at is not None:
                left = estimate((self._clock() - step.started_at).total_seconds(), self._expected.get(step.name))
                meta += [left] if left else []
        return meta

    def _node_line(self, live: bool) -> str:
        if live and self.phase and self._phase_started is not None:
            return f"{self.phase} · {format_seconds((self._clock() - self._phase_started).total_seconds())}"
        if not self.node_label:
            return ""
        if self.outcome in ("failed", "cancelled"):
            return f"stopped at dbt node: {self.node_label}"
        return f"dbt node: {self.node_label}"

    def _extra_lines(self) -> list[str]:
        lines = []
        if self._created:
            lines.append("Created: " + ", ".join(self._created))
        if self._rebuilt:
            lines.append("Rebuilt (out of date): " + ", ".join(self._rebuilt))
        if self._backup_name:
            lines.append(f"Unreadable database kept as: {self._backup_name}")
        return lines

    def _html(self, live: bool) -> str:
        rows = [
            row(
                f"{css('step', 'step-' + s.name)} {s.state.css_class}",
                s.state.icon,
                escape(s.display_name),
                s.state.value,
                seconds_cell(self._step_seconds(s, live)),
            )
            for s in self._steps.values()
        ]
        node = self._node_line(live)
        node_html = f"<div class='{css('node')}'>{escape(node)}</div>" if node else ""
        extras = "".join(f"<div>{escape(line)}</div>" for line in self._extra_lines())
        classes = css("progress", "record") if not live else css("progress")
        return (
            f"{STYLE}<div class='{classes}'><div class='{css('progress-header')}'><b>{escape(self._title())}</b></div>"
            f"{barline(self.fraction, self.outcome, self._meta(live))}{node_html}{table(rows)}{extras}"
            f"{self.error.html() if self.error else ''}</div>"
        )

    def _render(self) -> None:
        """Push the current state to the browser (one comm message)."""
        self.body.value = self._html(live=True)

    def snapshot(self) -> Snapshot:
        """The current state as a record: the live view without the clock (and without seconds when they are off)."""
        with self._lock:
            text = [self._title()]
            for s in self._steps.values():
                seconds = self._step_seconds(s, live=False)
                text.append(
                    f"  {s.state.icon} {s.display_name:<28} {s.state.value:<9} {format_seconds(seconds)}".rstrip()
                )
            node = self._node_line(live=False)
            text += [f"  {line}" for line in ([node] if node else []) + self._extra_lines()]
            if self.error:
                text += [f"  {line}" for line in self.error.text_lines()]
            return Snapshot("\n".join(text), self._html(live=False))

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle.update(self.snapshot()._repr_mimebundle_())
        return bundle
