"""The notebook calls: status, plan, initialize, simulate, step_log.

Each call wires a widget to the engine's facade (planalign_orchestrator.session,
the same WorkspaceSession the terminal uses) and nothing more: the engine decides
what is missing or stale, builds it, simulates and reports through progress events;
the widgets only show those events. Engine modules are imported inside the calls so
that `import planalign_nb` stays fast and never imports dbt.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from planalign_nb.comparison import ScenarioComparison
from planalign_nb.levers import LeversWidget
from planalign_nb.live import LiveDisplay
from planalign_nb.progress_widget import InitializationProgress
from planalign_nb.rendering import relative_to_workspace
from planalign_nb.results import SimulationResult
from planalign_nb.simulation_widget import SimulationProgress
from planalign_nb.status_widget import TableStatusWidget
from planalign_orchestrator.progress import (
    InitializationFinished,
    ProgressEvent,
    StepFinished,
    StepStarted,
    YearStarted,
)

if TYPE_CHECKING:
    import pandas as pd

    from planalign_orchestrator.freshness.report import BuildPlan
    from planalign_orchestrator.pipeline.results import SimulationSummary
    from planalign_orchestrator.self_healing.models import InitializationResult
    from planalign_orchestrator.session import WorkspaceSession
    from planalign_orchestrator.workspace import Workspace

WorkspaceLike = Union[str, "os.PathLike[str]", "Workspace"]


def open_workspace(workspace: WorkspaceLike) -> Workspace:
    """A Workspace as given, or the folder at that path (a new folder becomes a new workspace)."""
    from planalign_orchestrator.workspace import Workspace

    return workspace if isinstance(workspace, Workspace) else Workspace.open(Path(workspace))


def _session(workspace: Workspace, initializer_options: dict[str, Any]) -> WorkspaceSession:
    """The workspace's session: the engine wired exactly as the CLI and the pre-simulation hook wire it."""
    from planalign_orchestrator.session import WorkspaceSession

    return WorkspaceSession(workspace, initializer_options=initializer_options)


def status(workspace: WorkspaceLike, **initializer_options: Any) -> TableStatusWidget:
    """The required tables by tier and the simulated years, each with its state and why.

    States: present, missing, empty, stale (built from inputs that changed since; the
    reason names the input) and unknown. `initializer_options` are AutoInitializer
    keyword arguments (timeout_seconds, recreate_corrupt, ...) used by the action
    button ("Build 2 missing, rebuild 3 stale"). Display the returned widget (make it
    the cell's value); without a widget front-end it shows as text/HTML of the states
    it had when displayed.
    """
    session = _session(open_workspace(workspace), initializer_options)
    return TableStatusWidget(
        session.status,
        lambda observer: session.initialize(on_progress=observer),
        root=session.root,
        label=session.root.name,
    )


def plan(workspace: WorkspaceLike, start_year: int | None = None, end_year: int | None = None) -> BuildPlan:
    """What simulate(workspace, start_year, end_year) would build and why, without building anything.

    Tier by tier and year by year; the database is only read. Years default to the
    config's simulation.start_year/end_year.
    """
    return _session(open_workspace(workspace), {}).plan(start_year, end_year)


def initialize(workspace: WorkspaceLike, **initializer_options: Any) -> InitializationResult:
    """Build what the workspace is missing, with live progress; return the InitializationResult.

    Shows the four steps, the overall bar and the running dbt node while
    `AutoInitializer.ensure_initialized()` runs synchronously in this cell, then leaves
    the final record (step states, created tables, error with remediation) as the
    cell's output. `initializer_options` are AutoInitializer keyword arguments, e.g.
    `timeout_seconds=120` or `recreate_corrupt=True`.

    Errors are shown AND raised: on failure the error panel shows the error and its
    remediation, then the engine's exception (an InitializationError subclass with
    `.message` and `.remediation`) propagates, so a notebook stops where it would
    otherwise simulate on a broken database. Catch it to continue. A kernel interrupt
    shows "cancelled" and raises KeyboardInterrupt; calling again heals what the
    interrupted run left behind.
    """
    ws = open_workspace(workspace)
    progress = InitializationProgress(root=ws.root)
    live = LiveDisplay(progress)
    live.show()
    try:
        return _session(ws, initializer_options).initialize(on_progress=progress)
    except BaseException as error:
        progress.fail(error)
        raise
    finally:
        live.finish()


class _SimulationObserver:
    """Routes events to both views and shows each view once it has something to show.

    The initialization view appears only when there is work or an error (a healthy
    workspace just gets its tables checked); a successful initialization leaves its
    record before the years start, a failed one when simulate() has the exception.
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


def simulate(
    workspace: WorkspaceLike,
    start_year: int | None = None,
    end_year: int | None = None,
    *,
    scenario: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    **initializer_options: Any,
) -> SimulationResult:
    """Heal the workspace if needed, then simulate start_year..end_year with live per-year progress.

    Years default to the workspace config's simulation.start_year/end_year.
    `scenario` names a scenario (default: the baseline, the workspace's own config);
    `overrides` (dotted keys, e.g. {"plan.match_rate": 1.0}) create it or replace its
    overrides first, validated like the config and saved as scenarios/<name>.yaml.
    Years still up to date are reused, not re-simulated.
    Initialization progress is shown only when something has to be built (or fails).
    Returns a SimulationResult (`.summary`, `.snapshot`, `.events`, `.plot()`, exports).
    Errors are shown in the panel with their remediation and then raised
    (HookError when initialization failed, SimulationError for an invalid range).
    """
    session = _session(open_workspace(workspace), initializer_options)
    if scenario is not None or overrides:
        # The baseline takes no overrides: for_scenario refuses them with the remedy.
        session = session.for_scenario(scenario or "baseline", overrides)
    first, last = session.resolve_years(start_year, end_year)
    summary = _simulate_with_progress(session, first, last)
    return SimulationResult(summary, session)


def scenarios(workspace: WorkspaceLike) -> pd.DataFrame:
    """The workspace's scenarios (baseline first): their overrides and the freshness of their years."""
    import pandas as pd

    infos = _session(open_workspace(workspace), {}).scenarios()
    return pd.DataFrame(
        {
            "overrides": [info.scenario.describe() for info in infos],
            "years": [info.freshness for info in infos],
        },
        index=pd.Index([info.name for info in infos], name="scenario"),
    )


def compare(
    workspace: WorkspaceLike,
    names: Sequence[str],
    start_year: int | None = None,
    end_year: int | None = None,
) -> ScenarioComparison:
    """Key metrics of scenarios side by side per year, with deltas against the first.

    Every compared year must be up to date (simulate the scenarios first). The result
    shows as a table; `.table`, `.deltas` and `.metrics` are DataFrames, `.plot()`
    draws each metric over time with one line per scenario, `.to_excel(path)` writes
    a workbook.
    """
    session = _session(open_workspace(workspace), {})
    return ScenarioComparison(session.compare(list(names), start_year, end_year))


def _simulate_with_progress(session: WorkspaceSession, first: int, last: int) -> SimulationSummary:
    """session.simulate with the live initialization and year views, each leaving its record."""
    initialization = LiveDisplay(InitializationProgress(root=session.root))
    years = LiveDisplay(SimulationProgress(first, last, root=session.root))
    try:
        return session.simulate(first, last, on_progress=_SimulationObserver(initialization, years))
    except BaseException as error:
        if initialization.view.outcome in ("failed", "cancelled"):
            # HookError wraps the initializer's exception, whose remediation is the useful one.
            initialization.view.fail(getattr(error, "original_error", None) or error)
        else:
            years.show()
            years.view.fail(error)
        raise
    finally:
        initialization.finish()
        years.finish()


def levers(workspace: WorkspaceLike, *, scenario: str = "what_if") -> LeversWidget:
    """The main levers as controls with their valid ranges, a scenario name and Run.

    Run simulates the scenario (the workspace's config plus the levers you changed),
    with live progress, and shows its comparison against the baseline. Invalid values
    are refused with the config's own message before anything runs.
    """
    return LeversWidget(_session(open_workspace(workspace), {}), scenario=scenario)


def step_log(workspace: WorkspaceLike) -> pd.DataFrame:
    """The structured initialization step log (one row per step start/completion) as a DataFrame.

    Columns are the engine's STEP_FIELDS (event, step_name, started_at, completed_at,
    duration_seconds, success, error); paths in error messages are shown relative to
    the workspace, as in the widgets.
    """
    import pandas as pd

    from planalign_orchestrator.self_healing.step_log import STEP_FIELDS, read_step_log

    ws = open_workspace(workspace)
    frame = pd.DataFrame(read_step_log(ws.step_log_path), columns=list(STEP_FIELDS))
    frame["error"] = frame["error"].map(lambda text: relative_to_workspace(text, ws.root), na_action="ignore")
    return frame
