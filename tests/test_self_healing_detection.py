"""Detection and partial healing (acceptance points 1-4).

Every test runs the real AutoInitializer with real dbt against a real DuckDB file and
inspects the file directly with duckdb afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from planalign_orchestrator.initialization import InitializationState
from planalign_orchestrator.progress import NodeStarted
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import (
    ALL_REQUIRED,
    STANDARD_STEP_NAMES,
    EventRecorder,
    assert_all_required_tables_have_rows,
    execute,
    has_marker_row,
    initializer_for,
    put_marker_row,
    row_count,
    table_names,
)


def _make_empty_duckdb_file(path: Path) -> None:
    duckdb.connect(str(path)).close()


def _make_zero_byte_file(path: Path) -> None:
    path.touch()


# -- point 1 ------------------------------------------------------------------------


@pytest.mark.dbt
@pytest.mark.parametrize(
    "prepare",
    [None, _make_empty_duckdb_file, _make_zero_byte_file],
    ids=["no-database-file", "empty-duckdb-database", "zero-byte-file"],
)
def test_point1_fresh_database_is_fully_initialized(workspace: Workspace, prepare) -> None:
    """Point 1: no file, an empty DuckDB database or a 0-byte file all end COMPLETED with 10 tables."""
    db_path = workspace.database_path
    if prepare is not None:
        prepare(db_path)
        assert db_path.exists()

    result = initializer_for(workspace).ensure_initialized()

    assert result.state is InitializationState.COMPLETED
    assert result.success
    assert result.missing_tables_found == ALL_REQUIRED
    assert result.tables_created == ALL_REQUIRED
    assert [step.name for step in result.steps] == STANDARD_STEP_NAMES
    for step in result.steps:
        assert step.success, step
        assert step.started_at is not None, step
        assert step.completed_at is not None, step
        assert step.duration_seconds is not None, step
        assert step.duration_seconds >= 0, step
    assert result.duration_seconds is not None
    assert result.duration_seconds > 0
    assert_all_required_tables_have_rows(db_path)


# -- point 2 ------------------------------------------------------------------------


@pytest.mark.dbt
def test_point2_dropped_foundation_table_is_rebuilt_alone(initialized_workspace: Workspace) -> None:
    """Point 2: only int_employee_benefits is built; a marker row in a seed proves nothing was reloaded."""
    db_path = initialized_workspace.database_path
    put_marker_row(db_path, "config_age_bands")
    execute(db_path, "drop table main.int_employee_benefits")
    recorder = EventRecorder()

    result = initializer_for(initialized_workspace, on_progress=recorder).ensure_initialized()

    assert result.state is InitializationState.COMPLETED
    assert result.missing_tables_found == ["int_employee_benefits"]
    assert result.tables_created == ["int_employee_benefits"]
    assert [e.node_name for e in recorder.of_type(NodeStarted)] == ["int_employee_benefits"]
    assert has_marker_row(db_path, "config_age_bands")
    assert row_count(db_path, "int_employee_benefits") == row_count(db_path, "int_baseline_workforce")


@pytest.mark.dbt
def test_point2_present_dependents_of_a_rebuilt_model_are_left_alone(initialized_workspace: Workspace) -> None:
    """Point 2 (partial healing): rebuilding a parent does not rebuild its present children."""
    db_path = initialized_workspace.database_path
    execute(
        db_path,
        "drop table main.int_employee_compensation_by_year",
        # A marker only a rebuild of int_employee_benefits would remove.
        "update main.int_employee_benefits set deferral_rate = 0.5 where employee_id = "
        "(select min(employee_id) from main.int_employee_benefits)",
    )
    recorder = EventRecorder()

    result = initializer_for(initialized_workspace, on_progress=recorder).ensure_initialized()

    assert result.tables_created == ["int_employee_compensation_by_year"]
    assert [e.node_name for e in recorder.of_type(NodeStarted)] == ["int_employee_compensation_by_year"]
    marked = "select count(*) from main.int_employee_benefits where deferral_rate = 0.5"
    assert duckdb.connect(str(db_path), read_only=True).execute(marked).fetchone()[0] == 1


# -- point 3 ------------------------------------------------------------------------


@pytest.mark.dbt
@pytest.mark.parametrize(
    "damage",
    ["drop table main.config_job_levels", "delete from main.config_job_levels"],
    ids=["dropped", "emptied"],
)
def test_point3_dropped_or_emptied_seed_is_reloaded_alone(initialized_workspace: Workspace, damage: str) -> None:
    """Point 3: a dropped seed, or one with all rows deleted, is the only table reloaded.

    A dropped seed is missing (the contract's word); an emptied one exists, so it is
    reported apart, as empty, and reloaded all the same.
    """
    db_path = initialized_workspace.database_path
    expected_rows = row_count(db_path, "config_job_levels")
    put_marker_row(db_path, "config_tenure_bands")
    execute(db_path, damage)
    recorder = EventRecorder()

    result = initializer_for(initialized_workspace, on_progress=recorder).ensure_initialized()

    assert result.state is InitializationState.COMPLETED
    if damage.startswith("drop"):
        assert result.missing_tables_found == ["config_job_levels"]
        assert result.stale_tables_found == {}
    else:
        assert result.missing_tables_found == []
        assert result.stale_tables_found == {"config_job_levels": "empty: exists but holds no rows"}
    assert result.tables_created == ["config_job_levels"]
    assert [e.node_name for e in recorder.of_type(NodeStarted)] == ["config_job_levels"]
    assert has_marker_row(db_path, "config_tenure_bands")
    assert row_count(db_path, "config_job_levels") == expected_rows > 0


# -- point 4 ------------------------------------------------------------------------


def test_point4_initialized_workspace_is_a_no_op(initialized_workspace: Workspace) -> None:
    """Point 4: COMPLETED, nothing missing, nothing created, only the check step ran."""
    before = table_names(initialized_workspace.database_path)
    recorder = EventRecorder()

    result = initializer_for(initialized_workspace, on_progress=recorder).ensure_initialized()

    assert result.state is InitializationState.COMPLETED
    assert result.missing_tables_found == []
    assert result.tables_created == []
    assert [step.name for step in result.steps] == ["check_tables"]
    assert recorder.of_type(NodeStarted) == []
    assert table_names(initialized_workspace.database_path) == before


def test_point4_no_op_check_does_not_import_dbt(initialized_workspace: Workspace, run_python) -> None:
    """Point 4: in a fresh interpreter, the no-op path never imports dbt."""
    code = f"""
import json, sys
from planalign_orchestrator.factory import create_orchestrator
orchestrator = create_orchestrator({str(initialized_workspace.root)!r})
result = orchestrator.auto_initializer.ensure_initialized()
print(json.dumps({{
    "state": result.state.value,
    "missing": result.missing_tables_found,
    "dbt_modules": sorted(m for m in sys.modules if m == "dbt" or m.startswith("dbt.")),
}}))
"""
    completed = run_python(code, timeout=60)

    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report == {"state": "completed", "missing": [], "dbt_modules": []}


@pytest.mark.dbt
@pytest.mark.parametrize(
    "damage",
    ["drop table main.int_employee_benefits", "delete from main.config_age_bands"],
    ids=["dropped-by-another-process", "emptied-by-another-process"],
)
def test_repeated_checks_notice_damage_done_after_the_last_check(
    initialized_workspace: Workspace, run_python, damage: str
) -> None:
    """The no-op check skips DuckDB while the file is unchanged; any write makes it look again."""
    initializer = initializer_for(initialized_workspace)
    assert initializer.ensure_initialized().missing_tables_found == []
    assert initializer.ensure_initialized().missing_tables_found == []
    damaged = run_python(
        f"import duckdb; duckdb.connect({str(initialized_workspace.database_path)!r}).execute({damage!r})"
    )
    assert damaged.returncode == 0, damaged.stderr

    result = initializer.ensure_initialized()

    assert len(result.tables_created) == 1
    assert_all_required_tables_have_rows(initialized_workspace.database_path)
