"""`planalign status` is a reader: it never breaks a run, never changes the database (issue 15, defects 5, 8, 9).

Status runs as a user runs it (the console script, in its own process) against real
DuckDB files, while real simulations run or real processes hold the file.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from planalign_orchestrator.workspace import Workspace
from tests.conftest import copy_workspace
from tests.support.helpers import (
    execute,
    initializer_for,
    kill_and_wait,
    make_read_only,
    make_writable,
    sha256,
    start_script,
    unprivileged,
    wait_for_line,
)

PLANALIGN = str(Path(sys.executable).with_name("planalign"))
EXIT_BUSY = 3


def _status(workspace: Path, *, as_unprivileged: bool = False) -> subprocess.CompletedProcess[str]:
    command = [PLANALIGN, "status", "--workspace", str(workspace)]
    return subprocess.run(
        unprivileged(command) if as_unprivileged else command, capture_output=True, text=True, timeout=120
    )


@pytest.mark.dbt
def test_fifty_status_calls_during_three_simulations_fail_none_of_them(
    initialized_template: Path, tmp_path: Path
) -> None:
    """Defect 5: status calls racing real simulations; every simulation finishes, every status answers."""
    roots = [copy_workspace(initialized_template, tmp_path / f"ws{index}").root for index in range(3)]
    simulations = [
        subprocess.Popen(
            [PLANALIGN, "simulate", "2025-2027", "--workspace", str(root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for root in roots
    ]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = list(pool.map(lambda index: _status(roots[index % 3]), range(50)))
        outcomes = [simulation.communicate(timeout=600) for simulation in simulations]
    finally:
        for simulation in simulations:
            kill_and_wait(simulation)

    for simulation, (stdout, stderr) in zip(simulations, outcomes, strict=True):
        assert simulation.returncode == 0, stderr
        assert "2027" in stdout.splitlines()[-1]
    assert [s.stderr for s in statuses if s.stderr] == []
    assert {s.returncode for s in statuses} <= {0, EXIT_BUSY}
    busy = [s for s in statuses if s.returncode == EXIT_BUSY]
    assert busy, "no status call overlapped a simulation; the test proves nothing"
    assert all("busy: simulate 2025-2027 running in process" in s.stdout for s in busy)


@pytest.fixture
def paused_simulation(initialized_workspace: Workspace):
    """A real `simulate 2025-2026` paused while dbt rebuilds a dropped table (holding the file for writing)."""
    execute(initialized_workspace.database_path, "drop table main.int_employee_benefits")
    process = start_script("pause_simulation.py", str(initialized_workspace.root), "2025-2026", "int_employee_benefits")
    try:
        wait_for_line(process, "paused", timeout=120)
        yield process
    finally:
        kill_and_wait(process)


def test_status_during_a_run_says_busy_names_the_process_and_leaves_the_database_alone(
    initialized_workspace: Workspace, paused_simulation: subprocess.Popen[str]
) -> None:
    """Defect 5: while a simulation runs, status reports it (exit 3) instead of opening the database."""
    result = _status(initialized_workspace.root)

    assert result.returncode == EXIT_BUSY, result.stdout + result.stderr
    assert f"busy: simulate 2025-2026 running in process {paused_simulation.pid} since " in result.stdout
    assert result.stderr == ""


def test_a_killed_run_no_longer_reads_as_busy_and_the_next_run_removes_its_record(
    initialized_workspace: Workspace, paused_simulation: subprocess.Popen[str]
) -> None:
    kill_and_wait(paused_simulation)
    left_behind = list(initialized_workspace.root.glob(".planalign_run.*"))

    result = _status(initialized_workspace.root)
    healed = initializer_for(initialized_workspace).ensure_initialized()

    assert left_behind, "kill -9 gives the run no chance to remove its record"
    assert result.returncode == 1, result.stdout + result.stderr
    assert "busy" not in result.stdout
    assert "int_employee_benefits                missing" in result.stdout
    assert healed.tables_created == ["int_employee_benefits"]
    assert list(initialized_workspace.root.glob(".planalign_run.*")) == []


def test_status_help_documents_the_busy_exit_code() -> None:
    result = subprocess.run([PLANALIGN, "status", "--help"], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0
    assert "3    busy" in result.stdout


def test_status_reads_a_database_another_program_is_reading(initialized_workspace: Workspace) -> None:
    """Defect 5: a SQL browser reading the file (a read-only DuckDB connection) does not stop status."""
    holder = start_script("hold_duckdb.py", str(initialized_workspace.database_path), "--read-only")
    try:
        wait_for_line(holder, "open")
        result = _status(initialized_workspace.root)
    finally:
        kill_and_wait(holder)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "All 10 required tables present and up to date." in result.stdout


def test_engine_first_look_waits_for_a_brief_reader_instead_of_failing(initialized_workspace: Workspace) -> None:
    """Defect 5: a reader holding the file for a moment (a status call) does not fail the run."""
    holder = start_script("hold_duckdb.py", str(initialized_workspace.database_path), "--read-only", "--seconds", "1")
    try:
        wait_for_line(holder, "open")
        result = initializer_for(initialized_workspace).ensure_initialized()
    finally:
        kill_and_wait(holder)

    assert result.success, result


def test_status_never_deletes_or_creates_a_database(workspace: Workspace) -> None:
    """Defect 8: an empty (0-byte) database file is reported as missing tables and left exactly as it was."""
    workspace.database_path.touch()
    inode = workspace.database_path.stat().st_ino

    result = _status(workspace.root)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "10 missing of 10 required tables" in result.stdout
    assert workspace.database_path.stat().st_size == 0
    assert workspace.database_path.stat().st_ino == inode


def test_status_reports_a_truncated_database_as_corrupt(initialized_workspace: Workspace) -> None:
    """Defect 8: half a database file is not "All 10 required tables present"."""
    db_path = initialized_workspace.database_path
    with db_path.open("r+b") as handle:
        handle.truncate(db_path.stat().st_size // 2)
    digest = sha256(db_path)

    result = _status(initialized_workspace.root)

    assert result.returncode == 2, result.stdout
    assert "not a readable DuckDB database" in result.stderr
    assert "truncated" in result.stderr
    assert "planalign init --recreate" in result.stderr
    assert sha256(db_path) == digest
    assert sorted(p.name for p in initialized_workspace.root.glob("simulation.duckdb*")) == ["simulation.duckdb"]


def test_status_works_on_a_read_only_database_in_a_read_only_folder(initialized_workspace: Workspace) -> None:
    """Defect 9: a reader needs no write access to the file or its folder."""
    root = initialized_workspace.root
    files = [path for path in root.iterdir() if path.is_file()]
    make_read_only(*files, root)
    try:
        result = _status(root, as_unprivileged=True)
    finally:
        make_writable(root, *files)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "All 10 required tables present and up to date." in result.stdout
    assert "Traceback" not in result.stderr
