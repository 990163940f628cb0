"""Notebook widgets driven by recorded engine event sequences (no dbt, no front-end).

The sequences below were recorded from real AutoInitializer runs (a cold
initialization, a corrupt database file, a 1.5 s timeout, a kernel interrupt
while seeds were loading); only the timestamps are rounded. After each event the
tests read the widget's children, which is what ipywidgets sends to the browser.
"""

from __future__ import annotations

import html
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from planalign_nb import api
from planalign_nb.progress_widget import InitializationProgress
from planalign_nb.simulation_widget import SimulationProgress
from planalign_nb.status_widget import TableStatusWidget
from planalign_orchestrator.exceptions import DatabaseCorruptionError, InitializationTimeoutError, SimulationError
from planalign_orchestrator.freshness.report import WorkspaceStatus
from planalign_orchestrator.pipeline.results import YearSummary
from planalign_orchestrator.progress import (
    InitializationFinished,
    NodeFinished,
    NodeStarted,
    ProgressEvent,
    StepFinished,
    StepStarted,
    YearFinished,
    YearStarted,
)
from planalign_orchestrator.self_healing.models import (
    REQUIRED_TABLES,
    STANDARD_STEPS,
    InitializationResult,
    InitializationState,
    TableState,
)
from planalign_orchestrator.self_healing.table_checker import TableStatus
from planalign_orchestrator.workspace import Workspace

ROOT = Path("/data/analyst/workspace")
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
DISPLAY = dict(STANDARD_STEPS)
INDEX = {name: index for index, (name, _) in enumerate(STANDARD_STEPS, start=1)}
SEEDS = ["comp_levers", "config_age_bands", "config_job_levels", "config_tenure_bands", "irs_contribution_limits"]
FOUNDATION = ["int_baseline_workforce", "int_employee_compensation_by_year", "int_employee_benefits"]
CORRUPT_ERROR = (
    f"Database file {ROOT}/simulation.duckdb is not a readable DuckDB database: IO Error: The file "
    f'"{ROOT}/simulation.duckdb" exists, but it is not a valid DuckDB database file!. It was left untouched.'
)
CORRUPT_REMEDIATION = (
    "Run `planalign init --recreate` (or AutoInitializer(..., recreate_corrupt=True)): it moves the file "
    "aside to simulation.duckdb.corrupt-<UTC timestamp> and builds a fresh database. Or restore the file "
    "from a backup."
)
TIMEOUT_ERROR = (
    "Initialization stopped after 0.6s: it exceeded the 0.6s timeout. "
    "The running dbt work was cancelled and the lock released."
)
TIMEOUT_REMEDIATION = (
    "Run it again with a longer timeout (`planalign init --timeout 300`, or AutoInitializer(timeout_seconds=300)); "
    "tables already built are kept and only the missing ones are rebuilt."
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def started(step: str, t: float) -> StepStarted:
    return StepStarted(step, DISPLAY[step], INDEX[step], 4, at=at(t))


def finished(
    step: str, t: float, seconds: float, *, error: str | None = None, remediation: str | None = None
) -> StepFinished:
    return StepFinished(
        step, DISPLAY[step], INDEX[step], 4, error is None, seconds, error=error, remediation=remediation, at=at(t)
    )


def nodes(kind: str, names: list[str], step: str, t: float, *, total: int | None = None) -> list[ProgressEvent]:
    """Start/finish pairs for the first len(names) of `total` nodes of one dbt invocation."""
    total = total or len(names)
    events: list[ProgressEvent] = []
    for index, name in enumerate(names, start=1):
        events.append(NodeStarted(name, kind, index, total, step, at=at(t + index * 0.1)))
        events.append(NodeFinished(name, kind, index, total, "success", 0.08, step, at=at(t + index * 0.1 + 0.08)))
    return events


def outcome(
    t: float, state: InitializationState, *, created: list[str] = (), error: str | None = None, cancelled: bool = False
) -> InitializationFinished:
    result = InitializationResult(
        state=state,
        started_at=T0,
        completed_at=at(t),
        missing_tables_found=list(created),
        tables_created=list(created),
        error=error,
    )
    return InitializationFinished(result, cancelled=cancelled, at=at(t))


def success_events() -> list[ProgressEvent]:
    return [
        started("check_tables", 0.0),
        finished("check_tables", 0.36, 0.36),
        started("load_seeds", 0.37),
        *nodes("seed", SEEDS, "load_seeds", 6.8),
        finished("load_seeds", 8.25, 7.88),
        started("build_foundation", 8.26),
        *nodes("model", FOUNDATION, "build_foundation", 8.6),
        finished("build_foundation", 9.13, 0.87),
        started("verify", 9.14),
        finished("verify", 9.18, 0.04),
        outcome(9.19, InitializationState.COMPLETED, created=[t.name for t in REQUIRED_TABLES]),
    ]


def corrupt_events() -> list[ProgressEvent]:
    return [
        started("check_tables", 0.0),
        finished("check_tables", 0.01, 0.01, error=CORRUPT_ERROR, remediation=CORRUPT_REMEDIATION),
        outcome(0.02, InitializationState.FAILED, error=CORRUPT_ERROR),
    ]


def timeout_events() -> list[ProgressEvent]:
    return [
        started("check_tables", 0.0),
        finished("check_tables", 0.21, 0.21),
        started("load_seeds", 0.22),
        *nodes("seed", SEEDS[:3], "load_seeds", 0.25, total=5),
        finished("load_seeds", 0.62, 0.4, error=TIMEOUT_ERROR, remediation=TIMEOUT_REMEDIATION),
        outcome(0.63, InitializationState.FAILED, error=TIMEOUT_ERROR),
    ]


def interrupt_events() -> list[ProgressEvent]:
    return [
        started("check_tables", 0.0),
        finished("check_tables", 0.34, 0.34),
        started("load_seeds", 0.35),
        *nodes("seed", SEEDS, "load_seeds", 7.0),
        finished("load_seeds", 9.2, 8.89, error="cancelled"),
        outcome(9.21, InitializationState.FAILED, error="Cancelled by interrupt", cancelled=True),
    ]


def visible(widget: InitializationProgress) -> dict[str, object]:
    """What the browser shows: each step row's icon and state word, node label, bar, error panel."""
    rows = {name: row.value.split(" · ")[:2] for name, row in widget.step_rows.items()}
    return {
        "steps": " ".join(f"{value[0][0]}{value[1]}" for value in rows.values()),
        "node": widget.node.value,
        "bar": round(widget.bar.value, 2),
        "error": widget.error_panel.value if widget.error_panel.layout.display != "none" else "",
    }


def steps(*states: str) -> str:
    icons = {"pending": "○", "running": "▶", "done": "✓", "failed": "✗", "cancelled": "⊘", "skipped": "–"}
    return " ".join(f"{icons[state]}{state}" for state in states)


# -- InitializationProgress ------------------------------------------------------------


def test_progress_widget_follows_a_successful_initialization_event_by_event() -> None:
    widget = InitializationProgress(root=ROOT)
    seen = []

    for event in success_events():
        widget(event)
        seen.append(visible(widget))

    assert seen[0] == {"steps": steps("running", "pending", "pending", "pending"), "node": "", "bar": 0.0, "error": ""}
    assert seen[1]["steps"] == steps("done", "pending", "pending", "pending")
    assert seen[1]["bar"] == 1.0
    assert seen[3]["node"] == "dbt node: seed 1/5 comp_levers"
    assert seen[7]["node"] == "dbt node: seed 3/5 config_job_levels"
    assert seen[7]["bar"] == 1.4
    assert seen[8]["bar"] == 1.6  # seed 3/5 finished
    assert seen[12] == {
        "steps": steps("done", "running", "pending", "pending"),
        "node": "dbt node: seed 5/5 irs_contribution_limits",
        "bar": 2.0,
        "error": "",
    }
    assert seen[13]["steps"] == steps("done", "done", "pending", "pending")
    assert seen[13]["bar"] == 2.0
    assert seen[14]["steps"] == steps("done", "done", "running", "pending")
    assert seen[-1] == {
        "steps": steps("done", "done", "done", "done"),
        "node": "dbt node: model 3/3 int_employee_benefits",
        "bar": 4.0,
        "error": "",
    }
    assert widget.outcome == "completed"
    assert widget.bar.bar_style == "success"
    assert widget.header.value == "<b>Initialized: created 10 table(s).</b>"


def test_running_step_shows_elapsed_seconds_in_the_live_view_only() -> None:
    widget = InitializationProgress(root=ROOT)

    for event in success_events()[:9]:  # seed 3/5 finished, 6.81 s after load_seeds started
        widget(event)

    assert widget.step_rows["load_seeds"].value == "▶ Loading seed data · running · 6.8 s"
    assert "planalign-state-running" in widget.step_rows["load_seeds"]._dom_classes
    assert not re.search(r"\d+\.\d+ ?s\b", widget.snapshot().text + widget.snapshot().html)


def test_failure_shows_the_error_and_its_remediation_with_paths_relative_to_the_workspace() -> None:
    widget = InitializationProgress(root=ROOT)
    seen = []

    for event in corrupt_events():
        widget(event)
        seen.append(visible(widget))

    assert seen[1]["steps"] == steps("failed", "pending", "pending", "pending")
    assert "Database file simulation.duckdb is not a readable DuckDB database" in seen[1]["error"]
    assert "To fix:</b> Run `planalign init --recreate`" in seen[1]["error"]
    assert seen[2]["steps"] == steps("failed", "skipped", "skipped", "skipped")
    assert seen[2]["bar"] == 0.0
    assert widget.bar.bar_style == "danger"
    text = widget.snapshot().text
    assert text.splitlines()[0] == "Initialization failed"
    assert "  To fix: Run `planalign init --recreate`" in text
    assert str(ROOT) not in text + widget.snapshot().html


def test_timeout_marks_the_running_step_failed_with_the_timeout_and_its_remediation() -> None:
    widget = InitializationProgress(root=ROOT)
    seen = []

    for event in timeout_events():
        widget(event)
        seen.append(visible(widget))

    assert seen[2]["steps"] == steps("done", "running", "pending", "pending")
    assert seen[2]["bar"] == 1.0
    assert seen[7]["node"] == "dbt node: seed 3/5 config_job_levels"
    assert seen[8]["bar"] == 1.6
    assert seen[9]["steps"] == steps("done", "failed", "pending", "pending")
    assert seen[10]["steps"] == steps("done", "failed", "skipped", "skipped")
    assert seen[10]["bar"] == 1.0
    assert seen[10]["node"] == "dbt node: seed 3/5 config_job_levels"
    assert "exceeded the 0.6s timeout" in seen[10]["error"]
    assert "To fix:</b> Run it again with a longer timeout" in seen[10]["error"]
    assert widget.outcome == "failed"


def test_a_step_error_unlike_the_final_error_does_not_lend_it_its_remediation() -> None:
    widget = InitializationProgress(root=ROOT)
    parse_interrupted = [
        *timeout_events()[:3],
        finished(
            "load_seeds",
            2.4,
            2.19,
            error="Initialization failed while loading seed data: dbt parse failed:",
            remediation="Fix the dbt project at /work/main/dbt.",
        ),
        outcome(3.5, InitializationState.FAILED, error=TIMEOUT_ERROR),
    ]

    for event in parse_interrupted:
        widget(event)
    before_exception = (widget.error.message, widget.error.remediation)
    widget.fail(InitializationTimeoutError(0.6, 0.6))

    assert before_exception == (TIMEOUT_ERROR, None)
    assert widget.error.remediation == TIMEOUT_REMEDIATION


def test_interrupt_shows_cancelled_and_a_reset_widget_follows_the_healing_run() -> None:
    widget = InitializationProgress(root=ROOT)
    seen = []

    for event in interrupt_events():
        widget(event)
        seen.append(visible(widget))
    widget.fail(KeyboardInterrupt())
    cancelled = widget.snapshot().text
    widget.reset()
    for event in success_events():
        widget(event)

    assert seen[-3]["node"] == "dbt node: seed 5/5 irs_contribution_limits"
    assert seen[-2]["steps"] == steps("done", "failed", "pending", "pending")
    assert seen[-1]["steps"] == steps("done", "cancelled", "skipped", "skipped")
    assert "Cancelled by interrupt." in seen[-1]["error"]
    assert "Run the initialization again" in seen[-1]["error"]
    assert cancelled.splitlines()[0] == "Initialization cancelled"
    assert "⊘ Loading seed data" in cancelled
    assert widget.outcome == "completed"
    assert visible(widget)["steps"] == steps("done", "done", "done", "done")


def test_events_from_dbt_worker_threads_update_the_widget() -> None:
    widget = InitializationProgress(root=ROOT)
    events = success_events()
    main_thread_events = [e for e in events if not isinstance(e, (NodeStarted, NodeFinished))]
    seeds = [e for e in events if isinstance(e, (NodeStarted, NodeFinished)) and e.step_name == "load_seeds"]

    for event in main_thread_events[:3]:
        widget(event)
    worker = threading.Thread(target=lambda: [widget(event) for event in seeds])
    worker.start()
    worker.join()

    assert widget.node.value == "dbt node: seed 5/5 irs_contribution_limits"
    assert widget.bar.value == 2.0  # check done + all five seed nodes finished in the running step


def test_static_rendering_before_any_event_is_one_line() -> None:
    widget = InitializationProgress(root=ROOT)

    bundle = widget._repr_mimebundle_()

    assert bundle["text/plain"] == "Initialization starting (4 steps)"
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "model_id" not in bundle["text/html"]


# -- SimulationProgress ------------------------------------------------------------------


def year_summary(
    year: int, start: int, end: int, hires: int, terms: int, *, target: int | None = None, warning: str | None = None
) -> YearSummary:
    return YearSummary(
        year=year,
        headcount_start=start,
        headcount_end=end,
        target_headcount=end if target is None else target,
        hires=hires,
        terminations=terms,
        experienced_terminations=terms - 280,
        retirements=30,
        reductions_in_force=0,
        new_hire_terminations=250,
        promotions=350,
        promotions_raised_to_minimum=20,
        deferral_escalations=2500,
        growth_pct=round((end - start) / start * 100, 4),
        target_growth_pct=3.0,
        total_compensation=1.0,
        average_compensation=1.0,
        employee_contributions=1.0,
        employer_contributions=1.0,
        catch_up_pre_tax=1.0,
        catch_up_roth=0.0,
        irs_limits_estimated=False,
        target_warning=warning,
    )


def test_simulation_widget_shows_each_year_and_its_figures() -> None:
    widget = SimulationProgress(2025, 2026, root=ROOT)

    widget(YearStarted(2025, 1, 2))
    running = widget.year_rows[2025].value
    widget(YearFinished(2025, 1, 2, 0.66, year_summary(2025, 5000, 5150, 1000, 850)))
    widget(YearStarted(2026, 2, 2))
    widget(YearFinished(2026, 2, 2, 0.89, year_summary(2026, 5150, 5305, 1031, 876)))

    assert running == "▶ 2025 · running"
    assert html.unescape(widget.year_rows[2025].value) == (
        "✓ 2025 · done · 5,000 -> 5,150 active (+3.00%), 1,000 hires, 850 terminations · 0.7 s"
    )
    assert widget.bar.value == 2
    assert widget.outcome == "completed"
    assert widget.snapshot().text.splitlines() == [
        "Simulation 2025-2026 completed: 2 of 2 years done",
        "  ✓ 2025 done      5,000 -> 5,150 active (+3.00%), 1,000 hires, 850 terminations",
        "  ✓ 2026 done      5,150 -> 5,305 active (+3.01%), 1,031 hires, 876 terminations",
    ]


def test_simulation_widget_shows_a_missed_target_warning_with_the_year() -> None:
    widget = SimulationProgress(2025, 2025, root=ROOT)
    warning = "2025: growth target missed by 120 employees: 4,250 active planned (-15.00%), 4,370 reached (-12.60%)."

    widget(YearFinished(2025, 1, 1, 0.7, year_summary(2025, 5000, 4370, 0, 630, target=4250, warning=warning)))

    assert widget.snapshot().text.splitlines()[1] == (
        f"  ✓ 2025 done      5,000 -> 4,370 active (-12.60%), 0 hires, 630 terminations · Warning: {warning}"
    )
    assert "Warning: 2025: growth target missed by 120 employees" in html.unescape(widget.year_rows[2025].value)


def test_simulation_widget_marks_the_running_year_failed_or_cancelled() -> None:
    failed = SimulationProgress(2025, 2027, root=ROOT)
    cancelled = SimulationProgress(2025, 2026, root=ROOT)

    failed(YearStarted(2025, 1, 3))
    failed.fail(SimulationError("Year 2025 failed.", remediation="Fix the config."))
    cancelled(YearStarted(2025, 1, 2))
    cancelled.fail(KeyboardInterrupt())

    assert [row.value.split(" · ")[1] for row in failed.year_rows.values()] == ["failed", "skipped", "skipped"]
    assert "Year 2025 failed." in failed.error_panel.value
    assert "Fix the config." in failed.error_panel.value
    assert cancelled.year_rows[2025].value == "⊘ 2025 · cancelled"
    assert cancelled.snapshot().text.splitlines()[0] == "Simulation 2025-2026 cancelled: 0 of 2 years done"


# -- TableStatusWidget ---------------------------------------------------------------------


def statuses(missing: set[str] = frozenset(), stale: dict[str, str] | None = None) -> WorkspaceStatus:
    """A recorded workspace status: the given tables missing or stale (with why), the rest present."""
    stale = stale or {}
    return WorkspaceStatus(
        ROOT,
        [
            TableStatus(
                t,
                t.name not in missing,
                None if t.name in missing else 5,
                TableState.STALE if t.name in stale else TableState.PRESENT,
                stale.get(t.name),
            )
            for t in REQUIRED_TABLES
        ],
    )


def test_status_widget_groups_tables_by_tier_with_states_and_row_counts() -> None:
    widget = TableStatusWidget(
        lambda: statuses({"comp_levers", "int_employee_benefits", "int_baseline_workforce"}),
        lambda observer: None,
        label="workspace",
    )

    text = widget.snapshot().text.splitlines()

    assert text[0] == "Workspace workspace: 3 of 10 required tables missing"
    assert text[1] == "Seed tables"
    assert text[9] == "Foundation models"
    assert text[5] == "  ✗ comp_levers                          missing"
    assert text[2] == "  ✓ config_age_bands                     present  5 rows"
    assert text[12] == "  ✗ int_employee_benefits                missing"
    assert widget.table_rows["int_employee_benefits"].value == "✗ int_employee_benefits · missing"
    assert set(widget.table_rows["int_employee_benefits"]._dom_classes) == {
        "planalign-table",
        "planalign-table-int_employee_benefits",
        "planalign-table-missing",
    }
    static_html = widget._repr_mimebundle_()["text/html"]
    assert static_html.index("Seed tables") < static_html.index("comp_levers") < static_html.index("Foundation models")


def test_initialize_missing_is_disabled_while_running_then_refreshes_to_all_present() -> None:
    loaded = [statuses({"int_employee_benefits"}), statuses()]
    disabled_while_running = []

    def heal(observer):
        disabled_while_running.append(widget.initialize_button.disabled)
        for event in success_events():
            observer(event)
        return success_events()[-1].result

    widget = TableStatusWidget(lambda: loaded.pop(0), heal, label="workspace")

    result = widget.initialize_button.click()

    assert result is None  # Button.click returns nothing; the widget keeps the result
    assert disabled_while_running == [True]
    assert widget.initialize_button.disabled is True, "nothing left to build"
    assert widget.initialize_button.description == "Nothing to build"
    assert widget.refresh_button.disabled is False
    assert widget.last_result.success
    assert widget.summary_line() == "All 10 required tables present"
    assert visible(widget.progress)["steps"] == steps("done", "done", "done", "done")


def test_interrupted_initialize_missing_shows_cancelled_and_the_next_click_heals() -> None:
    runs = [interrupt_events(), success_events()]

    def heal(observer):
        events = runs.pop(0)
        for event in events:
            observer(event)
        if events[-1].cancelled:
            raise KeyboardInterrupt
        return events[-1].result

    widget = TableStatusWidget(lambda: statuses({"int_employee_benefits"} if runs else set()), heal)

    widget.initialize_button.click()
    after_interrupt = visible(widget.progress)
    buttons_after_interrupt = widget.initialize_button.disabled
    widget.initialize_button.click()

    assert after_interrupt["steps"] == steps("done", "cancelled", "skipped", "skipped")
    assert "Cancelled by interrupt." in after_interrupt["error"]
    assert buttons_after_interrupt is False
    assert visible(widget.progress)["steps"] == steps("done", "done", "done", "done")
    assert widget.missing == []


def test_unreadable_database_shows_the_error_and_remediation_instead_of_tables() -> None:
    def load():
        raise DatabaseCorruptionError(ROOT / "simulation.duckdb")

    widget = TableStatusWidget(load, lambda observer: None, root=ROOT, label="workspace")

    text = widget.snapshot().text

    assert widget.summary_line() == "Table status unavailable"
    assert "Error: Database file simulation.duckdb is not a readable DuckDB database." in text
    assert "To fix: Run `planalign init --recreate`" in text
    assert "planalign init --recreate" in widget.error_panel.value
    assert str(ROOT) not in text


# -- planalign_nb.initialize with a recorded engine ---------------------------------------------


class ReplayingInitializer:
    """Stands in for the engine's session: initialize() replays recorded events, then ends as recorded."""

    def __init__(self, events: list[ProgressEvent], error: BaseException | None = None) -> None:
        self.events, self.error = events, error

    def initialize(self, *, on_progress) -> InitializationResult:
        for event in self.events:
            on_progress(event)
        if self.error is not None:
            raise self.error
        return self.events[-1].result


def test_initialize_after_a_kernel_interrupt_shows_cancelled_and_the_next_call_heals(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [ReplayingInitializer(interrupt_events(), KeyboardInterrupt()), ReplayingInitializer(success_events())]
    monkeypatch.setattr(api, "_session", lambda ws, options: runs.pop(0))

    with pytest.raises(KeyboardInterrupt):
        api.initialize(workspace)
    cancelled_record = capsys.readouterr().out
    result = api.initialize(workspace)
    healed_record = capsys.readouterr().out

    assert cancelled_record.splitlines()[0] == "Initialization cancelled"
    assert "⊘ Loading seed data" in cancelled_record
    assert "Error: Cancelled by interrupt." in cancelled_record
    assert result.success
    assert healed_record.splitlines()[0] == "Initialized: created 10 table(s)."


def test_initialize_shows_the_error_panel_and_lets_the_exception_propagate(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error = DatabaseCorruptionError(workspace.database_path)
    monkeypatch.setattr(api, "_session", lambda ws, options: ReplayingInitializer(corrupt_events(), error))

    with pytest.raises(DatabaseCorruptionError) as raised:
        api.initialize(workspace)
    record = capsys.readouterr().out

    assert raised.value is error
    assert record.splitlines()[0] == "Initialization failed"
    assert "Error: Database file simulation.duckdb is not a readable DuckDB database." in record
    assert "To fix: Run `planalign init --recreate`" in record
    assert str(workspace.root) not in record


def test_status_widget_shows_stale_tables_with_why_and_says_what_its_button_will_do() -> None:
    why = "seed config_job_levels.csv changed since the build on 2026-11-27 10:02 UTC"
    widget = TableStatusWidget(
        lambda: statuses(
            {"comp_levers", "int_baseline_workforce"},
            stale={
                "config_job_levels": why,
                "int_employee_benefits": "upstream x changed",
                "irs_contribution_limits": "y",
            },
        ),
        lambda observer: None,
        label="workspace",
    )

    text = widget.snapshot().text

    assert widget.summary_line() == "5 of 10 required tables missing or stale"
    assert widget.initialize_button.description == "Build 2 missing, rebuild 3 stale"
    assert widget.initialize_button.disabled is False
    assert widget.table_rows["config_job_levels"].value == f"↻ config_job_levels · stale · 5 rows · {why}"
    assert "planalign-table-stale" in widget.table_rows["config_job_levels"]._dom_classes
    assert f"  ↻ config_job_levels                    stale    5 rows  ({why})" in text.splitlines()
    assert "✗ comp_levers                          missing" in text
