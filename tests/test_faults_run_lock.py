"""One writer per workspace for a whole run (issue 22): a second run is refused with the busy line, or waits.

Runs are real processes: `planalign` as a user runs it, and a helper that holds the
workspace's run lock the way a running simulation does (tests/support/hold_run_lock.py,
the engine's own run_lock.recorded_run). The lock is an OS lock, so a killed holder
never blocks the next run.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

import planalign_nb as nb
from planalign_orchestrator.exceptions import ConcurrentInitializationError, WorkspaceBusyError
from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.progress import WaitingForWorkspace, WorkspaceAcquired
from planalign_orchestrator.run_lock import RUN_LOCK_FILE_NAME, holds_run_lock, recorded_run
from planalign_orchestrator.session import WorkspaceSession
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import (
    EventRecorder,
    edit_config,
    initializer_for,
    kill_and_wait,
    query,
    start_script,
    wait_for_line,
)

PLANALIGN = str(Path(sys.executable).with_name("planalign"))
EXIT_BUSY = 3
YEARS = "2025-2027"
YEAR_TABLES = ("fct_workforce_snapshot", "fct_yearly_events", "fct_year_plan")
# Where in the first run's output the second one is started (then a random extra
# moment of up to 0.4 s): from just after it took the lock to the middle of its years.
MOMENTS = (
    "[1/4] Checking database tables...",
    "Database already initialized",
    "Simulating 2025",
    "preparing dbt",
    "2025:",
    "Simulating 2026",
)
TRIES = len(MOMENTS)  # each moment once; an even count, so the last try runs the default match rate


@pytest.fixture
def holder(initialized_workspace: Workspace):
    """Another process holding the workspace's run lock, as a running `simulate 2025-2027` does (killed at teardown)."""
    process = start_script("hold_run_lock.py", str(initialized_workspace.database_path.parent))
    try:
        wait_for_line(process, "locked")
        yield process
    finally:
        kill_and_wait(process)


def _planalign(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PLANALIGN, *args], capture_output=True, text=True, timeout=timeout)


def _read_until(process: subprocess.Popen[str], fragment: str, timeout: float = 120) -> list[str]:
    """Lines of the process's stdout up to the first holding `fragment`."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()  # type: ignore[union-attr]
        if not line and process.poll() is not None:
            raise AssertionError(f"the first run ended before {fragment!r}: {''.join(lines)}")
        lines.append(line)
        if fragment in line:
            return lines
    raise AssertionError(f"no {fragment!r} within {timeout}s")


# -- two real simulations against one workspace -------------------------------------------


@pytest.mark.dbt
def test_a_second_simulate_started_at_any_moment_is_refused_and_the_first_completes_as_a_single_run(
    initialized_workspace: Workspace, simulated_template: Path
) -> None:
    """Finding 1 of issue 22, once per moment, the second run started at a different moment of the first each time.

    Each try makes every year stale first (plan.match_rate alternates), so the first run
    re-simulates 2025-2027 while the second one starts; the last try runs the default
    value, so the workspace must then equal an uninterrupted run of the default config.
    """
    workspace = initialized_workspace
    rng = random.Random(22)
    for attempt in range(TRIES):
        workspace = edit_config(workspace, "plan.match_rate", 0.6 if attempt % 2 == 0 else 0.5)
        command = ["simulate", YEARS, "--workspace", str(workspace.root)]
        first = subprocess.Popen([PLANALIGN, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            seen = _read_until(first, MOMENTS[attempt % len(MOMENTS)])
            time.sleep(rng.uniform(0.0, 0.4))
            assert first.poll() is None, "the first run ended before the second started; the try proves nothing"
            second = _planalign(*command)
            rest, first_errors = first.communicate(timeout=300)
        finally:
            kill_and_wait(first)

        moment = f"try {attempt + 1}, second run after {seen[-1].strip()!r}"
        assert second.returncode == EXIT_BUSY, (moment, second.stdout, second.stderr)
        busy, remediation = second.stdout.splitlines()
        assert busy.startswith(f"busy: simulate {YEARS} running in process {first.pid} since "), (moment, busy)
        assert remediation.startswith("Nothing was started: one run at a time writes a workspace."), remediation
        assert "--wait" in remediation
        assert second.stderr == "", (moment, second.stderr)
        assert first.returncode == 0, (moment, first_errors)
        assert first_errors == "", (moment, first_errors)
        assert "Simulating 2027 (3/3)" in "".join(seen) + rest, moment
    for table in YEAR_TABLES:
        sql = f'select * from main."{table}" where simulation_year <= 2027 order by all'
        reference = query(simulated_template / "simulation.duckdb", sql)
        assert query(workspace.database_path, sql) == reference, f"{table} differs from a single run"


# -- refused, waited for, never blocked by a dead holder -----------------------------------


def test_init_while_another_run_holds_the_workspace_is_refused_at_once_with_the_busy_line(
    initialized_workspace: Workspace, holder: subprocess.Popen[str]
) -> None:
    started = time.monotonic()
    result = _planalign("init", "--workspace", str(initialized_workspace.root))

    assert result.returncode == EXIT_BUSY, result.stdout + result.stderr
    assert result.stdout.startswith(f"busy: simulate 2025-2027 running in process {holder.pid} since ")
    assert "[1/4]" not in result.stdout  # refused before it checked (opened) anything
    assert result.stderr == ""
    assert time.monotonic() - started < 30  # a fresh process and an import, no waiting


def test_wait_waits_for_the_run_holding_the_workspace_saying_for_whom_then_runs(
    initialized_workspace: Workspace,
) -> None:
    folder = initialized_workspace.database_path.parent
    holder = start_script("hold_run_lock.py", str(folder), "--seconds", "3")
    try:
        wait_for_line(holder, "locked")
        result = _planalign("init", "--workspace", str(initialized_workspace.root), "--wait", "60")
    finally:
        kill_and_wait(holder)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    holding = f"busy: simulate 2025-2027 running in process {holder.pid} since "
    assert lines[0].startswith(f"Waiting for the workspace (up to 60 s): {holding}"), lines
    assert lines[1].startswith("      the workspace is free (waited "), lines
    assert lines[2] == "[1/4] Checking database tables...", lines


def test_wait_gives_up_after_its_seconds_with_the_busy_line(
    initialized_workspace: Workspace, holder: subprocess.Popen[str]
) -> None:
    result = _planalign("init", "--workspace", str(initialized_workspace.root), "--wait", "1")

    assert result.returncode == EXIT_BUSY, result.stdout + result.stderr
    busy = [line for line in result.stdout.splitlines() if line.startswith("busy: ")]
    assert busy == [busy[0]]
    assert busy[0].startswith(f"busy: simulate 2025-2027 running in process {holder.pid} since ")
    assert "Waited 1 s and that run still holds the workspace; nothing was started." in result.stdout


def test_a_killed_holder_never_blocks_the_next_run(
    initialized_workspace: Workspace, holder: subprocess.Popen[str]
) -> None:
    kill_and_wait(holder)

    result = _planalign("init", "--workspace", str(initialized_workspace.root))

    assert result.returncode == 0, result.stdout + result.stderr
    assert (initialized_workspace.database_path.parent / RUN_LOCK_FILE_NAME).exists(), "the lock file stays"


def test_status_keeps_answering_busy_while_a_run_holds_the_workspace(
    initialized_workspace: Workspace, holder: subprocess.Popen[str]
) -> None:
    result = _planalign("status", "--workspace", str(initialized_workspace.root))

    assert result.returncode == EXIT_BUSY
    assert f"\nbusy: simulate 2025-2027 running in process {holder.pid} since " in result.stdout
    assert "The database is not read while a run uses it" in result.stdout


# -- the engine and the notebook ----------------------------------------------------------------


def test_the_contracts_ensure_initialized_fails_fast_naming_the_run_that_holds_the_workspace(
    initialized_workspace: Workspace, holder: subprocess.Popen[str]
) -> None:
    started = time.monotonic()
    with pytest.raises(ConcurrentInitializationError) as raised:
        initializer_for(initialized_workspace).ensure_initialized()

    assert time.monotonic() - started < 3.0
    assert raised.value.lock_file == initialized_workspace.lock_path
    assert f"simulate 2025-2027 running in process {holder.pid}" in raised.value.message


def test_an_engine_level_simulation_is_refused_while_another_process_runs(
    initialized_workspace: Workspace, holder: subprocess.Popen[str]
) -> None:
    orchestrator = create_orchestrator(initialized_workspace.config)

    with pytest.raises(WorkspaceBusyError) as raised:
        orchestrator.execute_multi_year_simulation(2025, 2025)

    assert raised.value.runs[0].startswith(f"simulate 2025-2027 running in process {holder.pid} since ")


def test_a_run_and_its_initialization_hold_the_lock_once_in_one_process(initialized_workspace: Workspace) -> None:
    folder = initialized_workspace.database_path.parent
    with recorded_run(folder, "simulate", "2025-2025") as outer, recorded_run(folder, "initialize") as inner:
        assert inner is outer
        assert holds_run_lock(folder)
    assert not holds_run_lock(folder)


def test_a_notebook_call_waits_with_wait_seconds_and_is_refused_without(
    initialized_workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = initialized_workspace.database_path.parent
    holder = start_script("hold_run_lock.py", str(folder), "--seconds", "3")
    try:
        wait_for_line(holder, "locked")
        with pytest.raises(WorkspaceBusyError):
            nb.initialize(initialized_workspace.root)
        result = nb.initialize(initialized_workspace.root, wait_seconds=60)
    finally:
        kill_and_wait(holder)

    assert result.success
    shown = capsys.readouterr().out
    assert f"Waiting for the workspace (up to 60 s): busy: simulate 2025-2027 running in process {holder.pid}" in shown
    assert "Waited " in shown


def test_the_session_reports_the_wait_as_progress_events(initialized_workspace: Workspace) -> None:
    holder = start_script("hold_run_lock.py", str(initialized_workspace.database_path.parent), "--seconds", "2")
    recorder = EventRecorder()
    try:
        wait_for_line(holder, "locked")
        WorkspaceSession(initialized_workspace).initialize(on_progress=recorder, wait_seconds=60)
    finally:
        kill_and_wait(holder)

    [waiting] = recorder.of_type(WaitingForWorkspace)
    [acquired] = recorder.of_type(WorkspaceAcquired)
    assert waiting.waited_seconds == 0
    assert waiting.limit_seconds == 60
    assert waiting.runs[0].startswith(f"simulate 2025-2027 running in process {holder.pid}")
    assert 1.0 < acquired.waited_seconds < 30
    assert recorder.events.index(acquired) < len(recorder.events) - 1  # the run went on after the wait
