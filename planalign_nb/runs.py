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
from planalign_nb.rendering import notebook_call, workspace_reference
from planalign_nb.simulation_widget import SimulationProgress
from planalign_orchestrator.progress import (
    InitializationFinished,
    ProgressEvent,
    StepFinished,
    StepStarted,
    YearStarted,
)

if TYPE_CHECKING:
    from planalign_orchestrator.session import WorkspaceSession
    from planalign_orchestrator.views import SimulationSummary


class SimulationObserver:
    """Routes events to both views and shows each view once it has something to show.

    The initialization view appears only when there is work or an error (a healthy
    workspace just gets its tables checked); a successful initialization leaves its
    record before the years start, a failed one when the call has the exception.
    Views are displayed from the cell's own thread: dbt's worker threads only update
    widgets that are already shown.
    """

    def __init__(
        self, initialization: LiveDisplay[InitializationProgress], years: LiveDisplay[SimulationProgress]
    ) -> None:
        self.initialization, self.years = initialization, years
        self._owner = threading.get_ident()

    def __call__(self, event: ProgressEvent) -> None:
        self.initialization.view(event)
        self.years.view(event)
        if threading.get_ident() != self._owner:
            return
        needs_work = isinstance(event, StepStarted) and event.step_name != "check_tables"
        if needs_work or (isinstance(event, StepFinished) and not event.success):
            self.initialization.show()
        elif isinstance(event, InitializationFinished) and event.result.success:
            self.initialization.finish()
        elif isinstance(event, YearStarted):
            self.years.show()


def initialization_view(session: WorkspaceSession, place: Place | None = None) -> LiveDisplay[InitializationProgress]:
    """The live initialization view of a session's workspace, with the estimate its step log allows."""
    return LiveDisplay(InitializationProgress(root=session.root, expected=session.expected_step_seconds()), place)


def simulate_live(session: WorkspaceSession, first: int, last: int, place: Place | None = None) -> SimulationSummary:
    """session.simulate with the live initialization and year views, each leaving its record.

    The views show in the running cell's output, or in `place` (a button's widget area).
    A failure is shown in the views' panels, then raised with a one-line traceback.
    """
    root = session.root
    scenario = None if session.scenario.is_baseline else session.scenario.name
    initialization = initialization_view(session, place)
    years = LiveDisplay(SimulationProgress(first, last, root=root, scenario=scenario), place)
    try:
        summary = session.simulate(first, last, on_progress=SimulationObserver(initialization, years))
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
