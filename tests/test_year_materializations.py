"""The yearly models' own materializations (dbt/macros/year_materializations.sql), on real dbt and DuckDB.

A fact table holds every year of every scenario; a run replaces its own
(scenario, year) slice and nothing else, and a model whose columns changed brings the
table's columns in line without losing the other slices' rows (checked by a run's
first year; its later years run the same code). The project is a
private copy (the repository's dbt/ is never edited).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from planalign_orchestrator import factory
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.dbt_runner import DbtInvocation, DbtRunner
from planalign_orchestrator.exceptions import DbtError
from planalign_orchestrator.factory import create_dbt_runner
from planalign_orchestrator.pipeline.yearly_step import COLUMNS_CHECKED_VAR, run_year
from planalign_orchestrator.session import WorkspaceSession
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import copy_dbt_project, query

pytestmark = pytest.mark.dbt

PLAN_MODEL = "models/marts/fct_year_plan.sql"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = copy_dbt_project(tmp_path / "dbt")
    monkeypatch.setattr(factory, "dbt_project_dir", lambda: copy)
    return copy


def _columns(workspace: Workspace, table: str) -> dict[str, str]:
    rows = query(
        workspace.database_path,
        f"select column_name, data_type from duckdb_columns() where table_name = '{table}'",
    )
    return dict(rows)


def _rerun(workspace: Workspace, year: int) -> None:
    """Run one year as a new process would: parsing the project as it is now."""
    DbtRunner._manifests.clear()
    session = WorkspaceSession.open(workspace.root)
    run_year(create_dbt_runner(session.config, session.database_path), session.config, year)


def test_rerunning_a_year_replaces_only_its_slice(simulated_workspace: Workspace, project: Path) -> None:
    counts_before = query(
        simulated_workspace.database_path,
        "select simulation_year, count(*) from fct_workforce_snapshot group by all order by 1",
    )

    _rerun(simulated_workspace, 2027)

    counts_after = query(
        simulated_workspace.database_path,
        "select simulation_year, count(*) from fct_workforce_snapshot group by all order by 1",
    )
    assert counts_after == counts_before
    assert len(counts_after) == 5


def _years_per_row_group(workspace: Workspace, table: str) -> list[tuple[int, int, int]]:
    """(row group, first year, last year) from the storage's own min/max of simulation_year."""
    rows = query(
        workspace.database_path,
        f"select row_group_id, stats from pragma_storage_info('{table}')"
        " where column_name = 'simulation_year' and segment_type <> 'VALIDITY' order by 1",
    )
    return [(group, stats["min"], stats["max"]) for group, stats in rows]


def test_each_years_slice_keeps_row_groups_of_its_own_so_a_rerun_drops_them_whole(
    simulated_workspace: Workspace, project: Path
) -> None:
    groups_before = _years_per_row_group(simulated_workspace, "fct_workforce_snapshot")

    _rerun(simulated_workspace, 2027)

    groups_after = _years_per_row_group(simulated_workspace, "fct_workforce_snapshot")
    assert all(first == last for _, first, last in groups_before + groups_after)
    assert len(groups_after) == len(groups_before)
    assert sorted(first for _, first, _ in groups_after) == [2025, 2026, 2027, 2028, 2029]


def test_the_engines_connections_never_merge_row_groups_at_a_checkpoint(simulated_workspace: Workspace) -> None:
    manager = DatabaseConnectionManager(simulated_workspace.database_path)

    with manager.connection(read_only=True) as conn:
        setting = conn.execute("select current_setting('max_vacuum_tasks')").fetchone()

    assert setting == (0,)


def test_a_model_whose_columns_changed_keeps_the_other_years_rows(
    simulated_workspace: Workspace, project: Path
) -> None:
    model = project / PLAN_MODEL
    text = model.read_text()
    _add_a_column(project)

    _rerun(simulated_workspace, 2027)

    assert _columns(simulated_workspace, "fct_year_plan")["added_for_the_test"] == "BIGINT"
    rows = query(
        simulated_workspace.database_path,
        "select simulation_year, added_for_the_test from fct_year_plan order by 1",
    )
    assert rows == [(2025, None), (2026, None), (2027, 42), (2028, None), (2029, None)]

    model.write_text(text)
    _rerun(simulated_workspace, 2028)

    assert "added_for_the_test" not in _columns(simulated_workspace, "fct_year_plan")
    years = query(simulated_workspace.database_path, "select simulation_year from fct_year_plan order by 1")
    assert years == [(2025,), (2026,), (2027,), (2028,), (2029,)]


def _add_a_column(project: Path) -> None:
    model = project / PLAN_MODEL
    text = model.read_text()
    assert "    {{ sim_year }} as simulation_year,\n" in text, "fct_year_plan changed shape; update this test"
    model.write_text(
        text.replace(
            "    {{ sim_year }} as simulation_year,\n",
            "    {{ sim_year }} as simulation_year,\n    cast(42 as bigint) as added_for_the_test,\n",
            1,
        )
    )


def test_a_run_brings_the_columns_in_line_in_its_first_year_and_its_later_years_skip_the_check(
    simulated_workspace: Workspace, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_a_column(project)
    DbtRunner._manifests.clear()
    orchestrator = factory.create_orchestrator(simulated_workspace.config)
    passed: list[object] = []
    run = orchestrator.dbt_runner.run

    def recording_run(*args: Any, **kwargs: Any) -> DbtInvocation:  # the real run, its vars noted
        passed.append((kwargs.get("vars") or {}).get(COLUMNS_CHECKED_VAR))
        return run(*args, **kwargs)

    monkeypatch.setattr(orchestrator.dbt_runner, "run", recording_run)

    orchestrator.execute_multi_year_simulation(2025, 2029)

    assert passed == [None, True, True, True, True], "checked by the first year only"
    rows = query(simulated_workspace.database_path, "select simulation_year, added_for_the_test from fct_year_plan")
    assert sorted(rows) == [(year, 42) for year in range(2025, 2030)]


def test_a_year_told_its_columns_are_checked_does_not_check_them(simulated_workspace: Workspace, project: Path) -> None:
    # Why the engine passes the flag only after a first year of the same run: with it,
    # the table keeps its columns and the insert of a changed model fails.
    _add_a_column(project)
    DbtRunner._manifests.clear()
    session = WorkspaceSession.open(simulated_workspace.root)
    runner = create_dbt_runner(session.config, session.database_path)

    with pytest.raises(DbtError, match="added_for_the_test"):
        run_year(runner, session.config, 2027, columns_checked=True)

    assert "added_for_the_test" not in _columns(simulated_workspace, "fct_year_plan")
    run_year(runner, session.config, 2027)
    assert _columns(simulated_workspace, "fct_year_plan")["added_for_the_test"] == "BIGINT"
