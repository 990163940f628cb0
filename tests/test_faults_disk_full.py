"""A full disk at every step that writes (issue 22): one paragraph, never a traceback, and the next run heals.

The file system is real: a small tmpfs mounted for the test (tests/conftest.py,
small_filesystem; skipped where mounting is not permitted, a failure under CI=true).
Another program filling it is played by tests/support/cli_filling_disk.py, which grows
a filler file at the chosen moment while `planalign` runs exactly as a user runs it;
the run then meets a real "No space left on device" from dbt, DuckDB, a file copy or
openpyxl. Each case checks the exit code (2), that stderr is ONE paragraph naming the
step, the folder, its file system, the free space and what to free, and that after the
space is freed the next run leaves the workspace as a run that never failed.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from planalign_orchestrator.exceptions import DiskFullError
from planalign_orchestrator.export import write_workbook
from planalign_orchestrator.session import WorkspaceSession
from planalign_orchestrator.workspace import Workspace
from tests.conftest import ENSEMBLE_SEEDS, ENSEMBLE_YEARS, SmallFileSystem, copy_workspace
from tests.support.helpers import SUPPORT_DIR, assert_all_required_tables_have_rows, edit_config, query

pytestmark = pytest.mark.dbt

EXIT_ERROR = 2
YEAR_TABLES = ("fct_workforce_snapshot", "fct_yearly_events", "fct_year_plan")


def _planalign_filling_disk(
    fs: SmallFileSystem, when: str, *args: str, leave: int = 0
) -> subprocess.CompletedProcess[str]:
    """`planalign ARGS` while the disk is filled to `leave` free bytes at `when` (see cli_filling_disk.py)."""
    command = [sys.executable, str(SUPPORT_DIR / "cli_filling_disk.py"), str(fs.filler), str(leave), when, "--"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=300)


def _one_disk_full_paragraph(result: subprocess.CompletedProcess[str], fs: SmallFileSystem) -> str:
    """The run ended in exit 2 with one paragraph (what happened and where, then what to free); its first line."""
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_ERROR, output
    assert "Traceback" not in output, output
    assert "Logging error" not in output, output
    # Log records written before the fault (the bundled census has no balance columns, which
    # is logged as a warning) are not part of the paragraph the fault prints.
    logged = "Warning: "
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith(logged)]
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    assert lines[1].startswith("  To fix: Free "), result.stderr
    assert f"(file system mounted at {fs.root})" in lines[0]
    assert " free in " in lines[0]
    assert "move the workspace to a volume with more room; then run the same command again" in lines[1]
    return lines[0]


def _on_small_filesystem(template: Path, fs: SmallFileSystem) -> Workspace:
    return copy_workspace(template, fs.root / "workspace")


def _years_equal(db_path: Path, reference: Path, last_year: int) -> None:
    """Both databases hold the same rows of every year up to `last_year` (the reference may hold later ones)."""
    for table in YEAR_TABLES:
        sql = f'select * from main."{table}" where simulation_year <= {last_year} order by all'
        assert query(db_path, sql) == query(reference, sql), f"{table} differs from an uninterrupted run"


def _up_to_date(workspace: Workspace, first: int, last: int) -> None:
    status = WorkspaceSession(workspace).status()
    assert not status.tables_needing_build, status
    years = {year.year: year.state.value for year in status.years if first <= year.year <= last}
    assert years == dict.fromkeys(range(first, last + 1), "present"), years


# -- initialization --------------------------------------------------------------------------


def test_init_on_a_disk_with_less_room_than_it_needs_is_refused_naming_the_folder_and_what_is_free(
    small_filesystem,
) -> None:
    fs = small_filesystem(24)
    workspace = fs.root / "workspace"

    result = _planalign_filling_disk(fs, "never", "init", "--workspace", str(workspace))

    message = _one_disk_full_paragraph(result, fs)
    assert f"Not enough free disk space to initialize the workspace: {fs.free_bytes() / 1e6:.1f} MB free" in message
    assert f"free in {workspace} (file system mounted at {fs.root}), and it needs about 100 MB" in message
    assert "it was not started" in message
    assert not (workspace / "simulation.duckdb").exists()


def test_a_disk_filling_up_while_seeds_load_is_one_paragraph_and_the_next_init_heals(small_filesystem) -> None:
    fs = small_filesystem(112)  # above initialization's 100 MB minimum, so the seeds start loading
    workspace = fs.root / "workspace"

    result = _planalign_filling_disk(fs, "node", "init", "--workspace", str(workspace))

    message = _one_disk_full_paragraph(result, fs)
    assert "Initialization failed while loading seed data: The disk is full: dbt seed (seed " in message
    assert f"(No space left on device); 0 KB free in {workspace} (file system mounted at {fs.root})" in message
    assert message.endswith("(step 'load_seeds')")
    fs.free()
    healed = WorkspaceSession.open(workspace, create=False).initialize()
    assert healed.success
    assert_all_required_tables_have_rows(workspace / "simulation.duckdb")


# -- the yearly runs --------------------------------------------------------------------------


def test_a_disk_filling_up_during_a_year_is_one_paragraph_and_the_next_run_heals(
    small_filesystem, initialized_template: Path, simulated_template: Path
) -> None:
    fs = small_filesystem(64)
    workspace = _on_small_filesystem(initialized_template, fs)

    result = _planalign_filling_disk(fs, "year:2026", "simulate", "2025-2027", "--workspace", str(workspace.root))

    message = _one_disk_full_paragraph(result, fs)
    assert f"The disk is full: simulate 2026 stopped writing {workspace.database_path}.wal" in message
    assert "everything finished before it is kept" in message
    assert "      2025: 5,000 -> 5,150 active" in result.stdout
    fs.free()
    WorkspaceSession(workspace).simulate(2025, 2027)
    _years_equal(workspace.database_path, simulated_template / "simulation.duckdb", 2027)
    _up_to_date(workspace, 2025, 2027)


def test_a_disk_too_full_for_a_year_refuses_it_before_it_starts(small_filesystem, simulated_template: Path) -> None:
    """Finding 2 and 3 of issue 22: 0.6 MB and 6 MB free once every year is stale."""
    fs = small_filesystem(48)
    workspace = _on_small_filesystem(simulated_template, fs)
    workspace = edit_config(workspace, "plan.match_rate", 0.9)

    for free in (600_000, 6_000_000):
        fs.fill(free)
        result = _planalign_filling_disk(fs, "never", "simulate", "2025-2027", "--workspace", str(workspace.root))
        fs.free()

        message = _one_disk_full_paragraph(result, fs)
        assert "Not enough free disk space to simulate 2025: " in message
        assert "and it needs about 10.1 MB; it was not started" in message


def test_a_disk_filling_up_while_dbts_saved_parse_is_copied_is_one_paragraph_and_the_next_run_heals(
    small_filesystem, initialized_template: Path, simulated_template: Path
) -> None:
    fs = small_filesystem(64)
    workspace = _on_small_filesystem(initialized_template, fs)

    # A new process copies dbt's saved parse (about 1 MB) into the workspace before its first dbt run.
    result = _planalign_filling_disk(
        fs, "prepare", "simulate", "2025-2027", "--workspace", str(workspace.root), leave=100_000
    )

    message = _one_disk_full_paragraph(result, fs)
    assert "The disk is full: prepare dbt (copy its saved parse into the workspace) stopped writing " in message
    assert f"{workspace.root / 'target'}/.planalign-parse-" in message
    assert "partial_parse.msgpack (No space left on device)" in message
    fs.free()
    WorkspaceSession(workspace).simulate(2025, 2027)
    _years_equal(workspace.database_path, simulated_template / "simulation.duckdb", 2027)


def test_a_disk_filling_up_when_a_years_build_record_commits_reports_the_commit_not_the_rollback(
    small_filesystem, initialized_template: Path, simulated_template: Path
) -> None:
    fs = small_filesystem(64)
    workspace = _on_small_filesystem(initialized_template, fs)

    result = _planalign_filling_disk(fs, "record_year", "simulate", "2025-2027", "--workspace", str(workspace.root))

    message = _one_disk_full_paragraph(result, fs)
    assert f"The disk is full: simulate 2025 stopped writing {workspace.database_path}.wal" in message
    assert "rollback" not in result.stderr
    fs.free()
    WorkspaceSession(workspace).simulate(2025, 2027)
    _years_equal(workspace.database_path, simulated_template / "simulation.duckdb", 2027)
    _up_to_date(workspace, 2025, 2027)


# -- ensembles and exports ---------------------------------------------------------------------


def test_a_disk_filling_up_when_an_ensemble_is_stored_keeps_the_stored_one_and_the_next_run_heals(
    small_filesystem, ensemble_template: Path
) -> None:
    fs = small_filesystem(64)
    workspace = _on_small_filesystem(ensemble_template, fs)
    first, last = ENSEMBLE_YEARS
    metrics = "select * from main.ensemble_year_metrics order by all"
    before = query(workspace.database_path, metrics)

    result = _planalign_filling_disk(
        fs,
        "write_ensemble",
        "simulate",
        f"{first}-{last}",
        "--seeds",
        str(ENSEMBLE_SEEDS),
        "--workspace",
        str(workspace.root),
    )

    message = _one_disk_full_paragraph(result, fs)
    assert f"The disk is full: ensemble {first}-{last} stopped writing {workspace.database_path}.wal" in message
    assert not (workspace.root / ".planalign_ensemble").exists(), "a failed ensemble gives its scratch space back"
    assert query(workspace.database_path, metrics) == before, "the stored ensemble is left as it was"
    fs.free()
    WorkspaceSession(workspace).ensemble(first, last, seeds=ENSEMBLE_SEEDS)
    assert query(workspace.database_path, metrics) == before


def _frames(rows: int) -> dict[str, pd.DataFrame]:
    return {"numbers": pd.DataFrame({"employee": [f"E{n:07d}" for n in range(rows)], "pay": range(rows)})}


def test_a_workbook_for_a_disk_without_room_is_refused_before_a_byte_is_written(small_filesystem) -> None:
    fs = small_filesystem(8)
    fs.fill(200_000)
    target = fs.root / "results.xlsx"

    with pytest.raises(DiskFullError) as refused:
        write_workbook(target, _frames(1_000))

    free = f"{fs.free_bytes() / 1000:,.0f} KB"
    expected = f"Not enough free disk space to write the workbook results.xlsx: {free} free in {fs.root}"
    assert expected in str(refused.value)
    assert "or write it to a folder on a volume with more room; then run the same command again" in str(refused.value)
    assert sorted(path.name for path in fs.root.iterdir()) == ["filler"]


def test_a_disk_filling_up_while_a_workbook_is_written_leaves_no_half_workbook(
    small_filesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check before writing passed (it is disabled here) and the disk filled up after it, as another job would."""
    fs = small_filesystem(8)
    monkeypatch.setattr("planalign_orchestrator.export.require_free_space", lambda *args, **kwargs: None)
    fs.fill(64_000)
    target = fs.root / "results.xlsx"

    with pytest.raises(DiskFullError) as full:
        write_workbook(target, _frames(20_000))

    assert f"The disk is full: write the workbook results.xlsx stopped writing {target}" in str(full.value)
    assert f"(file system mounted at {fs.root})" in str(full.value)
    assert sorted(path.name for path in fs.root.iterdir()) == ["filler"], "no partial workbook is left behind"
    fs.free()
    write_workbook(target, _frames(20_000))
    assert pd.read_excel(target, index_col=0)["pay"].sum() == sum(range(20_000))


def test_a_run_exported_to_a_full_disk_from_a_notebook_says_so_and_writes_nothing(
    small_filesystem, simulated_workspace: Workspace
) -> None:
    fs = small_filesystem(8)
    fs.fill(100_000)
    session = WorkspaceSession(simulated_workspace)
    summary = session.simulate(2025, 2029)  # every year up to date: reused

    with pytest.raises(DiskFullError) as workbook:
        session.write_run_workbook(fs.root / "run.xlsx", summary, datetime.now(UTC))
    with pytest.raises(DiskFullError) as files:
        session.write_frames(fs.root / "exports", {"snapshot": session.snapshot()}, "parquet")

    assert "Not enough free disk space to write the workbook run.xlsx" in str(workbook.value)
    assert "Not enough free disk space to write snapshot.parquet" in str(files.value)
    assert not (fs.root / "run.xlsx").exists()
    assert list((fs.root / "exports").iterdir()) == []


def test_the_store_of_build_records_never_replaces_a_failed_commit_by_the_rollback_error(tmp_path: Path) -> None:
    """The rollback after a failed commit fails too ('no transaction is active'); the original error is raised."""
    from planalign_orchestrator.database import transaction

    conn = duckdb.connect(str(tmp_path / "x.duckdb"))
    conn.execute("create table t (x integer)")

    def commit_then_fail() -> None:
        with transaction(conn):
            conn.execute("insert into t values (1)")
            conn.execute("commit")  # the transaction ends here, as a commit DuckDB could not write ends it
            raise ValueError("the original failure")

    with pytest.raises(ValueError, match="the original failure") as raised:
        commit_then_fail()

    assert "cannot rollback - no transaction is active" in str(raised.value.__context__)
    assert any("The rollback after it failed too" in note for note in raised.value.__notes__)
    conn.close()
