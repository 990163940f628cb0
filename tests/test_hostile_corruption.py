"""Damage is named as damage, and nothing writes to a damaged file again (issue 15, defect 8).

Real DuckDB files are damaged the ways disks and copies damage them: cut short,
a block overwritten, a write-ahead log that is not one. Whatever the engine finds,
it says DatabaseCorruptionError, keeps the bytes, and only `--recreate` (moving the
file aside) lets a run build again.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from planalign_orchestrator.exceptions import DatabaseCorruptionError, HookError
from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import assert_all_required_tables_have_rows, initializer_for, query, sha256

# DuckDB's file layout: three 4 KiB headers, then the blocks.
HEADERS_BYTES = 3 * 4096


def _backups(workspace: Workspace, label: str = "corrupt") -> list[Path]:
    return sorted(workspace.root.glob(f"{workspace.database_path.name}.{label}-*"))


@pytest.fixture
def truncated_workspace(initialized_workspace: Workspace) -> Workspace:
    db_path = initialized_workspace.database_path
    with db_path.open("r+b") as handle:
        handle.truncate(db_path.stat().st_size // 2)
    return initialized_workspace


def test_truncated_database_is_corrupt_and_neither_a_check_nor_a_simulation_writes_to_it(
    truncated_workspace: Workspace,
) -> None:
    db_path = truncated_workspace.database_path
    digest, size = sha256(db_path), db_path.stat().st_size

    with pytest.raises(DatabaseCorruptionError) as checked:
        initializer_for(truncated_workspace).ensure_initialized()
    with pytest.raises(HookError) as simulated:
        create_orchestrator(truncated_workspace.config).execute_multi_year_simulation(2025, 2025)

    assert "truncated" in str(checked.value)
    assert "planalign init --recreate" in checked.value.remediation
    assert isinstance(simulated.value.original_error, DatabaseCorruptionError)
    assert db_path.stat().st_size == size
    assert sha256(db_path) == digest
    assert _backups(truncated_workspace) == []


@pytest.mark.dbt
def test_recreate_moves_a_truncated_database_aside_and_rebuilds(truncated_workspace: Workspace) -> None:
    digest = sha256(truncated_workspace.database_path)

    result = initializer_for(truncated_workspace, recreate_corrupt=True).ensure_initialized()

    assert result.success, result
    [backup] = _backups(truncated_workspace)
    assert result.backup_path == backup
    assert sha256(backup) == digest
    assert_all_required_tables_have_rows(truncated_workspace.database_path)


@pytest.mark.dbt
def test_damage_a_dbt_run_finds_stops_every_later_write_until_recreate(initialized_workspace: Workspace) -> None:
    """A block that fails its checksum is only read deep inside a model; from then on the file is off limits."""
    db_path = initialized_workspace.database_path
    [(block,)] = query(
        db_path, "select distinct block_id from pragma_storage_info('int_employee_benefits') where block_id >= 0"
    )
    with db_path.open("r+b") as handle:
        handle.seek(HEADERS_BYTES + block * 256 * 1024 + 100)
        handle.write(b"\xff" * 64)

    with pytest.raises(DatabaseCorruptionError, match="checksum"):
        create_orchestrator(initialized_workspace.config).execute_multi_year_simulation(2025, 2025)
    digest = sha256(db_path)
    with pytest.raises(DatabaseCorruptionError, match="checksum") as second:
        initializer_for(initialized_workspace).ensure_initialized()
    recreated = initializer_for(initialized_workspace, recreate_corrupt=True).ensure_initialized()

    assert "planalign init --recreate" in second.value.remediation
    assert recreated.success, recreated
    [backup] = _backups(initialized_workspace)
    assert sha256(backup) == digest
    assert_all_required_tables_have_rows(db_path)


def test_a_write_ahead_log_duckdb_refuses_is_kept_aside_and_reported_never_deleted(
    initialized_workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    wal = initialized_workspace.database_path.with_name("simulation.duckdb.wal")
    garbage = b"not a DuckDB write-ahead log\n" * 500
    wal.write_bytes(garbage)

    with caplog.at_level(logging.WARNING, logger="planalign_orchestrator.database"):
        result = initializer_for(initialized_workspace).ensure_initialized()

    assert result.success, result
    [kept] = _backups(initialized_workspace, "wal.refused")
    assert re.fullmatch(r"simulation\.duckdb\.wal\.refused-\d{8}T\d{6}Z", kept.name)
    assert kept.read_bytes() == garbage
    assert not wal.exists()
    assert kept.name in caplog.text
