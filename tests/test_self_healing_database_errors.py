"""An unreadable database is never destroyed; a locked one is not called corrupt (points 8, 9, 14)."""

from __future__ import annotations

import re

import pytest

from planalign_orchestrator.dbt_runner import DbtRunner
from planalign_orchestrator.exceptions import (
    DatabaseCorruptionError,
    DatabaseLockedError,
    InitializationError,
)
from planalign_orchestrator.initialization import InitializationState
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import (
    assert_all_required_tables_have_rows,
    assert_remediation,
    initializer_for,
    kill_and_wait,
    sha256,
    start_script,
    wait_for_line,
)

JUNK = b"these bytes are not a DuckDB database\n" * 2_000


@pytest.fixture
def corrupt_workspace(workspace: Workspace) -> Workspace:
    workspace.database_path.write_bytes(JUNK)
    return workspace


def _backups(workspace: Workspace) -> list:
    return sorted(workspace.root.glob(f"{workspace.database_path.name}.corrupt-*"))


def test_point8_corrupt_file_raises_and_is_left_byte_identical(corrupt_workspace: Workspace) -> None:
    """Point 8 and 14: DatabaseCorruptionError names the file and the recreate option; the file is untouched."""
    db_path = corrupt_workspace.database_path
    digest = sha256(db_path)
    invocations = DbtRunner.invocation_count

    with pytest.raises(DatabaseCorruptionError) as raised:
        initializer_for(corrupt_workspace).ensure_initialized()

    assert raised.value.db_path == db_path
    assert str(db_path) in str(raised.value)
    assert "recreate_corrupt=True" in raised.value.remediation
    assert "planalign init --recreate" in raised.value.remediation
    assert_remediation(raised.value)
    assert sha256(db_path) == digest
    assert _backups(corrupt_workspace) == []
    assert DbtRunner.invocation_count == invocations


@pytest.mark.dbt
def test_point8_recreate_corrupt_keeps_a_timestamped_backup_and_initializes(corrupt_workspace: Workspace) -> None:
    """Point 8: recreate_corrupt=True moves the file to <name>.corrupt-<UTC timestamp>, then initializes."""
    db_path = corrupt_workspace.database_path
    digest = sha256(db_path)

    result = initializer_for(corrupt_workspace, recreate_corrupt=True).ensure_initialized()

    assert result.state is InitializationState.COMPLETED
    [backup] = _backups(corrupt_workspace)
    assert re.fullmatch(r"simulation\.duckdb\.corrupt-\d{8}T\d{6}Z", backup.name)
    assert result.backup_path == backup
    assert sha256(backup) == digest
    assert backup.name in str(result)
    assert_all_required_tables_have_rows(db_path)


@pytest.fixture
def duckdb_holder(initialized_workspace: Workspace):
    """Another process holding a read-write DuckDB connection to the workspace database."""
    process = start_script("hold_duckdb.py", str(initialized_workspace.database_path))
    try:
        wait_for_line(process, "open")
        yield process
    finally:
        kill_and_wait(process)


def test_point9_database_held_by_another_process_names_that_process(
    initialized_workspace: Workspace, duckdb_holder
) -> None:
    """Point 9 and 14: the error names the holder's PID, says "locked", and is not corruption."""
    db_path = initialized_workspace.database_path
    digest = sha256(db_path)

    with pytest.raises(InitializationError) as raised:
        initializer_for(initialized_workspace).ensure_initialized()

    error = raised.value
    assert not isinstance(error, DatabaseCorruptionError)
    assert isinstance(error.original_error, DatabaseLockedError)
    assert error.original_error.pid == duckdb_holder.pid
    assert f"process {duckdb_holder.pid}" in str(error)
    assert "locked" in str(error)
    assert f"kill {duckdb_holder.pid}" in error.remediation
    assert_remediation(error)
    assert sha256(db_path) == digest
    assert _backups(initialized_workspace) == []


def test_point9_locked_database_is_not_moved_aside_even_with_recreate(
    initialized_workspace: Workspace, duckdb_holder
) -> None:
    """Point 9: recreate_corrupt applies to unreadable files only; a locked database stays in place."""
    db_path = initialized_workspace.database_path
    digest = sha256(db_path)

    with pytest.raises(InitializationError) as raised:
        initializer_for(initialized_workspace, recreate_corrupt=True).ensure_initialized()

    assert not isinstance(raised.value, DatabaseCorruptionError)
    assert sha256(db_path) == digest
    assert _backups(initialized_workspace) == []
