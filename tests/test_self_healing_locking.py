"""The initialization lock across processes (acceptance points 5, 6 and 14).

The lock is held by real processes: a helper that takes it the way the engine does,
and real initializations started in fresh interpreters.
"""

from __future__ import annotations

import json
import signal
import time

import filelock
import pytest

from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.dbt_runner import DbtRunner
from planalign_orchestrator.exceptions import ConcurrentInitializationError
from planalign_orchestrator.initialization import InitializationState
from planalign_orchestrator.self_healing.table_checker import TableExistenceChecker
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import (
    assert_all_required_tables_have_rows,
    assert_remediation,
    execute,
    initializer_for,
    kill_and_wait,
    start_script,
    wait_for_line,
)


@pytest.fixture
def lock_holder(initialized_workspace: Workspace):
    """Another process holding the workspace's initialization lock (killed at teardown)."""
    process = start_script("hold_init_lock.py", str(initialized_workspace.lock_path))
    try:
        wait_for_line(process, "locked")
        yield process
    finally:
        kill_and_wait(process)


def test_point5_held_lock_fails_fast_with_the_lock_file(initialized_workspace: Workspace, lock_holder) -> None:
    """Point 5 and 14: while another process holds the lock, the call fails in under 1 s."""
    execute(initialized_workspace.database_path, "drop table main.int_employee_benefits")
    initializer = initializer_for(initialized_workspace)
    invocations = DbtRunner.invocation_count

    started = time.monotonic()
    with pytest.raises(ConcurrentInitializationError) as raised:
        initializer.ensure_initialized()
    elapsed = time.monotonic() - started

    assert elapsed < 1.0
    assert raised.value.lock_file == initialized_workspace.lock_path
    assert str(initialized_workspace.lock_path) in str(raised.value)
    assert_remediation(raised.value)
    assert DbtRunner.invocation_count == invocations


def test_point5_lock_lives_next_to_the_database_not_in_the_working_directory(
    workspace: Workspace, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 5: the lock file is `.planalign_init.lock` in the database's folder, wherever the caller runs."""
    config = workspace.config_path.read_text().replace("database: simulation.duckdb", "database: data/sim.duckdb")
    workspace.config_path.write_text(config)
    relocated = Workspace.open(workspace.root, create=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    lock_path = workspace.root / "data" / ".planalign_init.lock"
    lock_path.parent.mkdir()
    holder = start_script("hold_init_lock.py", str(lock_path))
    try:
        wait_for_line(holder, "locked")

        with pytest.raises(ConcurrentInitializationError) as raised:
            initializer_for(relocated).ensure_initialized()
    finally:
        kill_and_wait(holder)

    assert raised.value.lock_file == lock_path
    assert not (elsewhere / ".planalign_init.lock").exists()


@pytest.mark.dbt
def test_point5_killed_lock_holder_never_blocks_the_next_run(initialized_workspace: Workspace, lock_holder) -> None:
    """Point 5: after SIGKILL of the holder the next call succeeds, with no manual cleanup."""
    execute(initialized_workspace.database_path, "drop table main.int_employee_benefits")
    initializer = initializer_for(initialized_workspace)
    with pytest.raises(ConcurrentInitializationError):
        initializer.ensure_initialized()

    kill_and_wait(lock_holder, signal.SIGKILL)
    assert lock_holder.returncode == -signal.SIGKILL
    assert initialized_workspace.lock_path.exists(), "a killed holder leaves its lock file behind"

    result = initializer.ensure_initialized()

    assert result.state is InitializationState.COMPLETED
    assert result.tables_created == ["int_employee_benefits"]
    probe = filelock.FileLock(initialized_workspace.lock_path, fallback_to_soft=False)
    probe.acquire(blocking=False)  # released again after the call: raises Timeout otherwise
    probe.release()


def _race(workspace: Workspace, processes: int, timeout: float = 120) -> list[dict]:
    """Start the processes, line them up, release them at once; their JSON reports."""
    go = workspace.root / "go"
    racers = [
        start_script("initialize_workspace.py", str(workspace.root), "--wait-for", str(go)) for _ in range(processes)
    ]
    try:
        for racer in racers:
            wait_for_line(racer, "ready")
        go.touch()
        reports = []
        for racer in racers:
            stdout, stderr = racer.communicate(timeout=timeout)
            assert racer.returncode == 0, stderr
            reports.append(json.loads(stdout.strip().splitlines()[-1]))
        return reports
    finally:
        for racer in racers:
            kill_and_wait(racer)


@pytest.mark.dbt
def test_point6_eight_processes_racing_on_an_empty_workspace(workspace: Workspace) -> None:
    """Point 6 and 14: exactly one initializes; every other one fails fast or finds all present."""
    reports = _race(workspace, processes=8)

    outcomes = [report["outcome"] for report in reports]
    assert outcomes.count("initialized") == 1, reports
    assert set(outcomes) <= {"initialized", "concurrent", "already_initialized"}, reports
    for report in reports:
        if report["outcome"] == "concurrent":
            assert report["error_type"] == "ConcurrentInitializationError"
            assert report["lock_file"] == str(workspace.lock_path)
            assert report["remediation"].strip()
            assert report["remediation"] in report["message"]
    winner = next(report for report in reports if report["outcome"] == "initialized")
    assert winner["missing_tables_found"]
    assert TableExistenceChecker(DatabaseConnectionManager(workspace.database_path)).is_initialized()
    assert_all_required_tables_have_rows(workspace.database_path)


@pytest.mark.dbt
def test_point6_calls_made_while_another_process_initializes_never_break_it(workspace: Workspace) -> None:
    """Point 6: a peer calling ensure_initialized() during another's run never disturbs it.

    The peer, calling back to back, only ever sees ConcurrentInitializationError, then
    everything present, and the run succeeds.

    The database is only opened under the lock: a peer peeking at the catalog without it
    used to make the running initialization's dbt connection fail ("Could not set lock").
    """
    go = workspace.root / "go"
    prober = start_script("probe_initialization.py", str(workspace.root), "--wait-for", str(go))
    initializer = start_script("initialize_workspace.py", str(workspace.root), "--print-events")
    try:
        wait_for_line(prober, "ready")
        wait_for_line(initializer, "event node:comp_levers")  # the first seed: dbt is at work
        go.touch()
        init_out, init_err = initializer.communicate(timeout=120)
        probe_out, _ = prober.communicate(timeout=120)
    finally:
        kill_and_wait(initializer)
        kill_and_wait(prober)

    report = json.loads(init_out.strip().splitlines()[-1])
    probes = json.loads(probe_out.strip().splitlines()[-1])
    assert report["outcome"] == "initialized", (report, init_err)
    assert probes["errors"] == [], probes
    assert probes["concurrent"] >= 1, "the probe never overlapped the initialization"
    assert probes["already_initialized"] == 1, probes
    assert probes["initialized"] == 0, probes
    assert_all_required_tables_have_rows(workspace.database_path)
