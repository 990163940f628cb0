"""Freshness (issue 9): stale tables and years are detected, shown and rebuilt, never silently used.

Real dbt and real DuckDB files throughout. Each story changes one input of a built
workspace, then checks three things: the status names what is stale and why, the
next run rebuilds exactly that (the plan said so beforehand), and the results equal
those of a fresh workspace given the changed inputs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.freshness.state import SCHEMA
from planalign_orchestrator.progress import NodeStarted, YearFinished, YearStarted
from planalign_orchestrator.self_healing.table_checker import TableExistenceChecker
from planalign_orchestrator.session import WorkspaceSession
from planalign_orchestrator.tables import REQUIRED_TABLES, TableState
from planalign_orchestrator.workspace import Workspace
from tests.conftest import SIMULATED_YEARS
from tests.support.helpers import (
    ALL_REQUIRED,
    SIMULATION_TABLES,
    EventRecorder,
    assert_same_results,
    copy_dbt_project,
    edit_config,
    execute,
    has_marker_row,
    initializer_for,
    put_marker_row,
    query,
    sha256,
)

pytestmark = pytest.mark.dbt

FOUNDATION = [t.name for t in REQUIRED_TABLES if t.tier.value == "foundation"]
YEARS = list(range(SIMULATED_YEARS[0], SIMULATED_YEARS[1] + 1))


def _stale(status_items: list) -> dict:
    """Table name (or year) -> why, for everything that needs a build."""
    return {
        (item.table.name if hasattr(item, "table") else item.year): item.explanation
        for item in status_items
        if item.state.needs_build
    }


def _run(workspace: Workspace, first: int, last: int) -> tuple[list[str], list[int], EventRecorder]:
    """Simulate first..last; the dbt nodes built during initialization and the years simulated."""
    recorder = EventRecorder()
    create_orchestrator(workspace.config, on_progress=recorder).execute_multi_year_simulation(first, last)
    built = [event.node_name for event in recorder.of_type(NodeStarted) if event.step_name != "simulate"]
    simulated = [event.year for event in recorder.of_type(YearStarted)]
    return built, simulated, recorder


def _fresh_reference(tmp_path: Path, workspace: Workspace, first: int, last: int) -> Path:
    """A brand-new workspace with the same config and census, simulated first..last."""
    root = tmp_path / "reference"
    root.mkdir()
    shutil.copy(workspace.config_path, root / workspace.config_path.name)
    shutil.copy(workspace.config.census_path, root / workspace.config.paths.census)
    reference = Workspace.open(root, create=False)
    create_orchestrator(reference.config).execute_multi_year_simulation(first, last)
    return reference.database_path


def _cut_census(workspace: Workspace, employees: int) -> None:
    census = workspace.config.census_path
    lines = census.read_text().splitlines(keepends=True)
    census.write_text("".join(lines[: employees + 1]))


# -- the three stories -----------------------------------------------------------------


def test_story1_a_cut_census_makes_the_foundation_and_years_stale_and_is_rebuilt(
    simulated_workspace: Workspace, tmp_path: Path
) -> None:
    """Cutting the census to 2,000 employees: foundation and years stale, rebuilt, equal to fresh."""
    _cut_census(simulated_workspace, 2_000)
    session = WorkspaceSession(simulated_workspace)

    status = session.status()

    stale_tables = _stale(status.tables)
    assert sorted(stale_tables) == sorted(FOUNDATION)
    assert "census.csv changed since the build on" in stale_tables["int_baseline_workforce"]
    assert sorted(_stale(status.years)) == YEARS
    plan = session.plan(YEARS[0], YEARS[0])
    assert plan.tables_to_build == FOUNDATION

    built, simulated, recorder = _run(simulated_workspace, YEARS[0], YEARS[0])

    assert sorted(built) == sorted(FOUNDATION)
    assert simulated == [YEARS[0]] == plan.years_to_run
    [finished] = recorder.of_type(YearFinished)
    assert finished.summary.headcount_start == 2_000
    after = session.status()
    assert not after.tables_needing_build
    assert [y.year for y in after.years_needing_run] == YEARS[1:]
    reference = _fresh_reference(tmp_path, simulated_workspace, YEARS[0], YEARS[0])
    assert_same_results(simulated_workspace.database_path, reference, ALL_REQUIRED)
    only_first = f"select * from main.{{}} where simulation_year = {YEARS[0]} order by all"
    for table in SIMULATION_TABLES:
        mine = query(simulated_workspace.database_path, only_first.format(table))
        assert mine == query(reference, only_first.format(table)), table


def test_story2_a_changed_match_rate_makes_what_reads_it_stale_and_is_rebuilt(
    simulated_workspace: Workspace, tmp_path: Path
) -> None:
    """Changing plan.match_rate: every table and year whose build reads it is stale, then rebuilt."""
    changed = edit_config(simulated_workspace, "plan.match_rate", 1.0)
    session = WorkspaceSession(changed)

    status = session.status()

    readers = {name for name, record in _build_records(changed).items() if "match_rate" in record}
    stale_tables = _stale(status.tables)
    assert set(stale_tables) == readers
    stale_years = _stale(status.years)
    assert sorted(stale_years) == YEARS, "every year computes the match"
    for why in [*stale_tables.values(), stale_years[YEARS[0]]]:
        assert "config plan.match_rate changed (0.5 -> 1.0)" in why
    plan = session.plan(*SIMULATED_YEARS)

    built, simulated, _ = _run(changed, *SIMULATED_YEARS)

    assert sorted(built) == sorted(readers) == sorted(plan.tables_to_build)
    assert simulated == YEARS == plan.years_to_run
    assert session.status().up_to_date
    reference = _fresh_reference(tmp_path, changed, *SIMULATED_YEARS)
    assert_same_results(changed.database_path, reference, ALL_REQUIRED + SIMULATION_TABLES)


def test_story3_rerunning_a_year_with_a_changed_rate_makes_every_later_year_stale(
    simulated_workspace: Workspace, tmp_path: Path
) -> None:
    """termination_rate 0.20, then 2026 alone: 2025 re-runs first; 2027+ stale until re-run."""
    changed = edit_config(simulated_workspace, "workforce.termination_rate", 0.20)
    second = YEARS[1]

    built, simulated, _ = _run(changed, second, second)

    assert built == []
    assert simulated == [YEARS[0], second], "2025 was stale (it reads termination_rate), so it re-runs first"
    status = WorkspaceSession(changed).status()
    stale_years = _stale(status.years)
    assert sorted(stale_years) == YEARS[2:]
    assert f"year {second} changed since the build on" in stale_years[YEARS[2]]
    plan = WorkspaceSession(changed).plan(*SIMULATED_YEARS)
    assert plan.years_to_run == YEARS[2:]

    _, simulated, recorder = _run(changed, *SIMULATED_YEARS)

    assert simulated == YEARS[2:] == plan.years_to_run
    assert [e.year for e in recorder.of_type(YearFinished) if e.reused] == YEARS[:2]
    reference = _fresh_reference(tmp_path, changed, *SIMULATED_YEARS)
    assert_same_results(changed.database_path, reference, ALL_REQUIRED + SIMULATION_TABLES)
    for year in YEARS[1:]:
        starters = query(
            changed.database_path,
            "select count(*) from main.fct_workforce_snapshot s where simulation_year = ? and not is_new_hire "
            "and employee_id not in (select employee_id from main.fct_workforce_snapshot "
            "where simulation_year = ? and employment_status = 'active')",
            [year, year - 1],
        )[0][0]
        assert starters == 0, f"{year}'s starters must be {year - 1}'s survivors"


# -- seeds, touched census, start year, plan, legacy ---------------------------------------


def test_a_changed_seed_csv_rebuilds_that_seed_and_its_downstream_foundation_only(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Acceptance 2: a corrected salary range rebuilds the seed and the models downstream of it.

    (The IRS limits seed is read by the yearly models only, so it would rebuild the seed alone.)
    """
    project = copy_dbt_project(tmp_path / "dbt")
    assert initializer_for(workspace, project_dir=project).ensure_initialized().success
    put_marker_row(workspace.database_path, "config_tenure_bands")
    levels = project / "seeds" / "config_job_levels.csv"
    levels.write_text(levels.read_text().replace("1,Staff,40000,80000,", "1,Staff,40000,82000,"))
    recorder = EventRecorder()

    result = initializer_for(workspace, project_dir=project, on_progress=recorder).ensure_initialized()

    downstream = ["config_job_levels", *FOUNDATION]
    assert sorted(e.node_name for e in recorder.of_type(NodeStarted)) == sorted(downstream)
    assert result.missing_tables_found == []
    assert "seed config_job_levels.csv changed" in result.stale_tables_found["config_job_levels"]
    assert (
        "upstream config_job_levels, int_baseline_workforce changed"
        in (result.stale_tables_found["int_employee_compensation_by_year"])
    )
    assert has_marker_row(workspace.database_path, "config_tenure_bands")


def test_touching_the_census_without_changing_its_bytes_rebuilds_nothing(simulated_workspace: Workspace) -> None:
    """Acceptance 3: same content, new mtime: nothing stale, nothing built, every year reused."""
    census = simulated_workspace.config.census_path
    stat = census.stat()
    os.utime(census, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))

    assert WorkspaceSession(simulated_workspace).status().up_to_date
    built, simulated, recorder = _run(simulated_workspace, *SIMULATED_YEARS)

    assert built == []
    assert simulated == []
    assert all(event.reused for event in recorder.of_type(YearFinished))


def test_a_changed_start_year_rebuilds_the_foundation_instead_of_failing(simulated_workspace: Workspace) -> None:
    """Acceptance 4: start_year 2025 -> 2026: the foundation is stale, rebuilt, and 2026 simulates."""
    changed = edit_config(simulated_workspace, "simulation.start_year", 2026)
    status = WorkspaceSession(changed).status()
    assert sorted(_stale(status.tables)) == sorted(FOUNDATION)
    assert "config simulation.start_year changed (2025 -> 2026)" in _stale(status.tables)["int_baseline_workforce"]

    built, simulated, _ = _run(changed, 2026, 2027)

    assert sorted(built) == sorted(FOUNDATION)
    assert simulated == [2026, 2027]
    assert query(changed.database_path, "select distinct baseline_year from main.int_baseline_workforce") == [(2026,)]
    years = {y.year: y for y in WorkspaceSession(changed).status().years}
    assert years[2025].state is TableState.STALE
    assert "before simulation.start_year 2026" in years[2025].explanation


def test_plan_lists_exactly_what_simulate_builds_and_leaves_the_database_byte_identical(
    simulated_workspace: Workspace,
) -> None:
    """Acceptance 5: plan == what the following simulate builds; the file is unchanged by plan."""
    _cut_census(simulated_workspace, 3_000)
    database = simulated_workspace.database_path
    before = sha256(database)

    plan = WorkspaceSession(simulated_workspace).plan(2025, 2027)

    assert sha256(database) == before
    assert not database.with_name(database.name + ".wal").exists()
    built, simulated, _ = _run(simulated_workspace, 2025, 2027)
    assert sorted(built) == sorted(plan.tables_to_build)
    assert simulated == plan.years_to_run == [2025, 2026, 2027]


def test_an_empty_seed_exists_for_the_contract_is_empty_for_the_status_and_is_reloaded(
    initialized_workspace: Workspace,
) -> None:
    """Acceptance 6: the contract's methods mean existence; the wider status says empty."""
    execute(initialized_workspace.database_path, "delete from main.comp_levers")
    checker = TableExistenceChecker(DatabaseConnectionManager(initialized_workspace.database_path))

    assert checker.is_initialized()
    assert checker.get_missing_tables() == []
    statuses = {s.table.name: s for s in WorkspaceSession(initialized_workspace).status().tables}
    assert statuses["comp_levers"].state is TableState.EMPTY

    result = initializer_for(initialized_workspace).ensure_initialized()

    assert result.tables_created == ["comp_levers"]
    assert query(initialized_workspace.database_path, "select count(*) > 0 from main.comp_levers") == [(True,)]


def test_a_workspace_without_build_state_reports_unknown_and_the_next_run_rebuilds_saying_why(
    simulated_workspace: Workspace,
) -> None:
    """Acceptance 7: a database of the previous release is 'unknown', rebuilt once, then tracked."""
    execute(simulated_workspace.database_path, f"drop schema {SCHEMA} cascade")
    session = WorkspaceSession(simulated_workspace)

    status = session.status()

    assert {s.state for s in status.tables} == {TableState.UNKNOWN}
    assert {y.state for y in status.years} == {TableState.UNKNOWN}
    assert "earlier release" in status.tables[0].explanation
    built, simulated, recorder = _run(simulated_workspace, *SIMULATED_YEARS)
    assert sorted(built) == sorted(ALL_REQUIRED)
    assert simulated == YEARS
    [finished] = [e for e in recorder.events if type(e).__name__ == "InitializationFinished"]
    assert all(why.startswith("unknown: no build state") for why in finished.result.stale_tables_found.values())
    assert session.status().up_to_date


def test_status_of_a_stale_workspace_exits_1_naming_the_input(simulated_workspace: Workspace, planalign_cli) -> None:
    """The CLI's status exits 1 when anything is stale, and says which input changed."""
    _cut_census(simulated_workspace, 2_000)

    completed = planalign_cli("status", "--workspace", str(simulated_workspace.root))

    assert completed.returncode == 1, completed.stdout
    assert "int_baseline_workforce" in completed.stdout
    assert "stale" in completed.stdout
    assert "census.csv changed since the build on" in completed.stdout
    assert "dbt" not in completed.stderr


def _build_records(workspace: Workspace) -> dict[str, str]:
    rows = query(workspace.database_path, f"select table_name, recipe from {SCHEMA}.table_builds")
    return dict(rows)


def test_a_year_whose_metrics_row_is_gone_is_missing_and_the_next_run_rebuilds_it(
    simulated_workspace: Workspace,
) -> None:
    execute(simulated_workspace.database_path, "delete from main.fct_year_metrics where simulation_year = 2027")
    session = WorkspaceSession(simulated_workspace)

    status = {year.year: year for year in session.status().years}
    recorder = EventRecorder()
    session.simulate(2025, 2027, on_progress=recorder)

    assert status[2027].state is TableState.MISSING
    assert "fct_year_metrics" in status[2027].explanation
    assert [event.year for event in recorder.of_type(YearStarted)] == [2027]
    assert query(simulated_workspace.database_path, "select count(*) from main.fct_year_metrics")[0][0] == 5
