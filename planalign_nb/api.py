"""The notebook calls: status, plan, initialize, simulate, scenarios, compare, levers, step_log.

Each call wires a widget to the engine's facade (planalign_orchestrator.session,
the same WorkspaceSession the terminal uses) and nothing more: the engine decides
what is missing or stale, builds it, simulates and reports through progress events;
the widgets only show those events. The session is imported inside the calls so that
`import planalign_nb` stays fast and never imports dbt. Every call takes a workspace
folder or the session `open_workspace` returns.

status, plan, scenarios, compare and step_log only read: on a folder that is not a
workspace they say so and what to run, and create nothing. initialize and simulate
turn a new folder into a workspace (default config and the example census), as
`planalign init` does. Failures are shown in the call's panel and raised with a
one-line traceback (planalign_nb.errors).

A workspace has one writer at a time: while another process (a terminal run, another
kernel) initializes or simulates it, initialize, simulate and ensemble are refused
with WorkspaceBusyError naming that run, or, given `wait_seconds=S`, wait for it up to
S seconds, showing a line that says whom they wait for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from planalign_nb.comparison import ScenarioComparison
from planalign_nb.errors import raise_for_notebook
from planalign_nb.levers import LeversWidget
from planalign_nb.rendering import notebook_call, relative_to_workspace, workspace_reference
from planalign_nb.results import SimulationResult
from planalign_nb.runs import WaitNotice, initialization_view, simulate_live
from planalign_nb.status_widget import TableStatusWidget

if TYPE_CHECKING:
    import pandas as pd

    from planalign_orchestrator.progress import InitializationResult
    from planalign_orchestrator.session import WorkspaceSession
    from planalign_orchestrator.views import BuildPlan, ComplianceReport

WorkspaceLike = Union[str, "os.PathLike[str]", "WorkspaceSession"]


def open_workspace(workspace: WorkspaceLike, *, create: bool = True, **initializer_options: Any) -> WorkspaceSession:
    """The workspace's session: the engine's facade, wired as the terminal wires it.

    A folder that is not a workspace yet becomes one (default config and the example
    census) unless create=False. Given a session, the same session (with these
    AutoInitializer options, e.g. timeout_seconds=120, when any are given).
    """
    from planalign_orchestrator.session import WorkspaceSession

    if isinstance(workspace, WorkspaceSession):
        return workspace.with_options(**initializer_options)
    return WorkspaceSession.open(_folder(workspace), create=create, initializer_options=initializer_options)


def _folder(workspace: WorkspaceLike) -> Path:
    """The workspace's folder, without opening (let alone creating) anything.

    Anything with a `root` folder (a session, the engine's Workspace) names its folder.
    """
    if isinstance(workspace, str | os.PathLike):
        return Path(workspace).expanduser().resolve()
    return Path(workspace.root)


def status(workspace: WorkspaceLike, **initializer_options: Any) -> TableStatusWidget:
    """The required tables by tier and the simulated years, each with its state and why.

    States: present, missing, empty, stale (built from inputs that changed since; the
    reason names the input) and unknown. Only reads: on a folder that is not a
    workspace yet it says so (and offers to create it) without writing anything.
    `initializer_options` are AutoInitializer keyword arguments (timeout_seconds, ...)
    used by the action buttons ("Build 2 missing, rebuild 3 stale"; on a corrupt
    database "Recreate (keeps a backup)"). Make the widget the cell's value: it stays
    interactive while the kernel runs, and the saved notebook keeps its record;
    without a widget front-end it shows as text/HTML.
    """
    from planalign_orchestrator.session import WorkspaceSession

    folder = _folder(workspace)

    def load() -> Any:
        return open_workspace(workspace, create=False).status()

    def heal(observer: Any, **options: Any) -> InitializationResult:
        session = open_workspace(workspace, **{**initializer_options, **options})
        return session.initialize(on_progress=observer)

    expected = open_workspace(workspace).expected_step_seconds() if WorkspaceSession.is_workspace(folder) else {}
    return TableStatusWidget(load, heal, root=folder, label=folder.name, expected=expected)


def plan(workspace: WorkspaceLike, start_year: int | None = None, end_year: int | None = None) -> BuildPlan:
    """What simulate(workspace, start_year, end_year) would build and why, without building anything.

    Tier by tier and year by year; the database is only read, and a folder that is
    not a workspace is refused (nothing is created). Years default to the config's
    simulation.start_year/end_year.
    """
    ws = _read_only(workspace)
    try:
        return ws.plan(start_year, end_year)
    except BaseException as error:
        raise_for_notebook(error, cancelled="plan cancelled", root=ws.root, panel=False)


def _read_only(workspace: WorkspaceLike) -> WorkspaceSession:
    """The workspace, refusing (with a one-line traceback) a folder that is not one yet."""
    try:
        return open_workspace(workspace, create=False)
    except BaseException as error:
        raise_for_notebook(error, cancelled="cancelled", root=_folder(workspace), panel=False)


def initialize(
    workspace: WorkspaceLike, *, wait_seconds: float = 0.0, **initializer_options: Any
) -> InitializationResult:
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
    calling again heals what the interrupted run left behind. While another process
    runs in the workspace the call is refused (WorkspaceBusyError), unless that run
    ends within `wait_seconds`.
    """
    ws = open_workspace(workspace, **initializer_options)
    live = initialization_view(ws)
    progress = live.view
    live.show()
    try:
        return ws.initialize(on_progress=WaitNotice(progress), wait_seconds=wait_seconds)
    except BaseException as error:
        progress.fail(error)
        call = notebook_call("initialize", {}, workspace_reference(ws.root))
        raise_for_notebook(error, cancelled=f"initialization cancelled; run {call} again to heal", root=ws.root)
    finally:
        live.finish()


def simulate(
    workspace: WorkspaceLike,
    start_year: int | None = None,
    end_year: int | None = None,
    *,
    scenario: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    wait_seconds: float = 0.0,
    **initializer_options: Any,
) -> SimulationResult:
    """Heal the workspace if needed, then simulate start_year..end_year with live per-year progress.

    Years default to the workspace config's simulation.start_year/end_year.
    `scenario` names a scenario (default: the baseline, the workspace's own config);
    `overrides` (dotted keys, e.g. {"plan.match_rate": 1.0}) create it first,
    validated like the config and saved as scenarios/<name>.yaml. A scenario saved
    with other overrides is replaced only with `overwrite=True` (otherwise
    ScenarioExistsError says what would change). Years still up to date are reused,
    not re-simulated.
    Initialization progress is shown only when something has to be built (or fails).
    Returns a SimulationResult (`.summary`, `.snapshot`, `.events`, `.plot()`, exports).
    Errors are shown in the panel with what to do and then raised with a one-line
    traceback (HookError when initialization failed, SimulationError for an invalid
    range, WorkspaceBusyError while another process runs in the workspace, unless
    that run ends within `wait_seconds`).
    """
    folder = _folder(workspace)
    try:
        session = open_workspace(workspace, **initializer_options)
        if scenario is not None or overrides:
            # The baseline takes no overrides: for_scenario refuses them with the remedy.
            notice = WaitNotice(lambda event: None)
            session = session.for_scenario(
                scenario or "baseline", overrides, overwrite=overwrite, wait_seconds=wait_seconds, on_progress=notice
            )
        first, last = session.resolve_years(start_year, end_year)
    except BaseException as error:
        raise_for_notebook(error, cancelled="simulation cancelled", root=folder, panel=False)
    summary = simulate_live(session, first, last, wait_seconds=wait_seconds)
    return SimulationResult(summary, session)


def scenarios(workspace: WorkspaceLike) -> pd.DataFrame:
    """The workspace's scenarios (baseline first): their overrides and the freshness of their years.

    Only reads; a folder that is not a workspace is refused (nothing is created).
    """
    import pandas as pd

    infos = _read_only(workspace).scenarios()
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
        return ScenarioComparison(ws.compare(list(names), start_year, end_year))
    except BaseException as error:
        raise_for_notebook(error, cancelled="comparison cancelled", root=ws.root, panel=False)


def compliance(
    workspace: WorkspaceLike,
    start_year: int | None = None,
    end_year: int | None = None,
    *,
    scenario: str | None = None,
) -> ComplianceReport:
    """The nondiscrimination tests (ADP, ACP, coverage, top-heavy) of a scenario's simulated years.

    Shows a compact pass/fail grid (tests by years, with the margins in percentage
    points) and what each failure costs to correct: the refund to HCEs or the
    QNEC/QMAC, the top-heavy minimum. Static HTML, so it renders without a widget
    front-end; `.frame()` is a DataFrame, `print()` the terminal's table. Only reads.
    """
    ws = _read_only(workspace)
    try:
        session = ws if scenario is None else ws.for_scenario(scenario)
        return session.compliance(start_year, end_year)
    except BaseException as error:
        raise_for_notebook(error, cancelled="compliance report cancelled", root=ws.root, panel=False)


def levers(workspace: WorkspaceLike, *, scenario: str = "what_if") -> LeversWidget:
    """The main levers as controls with their valid ranges, a scenario name and Run.

    Run simulates the scenario (the workspace's config plus the levers you changed),
    with live progress, and shows its comparison against the baseline. Invalid values
    are refused with the config's own message before anything runs, and a scenario
    saved with other overrides is replaced only after the widget asked. On a scenario
    that exists the controls start from its values, with its comparison when its years
    are up to date; nothing runs until Run. Like the status widget it stays interactive
    while the kernel runs, and the saved notebook keeps its record.
    """
    return LeversWidget(open_workspace(workspace), scenario=scenario)


def step_log(workspace: WorkspaceLike) -> pd.DataFrame:
    """The structured initialization step log: one row per step start and completion, oldest first.

    Columns are the engine's STEP_FIELDS (event, step_name, started_at, completed_at,
    duration_seconds, success, error), typed: times as UTC timestamps, success as a
    nullable boolean (empty for a start record), error as text ("" when none; paths
    shown relative to the workspace, as in the widgets). Only reads the log.
    """
    import pandas as pd

    from planalign_orchestrator.views import STEP_FIELDS

    ws = _read_only(workspace)
    frame = pd.DataFrame(ws.step_log(), columns=list(STEP_FIELDS))
    for column in ("started_at", "completed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    frame["duration_seconds"] = frame["duration_seconds"].astype("Float64")
    frame["success"] = frame["success"].astype("boolean")
    frame["error"] = frame["error"].fillna("").map(lambda text: relative_to_workspace(text, ws.root)).astype(str)
    return frame
