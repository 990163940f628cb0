"""Notebook widgets driven by recorded engine event sequences (no dbt, no front-end).

The sequences below were recorded from real AutoInitializer runs (a cold
initialization, a corrupt database file, a 1.5 s timeout, a kernel interrupt
while seeds were loading); only the timestamps are rounded. After each event the
tests read what the browser is sent (the live view's HTML) and the widget's state;
a fake clock stands in for the wall clock the live view's elapsed time reads.
"""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest

from planalign_nb import api
from planalign_nb.progress_widget import PREPARING_DBT, InitializationProgress
from planalign_nb.rendering import RECORD_TIMINGS_ENV
from planalign_nb.simulation_widget import SimulationProgress
from planalign_nb.status_widget import TableStatusWidget
from planalign_orchestrator.exceptions import (
    ConfigurationError,
    DatabaseCorruptionError,
    InitializationTimeoutError,
    Remedy,
    SimulationError,
)
from planalign_orchestrator.freshness.report import WorkspaceStatus
from planalign_orchestrator.initialization import STANDARD_STEPS, InitializationResult, InitializationState
from planalign_orchestrator.pipeline.results import SimulationSummary, YearSummary
from planalign_orchestrator.progress import (
    SIMULATE_STEP,
    DbtPreparationFinished,
    DbtPreparationStarted,
    InitializationFinished,
    NodeFinished,
    NodeStarted,
    ProgressEvent,
    StepFinished,
    StepStarted,
    YearFinished,
    YearStarted,
)
from planalign_orchestrator.tables import REQUIRED_TABLES, TableState, TableStatus
from planalign_orchestrator.workspace import Workspace

ROOT = Path("/data/analyst/workspace")
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
DISPLAY = dict(STANDARD_STEPS)
INDEX = {name: index for index, (name, _) in enumerate(STANDARD_STEPS, start=1)}
STEP_NAMES = list(DISPLAY)
SEEDS = ["comp_levers", "config_age_bands", "config_job_levels", "config_tenure_bands", "irs_contribution_limits"]
FOUNDATION = ["int_baseline_workforce", "int_employee_compensation_by_year", "int_employee_benefits"]
DUCKDB_MESSAGE = (
    'IO Error: The file "/data/analyst/workspace/simulation.duckdb" exists, but it is not a valid DuckDB database file!'
)
CORRUPT = DatabaseCorruptionError(ROOT / "simulation.duckdb", original_error=RuntimeError(DUCKDB_MESSAGE))
TIMEOUT_ERROR = InitializationTimeoutError(0.6, 0.6)
ANY_SECONDS = re.compile(r"\b\d+\.\d+ ?s\b")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Clock:
    """The wall clock as the live view reads it, moved by the test."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = at(seconds)


def started(step: str, t: float) -> StepStarted:
    return StepStarted(step, DISPLAY[step], INDEX[step], 4, at=at(t))


def finished(step: str, t: float, seconds: float, *, error: BaseException | str | None = None) -> StepFinished:
    message = getattr(error, "message", None) or (str(error) if error else None)
    return StepFinished(
        step,
        DISPLAY[step],
        INDEX[step],
        4,
        error is None,
        seconds,
        error=message,
        remediation=getattr(error, "remediation", None),
        at=at(t),
        remedy=getattr(error, "remedy", None),
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
        DbtPreparationStarted(importing=True, step_name="load_seeds", at=at(0.38)),
        DbtPreparationFinished(6.3, step_name="load_seeds", at=at(6.7)),
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
        finished("check_tables", 0.01, 0.01, error=CORRUPT),
        outcome(0.02, InitializationState.FAILED, error=CORRUPT.message),
    ]


def timeout_events() -> list[ProgressEvent]:
    return [
        started("check_tables", 0.0),
        finished("check_tables", 0.21, 0.21),
        started("load_seeds", 0.22),
        *nodes("seed", SEEDS[:3], "load_seeds", 0.25, total=5),
        finished("load_seeds", 0.62, 0.4, error=TIMEOUT_ERROR),
        outcome(0.63, InitializationState.FAILED, error=TIMEOUT_ERROR.message),
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


def shown_states(html: str, kind: str = "step") -> dict[str, str]:
    """The state of each row as the browser draws it: its planalign-<kind>-<name> and -state-<state> classes."""
    return dict(re.findall(rf"planalign-{kind} planalign-{kind}-(\w+) planalign-state-(\w+)", html))


def text_of(html: str) -> str:
    """The visible text of an HTML fragment (stylesheet and tags dropped)."""
    inline = re.sub(r"</?(code|b|span)\b[^>]*>", "", re.sub(r"<style>.*?</style>", "", html, flags=re.S))
    text = re.sub(r"<[^>]+>", " ", inline)
    return re.sub(r"\s+", " ", unescape(text)).strip()


def visible(widget: InitializationProgress) -> dict[str, object]:
    """What the browser shows: each step's state, the node line, the bar's fill and outcome, the error panel."""
    html = widget.body.value
    node = re.search(r"class='planalign-node'[^>]*>([^<]*)<", html)
    fill = re.search(
        r"class='planalign-bar planalign-bar-(\w+)'[^>]*><div class='planalign-bar-fill' style='[^']*width:([\d.]+)%",
        html,
    )
    error = re.search(r"<div class='planalign-error'[^>]*>.*?</div></div>", html)
    return {
        "steps": " ".join(shown_states(html)[name] for name in STEP_NAMES),
        "node": node.group(1) if node else "",
        "bar": (fill.group(1), float(fill.group(2))) if fill else None,
        "error": text_of(error.group(0)) if error else "",
    }


def steps(*states: str) -> str:
    return " ".join(states)


@pytest.fixture
def timings_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RECORD_TIMINGS_ENV, raising=False)


@pytest.fixture
def timings_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RECORD_TIMINGS_ENV, "0")


# -- InitializationProgress ------------------------------------------------------------


def test_progress_widget_follows_a_successful_initialization_event_by_event() -> None:
    widget = InitializationProgress(root=ROOT, clock=Clock())
    seen = []

    for event in success_events():
        widget(event)
        seen.append(visible(widget))

    assert seen[0] == {
        "steps": steps("running", "pending", "pending", "pending"),
        "node": "",
        "bar": ("running", 0.0),
        "error": "",
    }
    assert seen[1]["steps"] == steps("done", "pending", "pending", "pending")
    assert seen[1]["bar"] == ("running", 25.0)
    assert seen[5]["node"] == "dbt node: seed 1/5 comp_levers"
    assert seen[9]["node"] == "dbt node: seed 3/5 config_job_levels"
    assert seen[10]["bar"] == ("running", 40.0)  # seed 3/5 finished: one step and 3/5 of the next
    assert seen[15] == {
        "steps": steps("done", "done", "pending", "pending"),
        "node": "",
        "bar": ("running", 50.0),
        "error": "",
    }
    assert seen[16]["steps"] == steps("done", "done", "running", "pending")
    assert seen[-1] == {
        "steps": steps("done", "done", "done", "done"),
        "node": "",
        "bar": ("completed", 100.0),
        "error": "",
    }
    assert widget.outcome == "completed"
    assert "<b>Initialized: created 10 table(s).</b>" in widget.body.value


def test_live_view_shows_percent_by_nodes_and_the_elapsed_time_of_the_run_and_step() -> None:
    clock = Clock()
    widget = InitializationProgress(root=ROOT, clock=clock)

    for event in success_events()[:11]:  # seed 3/5 finished
        widget(event)
    clock.at(7.2)
    widget.tick()

    assert "40% · 7.2 s" in text_of(widget.body.value)
    assert shown_states(widget.body.value)["load_seeds"] == "running"
    assert "Loading seed data running 6.8 s" in text_of(widget.body.value)


def test_heartbeat_moves_the_elapsed_time_while_dbt_is_prepared_and_no_event_arrives() -> None:
    clock = Clock()
    widget = InitializationProgress(root=ROOT, clock=clock)
    for event in success_events()[:4]:  # load_seeds started, dbt being imported and parsed
        widget(event)
    drawn = []

    for second in (1.4, 2.4, 3.4):
        clock.at(second)
        widget.tick()
        drawn.append(visible(widget)["node"])

    assert drawn == [f"{PREPARING_DBT} · 1.0 s", f"{PREPARING_DBT} · 2.0 s", f"{PREPARING_DBT} · 3.0 s"]
    assert widget.phase == "Preparing dbt: first run in this kernel"
    widget(success_events()[4])
    assert visible(widget)["node"] == ""


def test_estimate_comes_from_the_last_run_of_the_same_step() -> None:
    clock = Clock()
    widget = InitializationProgress(root=ROOT, clock=clock, expected={"load_seeds": 8.0})
    for event in success_events()[:3]:
        widget(event)

    clock.at(2.37)
    widget.tick()
    early = text_of(widget.body.value)
    clock.at(9.37)
    widget.tick()
    late = text_of(widget.body.value)

    assert "about 6 s left" in early
    assert "longer than last time (8.0 s)" in late


def test_node_label_never_shows_beside_a_later_step() -> None:
    widget = InitializationProgress(root=ROOT, clock=Clock())
    events = success_events()

    for event in events[: events.index(started("build_foundation", 8.26)) + 1]:
        widget(event)

    assert widget.node_label == ""
    assert "Building foundation models (3/4)" in widget.body.value
    assert "seed 5/5" not in widget.body.value


def test_live_rows_and_the_final_record_look_alike_and_the_record_keeps_the_timings(timings_on: None) -> None:
    widget = InitializationProgress(root=ROOT, clock=Clock())
    for event in success_events():
        widget(event)

    live_rows = re.findall(r"<tr .*?</tr>", widget.body.value)
    record = widget.snapshot()

    assert re.findall(r"<tr .*?</tr>", record.html) == live_rows
    assert "Loading seed data running" not in record.text
    assert "  ✓ Loading seed data            done      7.9 s" in record.text.splitlines()
    assert "planalign-record" in record.html
    assert "planalign-record" not in widget.body.value


def test_records_hold_no_timings_when_they_are_switched_off_for_the_shipped_notebooks(timings_off: None) -> None:
    clock = Clock()
    widget = InitializationProgress(root=ROOT, clock=clock)
    for event in success_events()[:11]:
        widget(event)
    clock.at(7.2)
    widget.tick()

    assert ANY_SECONDS.search(text_of(widget.body.value))  # the live view keeps its clock
    for event in success_events()[11:]:
        widget(event)
    assert not ANY_SECONDS.search(widget.snapshot().text + text_of(widget.snapshot().html))


def test_failure_shows_a_red_bar_and_the_error_with_the_notebook_remedy() -> None:
    widget = InitializationProgress(root=ROOT, clock=Clock())
    seen = []

    for event in corrupt_events():
        widget(event)
        seen.append(visible(widget))
    widget.fail(CORRUPT)

    assert seen[1]["steps"] == steps("failed", "pending", "pending", "pending")
    assert seen[2]["steps"] == steps("failed", "skipped", "skipped", "skipped")
    assert seen[2]["bar"] == ("failed", 25.0), "a failed step fills its share of the bar, in the error colour"
    panel = visible(widget)["error"]
    assert panel.startswith("Error: Database file simulation.duckdb is not a readable DuckDB database")
    assert "database file! It was left untouched." in panel, "one stop after DuckDB's own"
    assert "To fix: Run nb.initialize('workspace', recreate_corrupt=True): it moves the file aside" in panel
    assert re.search(
        r"<code[^>]*>nb.initialize\(&#x27;workspace&#x27;, recreate_corrupt=True\)</code>", widget.body.value
    )
    assert "`" not in text_of(widget.snapshot().html)
    assert "planalign init" not in widget.snapshot().text
    assert str(ROOT) not in widget.snapshot().text + widget.snapshot().html


def inline_styles(html: str) -> dict[str, str]:
    """Each planalign-* class of a fragment and the inline style of the first element carrying it."""
    found: dict[str, str] = {}
    for classes, style in re.findall(r"<\w+ class='([^']*)'(?: style='([^']*)')?", html):
        for name in classes.split():
            found.setdefault(name, style)
    return found


def test_records_are_styled_inline_as_an_untrusted_notebook_keeps_them() -> None:
    """Item 2: JupyterLab drops <style>, CSS variables and `inherit` from untrusted outputs; records need none."""
    widget = InitializationProgress(root=ROOT, clock=Clock())
    for event in corrupt_events():
        widget(event)
    status = TableStatusWidget(lambda: statuses({"comp_levers"}), lambda observer, **options: None, label="ws")

    for html in (widget.snapshot().html, widget.body.value, status.snapshot().html):
        assert "<style" not in html
        assert "var(" not in html
        assert "inherit" not in html
        for tag in re.findall(r"<(?:table|tr|td)\b[^>]*>", html):
            assert "style='" in tag, tag
        assert all("text-align:left" in td for td in re.findall(r"<td\b[^>]*>", html)), "JupyterLab right-aligns cells"
        assert all("background:transparent" in tr for tr in re.findall(r"<tr\b[^>]*>", html)), "and stripes rows"
    styles = inline_styles(widget.snapshot().html)
    assert "border-left:4px solid #e53935" in styles["planalign-error"]
    assert "background:rgba(229,57,53,.12)" in styles["planalign-error"], "a tint reads on light and dark pages"
    assert "color:#e53935" in styles["planalign-error-label"]
    assert "background:#e53935" in styles["planalign-bar-fill"], "a failed run's bar is red"
    assert "width:25.0%" in styles["planalign-bar-fill"]
    assert "color:#e53935" in styles["planalign-state-failed"], "a failed step's row is red"
    status_styles = inline_styles(status.snapshot().html)
    assert re.search(r"<td style='[^']*color:#3a9d4a[^']*'>✓</td>", status.snapshot().html), "present is green"
    assert re.search(r"<td style='[^']*color:#e53935[^']*'>✗</td>", status.snapshot().html), "missing is red"
    assert "white-space:nowrap" in status_styles["planalign-summary"]


def test_timeout_marks_the_running_step_failed_with_the_timeout_and_its_remedy() -> None:
    widget = InitializationProgress(root=ROOT, clock=Clock())
    seen = []

    for event in timeout_events():
        widget(event)
        seen.append(visible(widget))

    assert seen[2]["steps"] == steps("done", "running", "pending", "pending")
    assert seen[7]["node"] == "dbt node: seed 3/5 config_job_levels"
    assert seen[9]["steps"] == steps("done", "failed", "pending", "pending")
    assert seen[10]["steps"] == steps("done", "failed", "skipped", "skipped")
    assert seen[10]["bar"] == ("failed", 50.0)
    assert seen[10]["node"] == "stopped at dbt node: seed 3/5 config_job_levels"
    assert "exceeded the 0.6s timeout" in seen[10]["error"]
    assert (
        "To fix: Run it again with a longer timeout: nb.initialize('workspace', timeout_seconds=300)."
        in seen[10]["error"]
    )
    assert widget.outcome == "failed"


def test_a_step_error_unlike_the_final_error_does_not_lend_it_its_remediation() -> None:
    widget = InitializationProgress(root=ROOT, clock=Clock())
    parse_failed = InitializationTimeoutError(0.6, 0.6)
    parse_interrupted = [
        *timeout_events()[:3],
        StepFinished(
            "load_seeds",
            DISPLAY["load_seeds"],
            2,
            4,
            False,
            2.19,
            error="Initialization failed while loading seed data: dbt parse failed:",
            remediation="Fix the dbt project at /work/main/dbt.",
            at=at(2.4),
        ),
        outcome(3.5, InitializationState.FAILED, error=parse_failed.message),
    ]

    for event in parse_interrupted:
        widget(event)
    before_exception = (widget.error.message, widget.error.remediation)
    widget.fail(parse_failed)

    assert before_exception == (parse_failed.message, None)
    assert widget.error.remediation.startswith("Run it again with a longer timeout: `nb.initialize(")


def test_interrupt_shows_cancelled_and_a_reset_widget_follows_the_healing_run() -> None:
    widget = InitializationProgress(root=ROOT, clock=Clock())
    seen = []

    for event in interrupt_events():
        widget(event)
        seen.append(visible(widget))
    widget.fail(KeyboardInterrupt())
    cancelled = widget.snapshot().text
    widget.reset()
    for event in success_events():
        widget(event)

    assert seen[-2]["steps"] == steps("done", "failed", "pending", "pending")
    assert seen[-1]["steps"] == steps("done", "cancelled", "skipped", "skipped")
    assert seen[-1]["bar"][0] == "cancelled"
    assert "Cancelled by interrupt." in seen[-1]["error"]
    assert "Run nb.initialize('workspace') again" in seen[-1]["error"]
    assert cancelled.splitlines()[0] == "Initialization cancelled"
    assert "⊘ Loading seed data" in cancelled
    assert widget.outcome == "completed"
    assert visible(widget)["steps"] == steps("done", "done", "done", "done")


def test_events_from_dbt_worker_threads_update_the_widget() -> None:
    widget = InitializationProgress(root=ROOT, clock=Clock())
    events = success_events()
    main_thread_events = [e for e in events if not isinstance(e, (NodeStarted, NodeFinished))]
    seeds = [e for e in events if isinstance(e, (NodeStarted, NodeFinished)) and e.step_name == "load_seeds"]

    for event in main_thread_events[:5]:
        widget(event)
    worker = threading.Thread(target=lambda: [widget(event) for event in seeds])
    worker.start()
    worker.join()

    assert visible(widget)["node"] == "dbt node: seed 5/5 irs_contribution_limits"
    assert visible(widget)["bar"] == ("running", 50.0)


def test_a_simulated_years_dbt_events_do_not_reach_the_initialization_view() -> None:
    widget = InitializationProgress(root=ROOT, clock=Clock())
    for event in success_events():
        widget(event)
    record = widget.snapshot()

    widget(NodeStarted("fct_yearly_events", "model", 1, 9, SIMULATE_STEP, at=at(10)))
    widget(DbtPreparationStarted(importing=False, step_name=SIMULATE_STEP, at=at(10)))

    assert widget.snapshot() == record


# -- SimulationProgress ------------------------------------------------------------------


def year_summary(
    year: int, start: int, end: int, hires: int, terms: int, *, target: int | None = None, warning: str | None = None
) -> YearSummary:
    metrics = {
        "headcount_start": start,
        "headcount_end": end,
        "target_headcount": end if target is None else target,
        "hires": hires,
        "terminations": terms,
        "experienced_terminations": terms - 280,
        "retirements": 30,
        "reductions_in_force": 0,
        "new_hire_terminations": 250,
        "promotions": 350,
        "promotions_raised_to_minimum": 20,
        "deferral_escalations": 2500,
        "growth_rate": round((end - start) / start, 6),
        "target_growth_rate": 0.03,
        "total_compensation": 1.0,
        "average_compensation": 1.0,
        "participants": end,
        "participation_rate": 1.0,
        "employee_contributions": 1.0,
        "employer_contributions": 1.0,
        "employer_cost_rate": 1.0,
        "catch_up_pre_tax": 1.0,
        "catch_up_roth": 0.0,
        "allow_layoffs": True,
        "irs_limits_estimated": False,
        "eligible_headcount": end,
        "eligible_participation_rate": 1.0,
        "forfeitures": 0.0,
        "forfeitures_used": 0.0,
        "employer_contributions_net": 1.0,
        "investment_return": 0.06,
        "investment_earnings": 1.0,
        "distributions": 0.0,
        "total_plan_assets": 1.0,
        "average_balance": 1.0,
        "match_contributions": 1.0,
        "true_up_contributions": 0.0,
        "core_contributions": 0.0,
        "eligible_compensation": 1.0,
        "net_employer_cost_rate": 1.0,
        "credited_participants": end,
        "cost_per_participant": 1.0,
        "is_safe_harbor": False,
    }
    return YearSummary(year, metrics, target_warning=warning)


def test_simulation_widget_shows_each_year_its_figures_and_the_running_years_nodes(timings_on: None) -> None:
    clock = Clock()
    widget = SimulationProgress(2025, 2026, root=ROOT, clock=clock)

    widget(YearStarted(2025, 1, 2, at=at(0)))
    widget(DbtPreparationStarted(importing=True, step_name=SIMULATE_STEP, at=at(0.1)))
    clock.at(2.1)
    widget.tick()
    preparing = text_of(widget.body.value)
    widget(DbtPreparationFinished(4.0, step_name=SIMULATE_STEP, at=at(4.1)))
    widget(NodeFinished("fct_yearly_events", "model", 3, 4, "success", 0.1, SIMULATE_STEP, at=at(4.3)))
    running = text_of(widget.body.value)
    widget(YearFinished(2025, 1, 2, 4.66, year_summary(2025, 5000, 5150, 1000, 850), at=at(4.7)))
    widget(YearStarted(2026, 2, 2, at=at(4.7)))
    clock.at(5.7)
    widget.tick()
    second_year = text_of(widget.body.value)
    widget(YearFinished(2026, 2, 2, 0.89, year_summary(2026, 5150, 5305, 1031, 876), at=at(5.6)))

    assert preparing.startswith("Simulation 2025-2026: 2025 running (1/2) 0% · 2.1 s")
    assert f"{PREPARING_DBT} · 2.0 s" in preparing
    assert "38% · 2.1 s" in running  # 3 of 4 nodes of the first of two years
    assert "dbt node: model 3/4 fct_yearly_events" in running
    assert "about 4 s left" in second_year  # one year took 4.66 s; the running one has had 1 s
    assert widget.outcome == "completed"
    assert widget.snapshot().text.splitlines() == [
        "Simulation 2025-2026 completed: 2 of 2 years done",
        "  ✓ 2025 done      5,000 -> 5,150 active (+3.00%), 1,000 hires, 850 terminations  4.7 s",
        "  ✓ 2026 done      5,150 -> 5,305 active (+3.01%), 1,031 hires, 876 terminations  0.9 s",
    ]


def test_simulation_widget_shows_a_missed_target_warning_with_the_year() -> None:
    widget = SimulationProgress(2025, 2025, root=ROOT, clock=Clock())
    warning = "2025: growth target missed by 120 employees: 4,250 active planned (-15.00%), 4,370 reached (-12.60%)."

    widget(YearFinished(2025, 1, 1, 0.7, year_summary(2025, 5000, 4370, 0, 630, target=4250, warning=warning)))

    assert widget.snapshot().text.splitlines()[1] == (
        f"  ✓ 2025 done      5,000 -> 4,370 active (-12.60%), 0 hires, 630 terminations · Warning: {warning}"
    )
    assert "Warning: 2025: growth target missed by 120 employees" in text_of(widget.body.value)


def test_simulation_widget_marks_the_running_year_failed_or_cancelled() -> None:
    failed = SimulationProgress(2025, 2027, root=ROOT, clock=Clock())
    cancelled = SimulationProgress(2025, 2026, root=ROOT, clock=Clock())

    failed(YearStarted(2025, 1, 3))
    failed.fail(SimulationError("Year 2025 failed.", remediation="Fix the config."))
    cancelled(YearStarted(2025, 1, 2))
    cancelled.fail(KeyboardInterrupt())

    assert failed.years == {2025: "failed", 2026: "skipped", 2027: "skipped"}
    assert "Year 2025 failed." in failed.body.value
    assert "Fix the config." in failed.body.value
    assert "planalign-bar-failed" in failed.body.value
    assert shown_states(cancelled.body.value, "year") == {"2025": "cancelled", "2026": "skipped"}
    assert cancelled.snapshot().text.splitlines()[0] == "Simulation 2025-2026 cancelled: 0 of 2 years done"
    assert "run `nb.simulate('workspace', 2025, 2026)` again" in cancelled.snapshot().text


def test_a_reversed_range_fails_without_counting_zero_years() -> None:
    widget = SimulationProgress(2027, 2025, root=ROOT, clock=Clock())

    widget.fail(
        SimulationError(
            "End year 2025 is before start year 2027.",
            remedy=Remedy(
                "Pass the years in order: {command}.",
                action="simulate",
                options={"start_year": 2025, "end_year": 2027},
                cli="planalign simulate 2025-2027",
            ),
        )
    )

    assert widget.snapshot().text.splitlines() == [
        "Simulation 2027-2025 failed",
        "  Error: End year 2025 is before start year 2027.",
        "  To fix: Pass the years in order: `nb.simulate('workspace', 2025, 2027)`.",
    ]


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
        lambda observer, **options: None,
        label="workspace",
    )

    text = widget.snapshot().text.splitlines()

    assert text[0] == "3 of 10 required tables missing in workspace/"
    assert text[1] == "Seed tables"
    assert text[9] == "Foundation models"
    assert text[5] == "  ✗ comp_levers                          missing"
    assert text[2] == "  ✓ config_age_bands                     present  5 rows"
    assert text[12] == "  ✗ int_employee_benefits                missing"
    assert "planalign-table planalign-table-int_employee_benefits planalign-table-missing" in widget.body.value
    static_html = widget._repr_mimebundle_()["text/html"]
    assert static_html.index("Seed tables") < static_html.index("comp_levers") < static_html.index("Foundation models")


def test_initialize_missing_is_disabled_while_running_then_refreshes_to_all_present() -> None:
    loaded = [statuses({"int_employee_benefits"}), statuses()]
    disabled_while_running = []

    def heal(observer, **options):
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
    assert widget.initialize_button.button_style == ""
    assert widget.refresh_button.disabled is False
    assert widget.last_result.success
    assert widget.summary_line() == "All 10 required tables present"
    assert visible(widget.progress)["steps"] == steps("done", "done", "done", "done")


def test_interrupted_initialize_missing_shows_cancelled_and_the_next_click_heals() -> None:
    runs = [interrupt_events(), success_events()]

    def heal(observer, **options):
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


def test_unreadable_database_shows_the_error_once_without_empty_tier_headings() -> None:
    def load():
        raise CORRUPT

    widget = TableStatusWidget(load, lambda observer, **options: None, root=ROOT, label="workspace")

    text = widget.snapshot().text

    assert text.splitlines()[0] == "Table status unavailable for workspace/"
    assert "Seed tables" not in text
    assert "Foundation models" not in text
    assert "Seed tables" not in widget.body.value
    assert "Error: Database file simulation.duckdb is not a readable DuckDB database" in text
    assert "To fix: Run `nb.initialize('workspace', recreate_corrupt=True)`" in text
    assert str(ROOT) not in text


def test_corrupt_database_offers_recreate_after_a_confirmation_and_shows_the_error_once() -> None:
    healed_with = []

    def load():
        if not healed_with:
            raise CORRUPT
        return statuses()

    def heal(observer, **options):
        healed_with.append(options)
        for event in success_events():
            observer(event)
        return success_events()[-1].result

    widget = TableStatusWidget(load, heal, root=ROOT, label="workspace")
    offered = (widget.recreate_button.layout.display, widget.recreate_button.disabled)

    widget.recreate_button.click()
    asking = (widget.confirm_box.layout.display, healed_with[:])
    widget.cancel_button.click()
    cancelled = (widget.confirm_box.layout.display, healed_with[:])
    widget.recreate_button.click()
    widget.confirm_button.click()

    assert offered == (None, False)
    assert widget.recreate_button.description == "Recreate (keeps a backup)"
    assert asking == (None, [])
    assert "timestamped backup" in widget.confirm_text.value
    assert cancelled == ("none", [])
    assert healed_with == [{"recreate_corrupt": True}]
    assert widget.recreate_button.layout.display == "none"
    assert widget.summary_line() == "All 10 required tables present"


def test_a_failed_build_on_a_corrupt_database_shows_its_error_once() -> None:
    def load():
        raise CORRUPT

    def heal(observer, **options):
        for event in corrupt_events():
            observer(event)
        raise CORRUPT

    widget = TableStatusWidget(load, heal, root=ROOT, label="workspace")

    widget._run_healer({})

    record = widget.snapshot()
    assert record.text.count("not a readable DuckDB database") == 1
    assert text_of(record.html).count("not a readable DuckDB database") == 1
    assert text_of(widget.body.value + widget.progress.body.value).count("not a readable DuckDB database") == 1


def test_a_folder_that_is_not_a_workspace_offers_to_create_it() -> None:
    folder = ROOT.parent / "new_folder"
    created = []

    def load():
        if not created:
            raise ConfigurationError(
                f"{folder} is not a PlanAlign workspace (no simulation_config.yaml)",
                remedy=Remedy(
                    "Run {command} to create one.", action="initialize", cli=f"planalign init --workspace {folder}"
                ),
            )
        return statuses()

    def heal(observer, **options):
        created.append(options)
        return success_events()[-1].result

    widget = TableStatusWidget(load, heal, root=folder, label="new_folder")
    before = widget.snapshot().text

    widget.initialize_button.click()

    assert "Error: new_folder is not a PlanAlign workspace (no simulation_config.yaml)" in before
    assert "To fix: Run `nb.initialize('new_folder')` to create one." in before
    assert created == [{}]
    assert widget.summary_line() == "All 10 required tables present"


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
        lambda observer, **options: None,
        label="workspace",
    )

    text = widget.snapshot().text

    assert widget.summary_line() == "5 of 10 required tables missing or stale"
    assert widget.initialize_button.description == "Build 2 missing, rebuild 3 stale"
    assert widget.initialize_button.disabled is False
    assert widget.initialize_button.button_style == "primary"
    assert f"config_job_levels stale 5 rows {why}" in text_of(widget.body.value)
    assert "planalign-table planalign-table-config_job_levels planalign-table-stale" in widget.body.value
    assert f"  ↻ config_job_levels                    stale    5 rows  ({why})" in text.splitlines()
    assert "✗ comp_levers                          missing" in text


# -- planalign_nb.initialize with a recorded engine ---------------------------------------------


class ReplayingInitializer:
    """Stands in for the engine's session: initialize() replays recorded events, then ends as recorded."""

    def __init__(self, root: Path, events: list[ProgressEvent], error: BaseException | None = None) -> None:
        self.root, self.events, self.error = root, events, error

    def expected_step_seconds(self) -> dict[str, float]:
        return {}

    def initialize(self, *, on_progress, wait_seconds: float = 0.0) -> InitializationResult:
        for event in self.events:
            on_progress(event)
        if self.error is not None:
            raise self.error
        return self.events[-1].result


def test_initialize_after_a_kernel_interrupt_shows_cancelled_and_one_line_and_the_next_call_heals(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    interrupt = KeyboardInterrupt()
    runs = [
        ReplayingInitializer(workspace.root, interrupt_events(), interrupt),
        ReplayingInitializer(workspace.root, success_events()),
    ]
    monkeypatch.setattr(api, "open_workspace", lambda ws, **options: runs.pop(0))

    with pytest.raises(KeyboardInterrupt) as raised:
        api.initialize(workspace)
    cancelled_record = capsys.readouterr().out
    result = api.initialize(workspace)
    healed_record = capsys.readouterr().out

    assert cancelled_record.splitlines()[0] == "Initialization cancelled"
    assert "⊘ Loading seed data" in cancelled_record
    assert "Error: Cancelled by interrupt." in cancelled_record
    assert str(raised.value) == "initialization cancelled; run nb.initialize('workspace') again to heal"
    assert raised.value.__cause__ is interrupt, "the original interrupt stays on the chain for debugging"
    assert raised.value._render_traceback_() == [
        "\x1b[0;31mKeyboardInterrupt\x1b[0m: initialization cancelled; run nb.initialize('workspace') again to heal"
    ]
    assert result.success
    assert healed_record.splitlines()[0] == "Initialized: created 10 table(s)."


def test_initialize_shows_the_error_panel_and_lets_the_exception_propagate_with_one_traceback_line(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error = DatabaseCorruptionError(workspace.database_path)
    monkeypatch.setattr(
        api, "open_workspace", lambda ws, **options: ReplayingInitializer(workspace.root, corrupt_events(), error)
    )

    with pytest.raises(DatabaseCorruptionError) as raised:
        api.initialize(workspace)
    record = capsys.readouterr().out

    assert raised.value is error
    assert raised.value.__traceback__ is not None
    [line] = raised.value._render_traceback_()
    assert line == (
        "\x1b[0;31mDatabaseCorruptionError\x1b[0m: Database file simulation.duckdb is not a readable DuckDB "
        "database. It was left untouched. (what to do: see the panel above)"
    )
    assert record.splitlines()[0] == "Initialization failed"
    assert "Error: Database file simulation.duckdb is not a readable DuckDB database." in record
    assert "To fix: Run `nb.initialize('workspace', recreate_corrupt=True)`" in record
    assert str(workspace.root) not in record


def with_metric(year: YearSummary, **values: float) -> YearSummary:
    return replace(year, metrics={**year.metrics, **values})


def test_the_run_summary_is_a_transposed_formatted_table_that_fits_a_notebook() -> None:
    missed = "2026: growth target missed by 5 employees."
    summary = SimulationSummary(
        (
            with_metric(year_summary(2025, 5000, 5150, 1000, 850), employer_contributions=11_047_408.68),
            year_summary(2026, 5150, 5305, 1031, 876, target=5310, warning=missed),
        )
    )

    page = summary._repr_html_()
    rows = re.findall(r"<tr class='planalign-metric-(\w+)'>(.*?)</tr>", page)
    cells = {name: re.findall(r"<td[^>]*>(.*?)</td>", row)[1:] for name, row in rows}

    assert re.findall(r"<th[^>]*>(\d*)</th>", page) == ["", "2025", "2026"], "one column per year"
    assert cells["headcount_end"] == ["5,150", "5,305"]
    assert cells["growth_rate"] == ["3.00%", "3.01%"]
    assert cells["employer_contributions"] == ["$11,047,409", "$1"]
    assert f"<b>Warning:</b> {missed}" in page, "the missed target is said under the table"
