"""The notebook calls: status, plan, initialize, simulate, scenarios, compare, levers, step_log.

Each call wires a widget to the engine's facade (planalign_orchestrator.session,
the same WorkspaceSession the terminal uses) and nothing more: the engine decides
what is missing or stale, builds it, simulates and reports through progress events;
the widgets only show those events. Engine modules are imported inside the calls so
that `import planalign_nb` stays fast and never imports dbt.

status, plan, scenarios, compare and step_log only read: on a folder that is not a
workspace they say so and what to run, and create nothing. initialize and simulate
turn a new folder into a workspace (default config and the example census), as
`planalign init` does. Failures are shown in the call's panel and raised with a
one-line traceback (planalign_nb.errors).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from planalign_nb.comparison import ScenarioComparison
from planalign_nb.errors import raise_for_notebook
from planalign_nb.levers import LeversWidget
from planalign_nb.live import LiveDisplay
from planalign_nb.progress_widget import InitializationProgress
from planalign_nb.rendering import notebook_call, relative_to_workspace, workspace_reference
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


def open_workspace(workspace: WorkspaceLike, *, create: bool = True) -> Workspace:
    """A Workspace as given, or the folder at that path (a new folder becomes a new workspace unless create=False)."""
    from planalign_orchestrator.workspace import Workspace

    return workspace if isinstance(workspace, Workspace) else Workspace.open(Path(workspace), create=create)


def _folder(workspace: WorkspaceLike) -> Path:
    """The workspace's folder, without opening (let alone creating) anything."""
    from planalign_orchestrator.workspace import Workspace

    return workspace.root if isinstance(workspace, Workspace) else Path(workspace).expanduser().resolve()


def _session(workspace: Workspace, initializer_options: dict[str, Any]) -> WorkspaceSession:
    """The workspace's session: the engine wired exactly as the CLI and the pre-simulation hook wire it."""
    from planalign_orchestrator.session import WorkspaceSession

    return WorkspaceSession(workspace, initializer_options=initializer_options)


def _expected_seconds(root: Path) -> dict[str, float]:
    """Each step's duration on its last successful run in this workspace (for the live estimate)."""
    from planalign_orchestrator.self_healing.step_log import STEP_LOG_FILE_NAME, last_durations

    return last_durations(root / "logs" / STEP_LOG_FILE_NAME)


def status(workspace: WorkspaceLike, **initializer_options: Any) -> TableStatusWidget:
    """The required tables by tier and the simulated years, each with its state and why.

    States: present, missing, empty, stale (built from inputs that changed since; the
    reason names the input) and unknown. Only reads: on a folder that is not a
    workspace yet it says so (and offers to create it) without writing anything.
    `initializer_options` are AutoInitializer keyword arguments (timeout_seconds, ...)
    used by the action buttons ("Build 2 missing, rebuild 3 stale"; on a corrupt
    database "Recreate (keeps a backup)"). Make the widget the cell's value: it is
    interactive until the next cell runs, then stays as its record; without a widget
    front-end it shows as text/HTML.
    """
    folder = _folder(workspace)

    def load() -> Any:
        return _session(open_workspace(workspace, create=False), initializer_options).status()

    def heal(observer: Any, **options: Any) -> InitializationResult:
        session = _session(open_workspace(workspace), {**initializer_options, **options})
        return session.initialize(on_progress=observer)

    return TableStatusWidget(load, heal, root=folder, label=folder.name, expected=_expected_seconds(folder))


def plan(workspace: WorkspaceLike, start_year: int | None = None, end_year: int | None = None) -> BuildPlan:
    """What simulate(workspace, start_year, end_year) would build and why, without building anything.

    Tier by tier and year by year; the database is only read, and a folder that is
    not a workspace is refused (nothing is created). Years default to the config's
    simulation.start_year/end_year.
    """
    ws = _read_only(workspace)
    try:
        return _session(ws, {}).plan(start_year, end_year)
    except BaseException as error:
        raise_for_notebook(error, cancelled="plan cancelled", root=ws.root, panel=False)


def _read_only(workspace: WorkspaceLike) -> Workspace:
    """The workspace, refusing (with a one-line traceback) a folder that is not one yet."""
    try:
        return open_workspace(workspace, create=False)
    except BaseException as error:
        raise_for_notebook(error, cancelled="cancelled", root=_folder(workspace), panel=False)


def initialize(workspace: WorkspaceLike, **initializer_options: Any) -> InitializationResult:
    """Build what the workspace is missing, with live progress; return the InitializationResult.

    Shows the four steps, the overall bar with percent, elapsed time and (once the
    workspace's step log has a previous run) an estimate, the running dbt node, and
    "Preparing dbt" while dbt loads, while `AutoInitializer.ensure_initialized()` runs
    synchronously in this cell; then leaves the final record (step states and
    seconds, created tables, error with its remedy) as the cell's output.
    `initializer_options` are AutoInitializer keyword arguments, e.g.
    `timeout_seconds=120` or `recreate_corrupt=True`.

    Errors are shown AND raised: on failure the error panel shows the error and what
    to do, then the engine's exception (an InitializationError subclass with
    `.message`, `.remediation` and `.remedy`) propagates with a one-line traceback, so
    a notebook stops where it would otherwise simulate on a broken database. Catch it
    to continue. A kernel interrupt shows "cancelled" and raises KeyboardInterrupt;
    calling again heals what the interrupted run left behind.
    """
    ws = open_workspace(workspace)
    progress = InitializationProgress(root=ws.root, expected=_expected_seconds(ws.root))
    live = LiveDisplay(progress)
    live.show()
    try:
        return _session(ws, initializer_options).initialize(on_progress=progress)
    except BaseException as error:
        progress.fail(error)
        call = notebook_call("initialize", {}, workspace_reference(ws.root))
        raise_for_notebook(error, cancelled=f"initialization cancelled; run {call} again to heal", root=ws.root)
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
    Errors are shown in the panel with what to do and then raised with a one-line
    traceback (HookError when initialization failed, SimulationError for an invalid
    range).
    """
    ws = open_workspace(workspace)
    session = _session(ws, initializer_options)
    try:
        if scenario is not None or overrides:
            # The baseline takes no overrides: for_scenario refuses them with the remedy.
            session = session.for_scenario(scenario or "baseline", overrides)
        first, last = session.resolve_years(start_year, end_year)
    except BaseException as error:
        raise_for_notebook(error, cancelled="simulation cancelled", root=ws.root, panel=False)
    summary = _simulate_with_progress(session, first, last)
    return SimulationResult(summary, session)


def scenarios(workspace: WorkspaceLike) -> pd.DataFrame:
    """The workspace's scenarios (baseline first): their overrides and the freshness of their years.

    Only reads; a folder that is not a workspace is refused (nothing is created).
    """
    import pandas as pd

    infos = _session(_read_only(workspace), {}).scenarios()
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
    a workbook. Only reads.
    """
    ws = _read_only(workspace)
    try:
        return ScenarioComparison(_session(ws, {}).compare(list(names), start_year, end_year))
    except BaseException as error:
        raise_for_notebook(error, cancelled="comparison cancelled", root=ws.root, panel=False)


def _simulate_with_progress(session: WorkspaceSession, first: int, last: int) -> SimulationSummary:
    """session.simulate with the live initialization and year views, each leaving its record.

    A failure is shown in the views' panels, then raised with a one-line traceback.
    """
    root = session.root
    scenario = None if session.scenario.is_baseline else session.scenario.name
    initialization = LiveDisplay(InitializationProgress(root=root, expected=_expected_seconds(root)))
    years = LiveDisplay(SimulationProgress(first, last, root=root, scenario=scenario))
    try:
        return session.simulate(first, last, on_progress=_SimulationObserver(initialization, years))
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
    finally:
        initialization.finish()
        years.finish()


def levers(workspace: WorkspaceLike, *, scenario: str = "what_if") -> LeversWidget:
    """The main levers as controls with their valid ranges, a scenario name and Run.

    Run simulates the scenario (the workspace's config plus the levers you changed),
    with live progress, and shows its comparison against the baseline. Invalid values
    are refused with the config's own message before anything runs. Like the status
    widget it is interactive until the next cell runs, then stays as its record.
    """
    return LeversWidget(_session(open_workspace(workspace), {}), scenario=scenario)


def step_log(workspace: WorkspaceLike) -> pd.DataFrame:
    """The structured initialization step log: one row per step start and completion, oldest first.

    Columns are the engine's STEP_FIELDS (event, step_name, started_at, completed_at,
    duration_seconds, success, error), typed: times as UTC timestamps, success as a
    nullable boolean (empty for a start record), error as text ("" when none; paths
    shown relative to the workspace, as in the widgets). Only reads the log.
    """
    import pandas as pd

    from planalign_orchestrator.self_healing.step_log import STEP_FIELDS, read_step_log

    ws = _read_only(workspace)
    frame = pd.DataFrame(read_step_log(ws.step_log_path), columns=list(STEP_FIELDS))
    for column in ("started_at", "completed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    frame["duration_seconds"] = frame["duration_seconds"].astype("Float64")
    frame["success"] = frame["success"].astype("boolean")
    frame["error"] = frame["error"].fillna("").map(lambda text: relative_to_workspace(text, ws.root)).astype(str)
    return frame
