"""The terminal face of self-healing: `planalign status | init | simulate`, run as a user runs them."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import (
    ALL_REQUIRED,
    assert_all_required_tables_have_rows,
    query,
    sha256,
)

PLANALIGN = str(Path(sys.executable).with_name("planalign"))


def test_cli_status_exits_1_on_a_fresh_workspace(workspace: Workspace, planalign_cli) -> None:
    """`planalign status` lists every required table, by tier, as missing and exits 1."""
    result = planalign_cli("status", "--workspace", str(workspace.root))

    assert result.returncode == 1, result.stderr
    assert "Seed tables:" in result.stdout
    assert "Foundation models:" in result.stdout
    for name in ALL_REQUIRED:
        assert re.search(rf"^\s+{name}\s+missing\b", result.stdout, re.MULTILINE), name
    assert "planalign init" in result.stdout


@pytest.mark.dbt
def test_cli_simulate_in_an_empty_folder_self_heals_then_simulates(tmp_path: Path, planalign_cli) -> None:
    """`planalign simulate 2025-2026` in an empty folder creates the workspace, initializes it, simulates."""
    folder = tmp_path / "empty"
    folder.mkdir()

    result = planalign_cli("simulate", "2025-2026", cwd=folder)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index("Initialized: created 10 table(s).") < out.index("Simulating 2025 (1/2)...")
    assert out.index("Simulating 2025 (1/2)...") < out.index("Simulating 2026 (2/2)...")
    assert "fct_yearly_events" not in out, "a simulated year is one line; its dbt nodes are the notebook's detail"
    database = folder / "simulation.duckdb"
    assert_all_required_tables_have_rows(database)
    years = query(database, "select distinct simulation_year from main.fct_workforce_snapshot order by 1")
    assert years == [(2025,), (2026,)]


def _run_streaming(*args: str) -> tuple[str, float, str, str, int]:
    """Run planalign, timing its first stdout line: (first line, seconds to it, rest, stderr, exit code)."""
    started = time.monotonic()
    process = subprocess.Popen([PLANALIGN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first_line = process.stdout.readline()
        first_line_after = time.monotonic() - started
        rest, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return first_line, first_line_after, rest, stderr, process.returncode


def test_cli_init_refuses_a_corrupt_database_and_names_recreate(workspace: Workspace, planalign_cli) -> None:
    """Point 8 via the CLI: `planalign init` exits 2, names --recreate, and leaves the file byte-identical."""
    db_path = workspace.database_path
    db_path.write_bytes(b"definitely not DuckDB\n" * 1_000)
    digest = sha256(db_path)

    refused = planalign_cli("init", "--workspace", str(workspace.root))

    assert refused.returncode == 2
    assert "not a readable DuckDB database" in refused.stderr
    assert "planalign init --recreate" in refused.stderr
    assert sha256(db_path) == digest
    assert list(workspace.root.glob("simulation.duckdb.corrupt-*")) == []


@pytest.mark.dbt
def test_cli_init_recreate_streams_progress_keeps_a_backup_and_status_then_exits_0(
    workspace: Workspace, planalign_cli
) -> None:
    """Point 8 via the CLI, and progress: `planalign init --recreate` reports as it goes.

    It prints its first progress line within 2 s, then step and node lines; the original bytes are kept as
    <name>.corrupt-<UTC timestamp>; afterwards `planalign status` exits 0.
    """
    db_path = workspace.database_path
    db_path.write_bytes(b"definitely not DuckDB\n" * 1_000)
    digest = sha256(db_path)

    first_line, first_line_after, rest, stderr, code = _run_streaming(
        "init", "--recreate", "--workspace", str(workspace.root)
    )

    assert code == 0, stderr
    assert first_line.strip() == "[1/4] Checking database tables..."
    assert first_line_after < 2.0
    assert "[2/4] Loading seed data..." in rest
    preparing = rest.index("      preparing dbt (first run in this process)...")
    assert rest.index("[2/4] Loading seed data...") < preparing < rest.index("seed 1/7")
    assert "seed 4/7 config_job_levels" in rest
    assert "model 1/3 int_baseline_workforce" in rest
    assert "Initialized: created 10 table(s)." in rest
    [backup] = workspace.root.glob("simulation.duckdb.corrupt-*")
    assert re.fullmatch(r"simulation\.duckdb\.corrupt-\d{8}T\d{6}Z", backup.name)
    assert sha256(backup) == digest
    assert backup.name in rest

    status = planalign_cli("status", "--workspace", str(workspace.root))

    assert status.returncode == 0, status.stdout + status.stderr
    assert "All 10 required tables present and up to date." in status.stdout
