"""Progress events and structured step logs (acceptance point 13)."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest

from planalign_orchestrator.exceptions import InitializationError
from planalign_orchestrator.progress import (
    InitializationFinished,
    NodeFinished,
    NodeStarted,
    StepFinished,
    StepStarted,
)
from planalign_orchestrator.self_healing.step_log import STEP_FIELDS, StructuredFormatter
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import (
    REQUIRED_FOUNDATION,
    REQUIRED_SEEDS,
    STANDARD_STEP_NAMES,
    EventRecorder,
    execute,
    initializer_for,
)

STEP_LOGGER = "planalign_orchestrator.self_healing"


@pytest.fixture
def step_records(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch):
    """Caplog's records of the step logger (propagation forced on: the CLI turns it off)."""
    monkeypatch.setattr(logging.getLogger("planalign_orchestrator"), "propagate", True)
    caplog.set_level(logging.INFO, logger=STEP_LOGGER)

    def records() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == STEP_LOGGER and hasattr(r, "event")]

    return records


class ThreadRecorder(EventRecorder):
    """Also notes whether each event was delivered on the calling thread or a dbt worker."""

    def __init__(self) -> None:
        super().__init__()
        self.on_caller_thread: list[bool] = []
        self._caller = threading.get_ident()

    def __call__(self, event) -> None:
        self.on_caller_thread.append(threading.get_ident() == self._caller)
        super().__call__(event)


@pytest.mark.dbt
def test_point13_first_progress_event_arrives_within_two_seconds(workspace: Workspace) -> None:
    """Point 13: on an empty workspace, the first event reaches the observer within 2 s of the call."""
    recorder = EventRecorder()
    initializer = initializer_for(workspace, on_progress=recorder)

    called_at = time.monotonic()
    initializer.ensure_initialized()

    assert recorder.events, "no progress event at all"
    assert recorder.received_at[0] - called_at < 2.0
    assert isinstance(recorder.events[0], StepStarted)
    assert recorder.events[0].step_name == "check_tables"


@pytest.mark.dbt
def test_point13_node_events_stream_while_their_step_runs(workspace: Workspace) -> None:
    """Point 13: node events arrive between their step's start and finish, numbered index/total.

    They come live from dbt's worker threads (so while dbt executes, not replayed afterwards).
    """
    recorder = ThreadRecorder()

    initializer_for(workspace, on_progress=recorder).ensure_initialized()

    events = recorder.events
    steps = [(e.step_name, type(e)) for e in events if isinstance(e, (StepStarted, StepFinished))]
    assert steps == [(name, kind) for name in STANDARD_STEP_NAMES for kind in (StepStarted, StepFinished)]
    for step_name, expected_nodes in (("load_seeds", REQUIRED_SEEDS), ("build_foundation", REQUIRED_FOUNDATION)):
        start = next(i for i, e in enumerate(events) if isinstance(e, StepStarted) and e.step_name == step_name)
        end = next(i for i, e in enumerate(events) if isinstance(e, StepFinished) and e.step_name == step_name)
        nodes = [(i, e) for i, e in enumerate(events) if isinstance(e, NodeStarted) and e.step_name == step_name]
        assert sorted(e.node_name for _, e in nodes) == sorted(expected_nodes)
        assert all(start < i < end for i, _ in nodes)
        assert [e.index for _, e in nodes] == list(range(1, len(expected_nodes) + 1))
        assert {e.total for _, e in nodes} == {len(expected_nodes)}
        assert not any(recorder.on_caller_thread[i] for i, _ in nodes), "node events were not live"
        finished = {e.node_name: e for e in events if isinstance(e, NodeFinished) and e.step_name == step_name}
        assert set(finished) == set(expected_nodes)
        assert all(e.status == "success" and e.duration_seconds >= 0 for e in finished.values())
    assert isinstance(events[-1], InitializationFinished)
    assert events[-1].result.success


@pytest.mark.dbt
def test_point13_step_records_carry_structured_fields(initialized_workspace: Workspace, step_records) -> None:
    """Point 13: one start and one completion record per step, with the fields as record attributes."""
    execute(initialized_workspace.database_path, "drop table main.int_employee_benefits")

    initializer_for(initialized_workspace).ensure_initialized()

    records = step_records()
    assert [(r.event, r.step_name) for r in records] == [
        (event, step) for step in STANDARD_STEP_NAMES for event in ("step_started", "step_completed")
    ]
    for record in records:
        for field in STEP_FIELDS:
            assert hasattr(record, field), (record.getMessage(), field)
        assert record.started_at is not None
        if record.event == "step_started":
            assert record.completed_at is None
            assert record.success is None
        else:
            assert record.completed_at >= record.started_at
            assert record.duration_seconds >= 0
            assert record.success is True
            assert record.error is None
    line = StructuredFormatter("%(message)s").format(records[1])
    assert "step_name=check_tables" in line
    assert "duration_seconds=" in line
    assert "success=True" in line


def test_point13_failed_step_record_carries_the_error(workspace: Workspace, step_records) -> None:
    """Point 13: a failing step's completion record has success=False and the error text."""
    workspace.config.census_path.unlink()

    with pytest.raises(InitializationError, match="Census file"):
        initializer_for(workspace).ensure_initialized()

    [completed] = [r for r in step_records() if r.event == "step_completed"]
    assert completed.levelno == logging.ERROR
    assert completed.step_name == "check_tables"
    assert completed.success is False
    assert str(workspace.config.census_path) in completed.error


@pytest.mark.dbt
def test_point13_jsonl_step_log_exists_and_every_line_parses(workspace: Workspace) -> None:
    """Point 13: <workspace>/logs/initialization.jsonl holds one JSON object per step record."""
    initializer_for(workspace).ensure_initialized()
    initializer_for(workspace).ensure_initialized()  # a second call appends its no-op check

    log_file = workspace.root / "logs" / "initialization.jsonl"
    assert log_file.is_file()
    lines = log_file.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert all(set(record) == set(STEP_FIELDS) for record in records)
    assert [(r["event"], r["step_name"]) for r in records] == [
        (event, step) for step in [*STANDARD_STEP_NAMES, "check_tables"] for event in ("step_started", "step_completed")
    ]
    assert all(r["success"] for r in records if r["event"] == "step_completed")


@pytest.mark.dbt
def test_dbt_preparation_is_announced_once_per_process_around_the_first_import_and_parse(tmp_path, run_python) -> None:
    """The seconds dbt takes to import and parse are a named phase of the step they fall in, once per process."""
    code = f"""
import json
from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.workspace import Workspace
for name in ("first", "second"):
    events = []
    workspace = Workspace.open({str(tmp_path)!r} + "/" + name)
    create_orchestrator(workspace.config, on_progress=events.append).auto_initializer.ensure_initialized()
    print(json.dumps([
        [type(e).__name__, e.step_name, getattr(e, "importing", None)]
        for e in events
        if type(e).__name__.startswith(("DbtPreparation", "NodeStarted"))
    ][:3]))
"""
    completed = run_python(code, timeout=180)

    assert completed.returncode == 0, completed.stderr
    first, second = (json.loads(line) for line in completed.stdout.splitlines())
    assert first == [
        ["DbtPreparationStarted", "load_seeds", True],
        ["DbtPreparationFinished", "load_seeds", None],
        ["NodeStarted", "load_seeds", None],
    ]
    assert [kind for kind, *_ in second] == ["NodeStarted"] * 3, "dbt is ready: no second preparation"
