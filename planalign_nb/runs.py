"""Engine runs with their live views: the simulation the notebook calls and the levers' Run share.

Both show an initialization view only when something has to be built (or fails) and
a year-by-year view, each leaving its record in the notebook when the run ends; a
failure is shown in the views' panels and raised with a one-line traceback.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from planalign_nb.errors import raise_for_notebook
from planalign_nb.live import LiveDisplay, Place
from planalign_nb.progress_widget import InitializationProgress
from planalign_nb.rendering import Snapshot, css, escape, notebook_call, workspace_reference
from planalign_nb.simulation_widget import SimulationProgress
from planalign_orchestrator.progress import (
    InitializationFinished,
    ProgressEvent,
    ProgressObserver,
    StepFinished,
    StepStarted,
    WaitingForWorkspace,
    WorkspaceAcquired,
    YearStarted,
)

if TYPE_CHECKING:
    from planalign_orchestrator.session import WorkspaceSession
    from planalign_orchestrator.views import SimulationSummary


class RunObserver:
    """Routes events to an initialization view and a run's view, showing each once it has something to show.

    The initialization view appears only when there is work or an error (a healthy
    workspace just gets its tables checked); a successful initialization leaves its
    record before the run starts, a failed one when the call has the exception. The
    run's view (years, or a study's trials) appears at its first `shown_on` event.
    Views are displayed from the cell's own thread: dbt's worker threads only update
    widgets that are already shown.
    """

    def __init__(
        self,
        initialization: LiveDisplay[InitializationProgress],
        run: LiveDisplay[Any],
        shown_on: type[ProgressEvent] = YearStarted,
    ) -> None:
        self.initialization, self.run, self.shown_on = initialization, run, shown_on
        self._owner = threading.get_ident()

    def __call__(self, event: ProgressEvent) -> None:
        self.initialization.view(event)
        self.run.view(event)
        if threading.get_ident() != self._owner:
            return
        needs_work = isinstance(event, StepStarted) and event.step_name != "check_tables"
        if needs_work or (isinstance(event, StepFinished) and not event.success):
            self.initialization.show()
        elif isinstance(event, InitializationFinished) and event.result.success:
            self.initialization.finish()
        elif isinstance(event, self.shown_on):
            self.run.show()


class WaitNotice:
    """Passes events on; while the call waits for a busy workspace, shows one line saying for whom (kept updated).

    The line stays as the cell's record of the wait ("Waited 12 s for the workspace:
    simulate 2025-2027 running in process 4242 since ..."); a call that did not wait
    shows nothing. The wait happens in the cell's own thread, before the run starts.
    """

    def __init__(self, observer: ProgressObserver) -> None:
        self._observer = observer
        self._handle: Any = None
        self._holders = ""

    def __call__(self, event: ProgressEvent) -> None:
        if isinstance(event, WaitingForWorkspace):
            self._holders = "; ".join(event.runs)
            waited = f", {event.waited_seconds:,.0f} s so far" if event.waited_seconds else ""
            self._show(f"Waiting for the workspace (up to {event.limit_seconds:,.0f} s{waited}): busy: {self._holders}")
        elif isinstance(event, WorkspaceAcquired):
            self._show(f"Waited {event.waited_seconds:,.0f} s for the workspace: {self._holders}", final=True)
        else:
            self._observer(event)

    def _show(self, text: str, *, final: bool = False) -> None:
        from IPython.display import display

        record = Snapshot(text, f'<div class="{css("wait")}">{escape(text)}</div>')
        if self._handle is None:
            self._handle = display(record, display_id=True)
            if self._handle is None:  # plain Python: printed, and nothing to update in place
                self._handle = False
        elif self._handle is not False:
            self._handle.update(record)
        elif final:  # plain Python: the first and the last line only
            display(record)


def initialization_view(session: WorkspaceSession, place: Place | None = None) -> LiveDisplay[InitializationProgress]:
    """The live initialization view of a session's workspace, with the estimate its step log allows."""
    return LiveDisplay(InitializationProgress(root=session.root, expected=session.expected_step_seconds()), place)


def simulate_live(
    session: WorkspaceSession, first: int, last: int, place: Place | None = None, *, wait_seconds: float = 0.0
) -> SimulationSummary:
    """session.simulate with the live initialization and year views, each leaving its record.

    The views show in the running cell's output, or in `place` (a button's widget area).
    A failure is shown in the views' panels, then raised with a one-line traceback.
    `wait_seconds`: how long to wait for another process's run in the workspace.
    """
    root = session.root
    scenario = None if session.scenario.is_baseline else session.scenario.name
    initialization = initialization_view(session, place)
    years = LiveDisplay(SimulationProgress(first, last, root=root, scenario=scenario), place)
    try:
        observer = WaitNotice(RunObserver(initialization, years))
        summary = session.simulate(first, last, on_progress=observer, wait_seconds=wait_seconds)
    except BaseException as error:
        if initialization.view.outcome in ("failed", "cancelled"):
            # HookError wraps the initializer's exception, whose remedy is the useful one.
            initialization.view.fail(getattr(error, "original_error", None) or error)
        else:
            years.show()
            years.view.fail(error)
        options: dict[str, Any] = {"start_year": first, "end_year": last}
        options.update({"scenario": scenario} if scenario else {})
        call = notebook_call("simulate", options, workspace_reference(root))
        raise_for_notebook(
            error, cancelled=f"simulation cancelled; run {call} again: finished years are kept", root=root
        )
    else:
        if summary.stale_later_years:
            years.show()
            years.view.warn_stale_later_years(summary)
    finally:
        initialization.finish()
        years.finish()
    return summary
