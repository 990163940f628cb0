"""The notebook face on real workspaces: real DuckDB files, real dbt, no front-end.

Outside IPython the calls print their final record instead of displaying widgets,
so capsys reads what a static viewer would see.
"""

from __future__ import annotations

import duckdb
import pytest
from matplotlib.figure import Figure

import planalign_nb as nb
from planalign_nb.magics import load_ipython_extension, parse_years, planalign
from planalign_orchestrator.exceptions import DatabaseCorruptionError, SimulationError
from planalign_orchestrator.workspace import Workspace


def drop_table(workspace: Workspace, table: str) -> None:
    with duckdb.connect(str(workspace.database_path)) as connection:
        connection.execute(f"drop table {table}")


@pytest.mark.dbt
def test_status_widget_shows_the_dropped_foundation_table_and_initialize_missing_builds_only_it(
    initialized_workspace: Workspace,
) -> None:
    drop_table(initialized_workspace, "int_employee_benefits")
    widget = nb.status(initialized_workspace)
    before = widget.snapshot().text.splitlines()
    label = widget.initialize_button.description

    widget.initialize_button.click()

    assert widget.missing == []
    assert before[0] == f"Workspace {initialized_workspace.root.name}: 1 of 10 required tables missing"
    foundation = before[before.index("Foundation models") + 1 :]
    assert [line.split()[1] for line in foundation if "missing" in line] == ["int_employee_benefits"]
    assert not any("missing" in line for line in before[1 : before.index("Foundation models")])
    assert widget.last_result is not None
    assert widget.last_result.tables_created == ["int_employee_benefits"]
    assert widget.progress.node.value == "dbt node: model 1/1 int_employee_benefits"
    assert widget.summary_line() == "All 10 required tables present"
    assert widget.table_rows["int_employee_benefits"].value == "✓ int_employee_benefits · present · 5,000 rows"
    assert label == "Build 1 missing"
    assert widget.initialize_button.disabled is True
    assert widget.initialize_button.description == "Nothing to build"


@pytest.mark.dbt
def test_initialize_builds_a_new_workspace_given_as_a_path(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    result = nb.initialize(str(workspace.root))
    record = capsys.readouterr().out.splitlines()

    assert result.success
    assert len(result.tables_created) == 10
    assert record[0] == "Initialized: created 10 table(s)."
    assert record[1:5] == [
        "  ✓ Checking database tables     done",
        "  ✓ Loading seed data            done",
        "  ✓ Building foundation models   done",
        "  ✓ Verifying initialization     done",
    ]


@pytest.mark.dbt
def test_corrupt_database_fails_with_remediation_then_recreate_keeps_a_backup(
    initialized_workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    initialized_workspace.database_path.write_bytes(b"not a database " * 100)

    with pytest.raises(DatabaseCorruptionError):
        nb.initialize(initialized_workspace)
    failed_record = capsys.readouterr().out
    recreated = nb.initialize(initialized_workspace, recreate_corrupt=True)
    recreated_record = capsys.readouterr().out
    log = nb.step_log(initialized_workspace)

    assert "Error: Database file simulation.duckdb is not a readable DuckDB database" in failed_record
    assert "To fix: Run `planalign init --recreate`" in failed_record
    assert str(initialized_workspace.root) not in failed_record
    assert recreated.backup_path is not None
    assert recreated.backup_path.exists()
    assert f"Unreadable database kept as: {recreated.backup_path.name}" in recreated_record
    failures = log[log["success"].eq(False)]
    assert failures["step_name"].tolist() == ["check_tables"]
    assert failures["error"].iloc[0].startswith("Database file simulation.duckdb is not a readable")


@pytest.mark.dbt
def test_simulate_returns_summary_snapshot_events_and_a_plot(
    initialized_workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    run = nb.simulate(initialized_workspace, 2025, 2026)
    record = capsys.readouterr().out

    assert run.summary.index.tolist() == [2025, 2026]
    assert run.summary.loc[2025, "headcount_start"] == 5000
    assert sorted(run.snapshot["simulation_year"].unique()) == [2025, 2026]
    assert set(run.events["event_type"]) >= {"hire", "termination"}
    figure = run.plot()
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 2
    assert record.splitlines()[0] == "Simulation 2025-2026 completed: 2 of 2 years done"
    assert "Initialization" not in record  # the workspace was initialized: nothing to show


def test_simulate_reports_an_invalid_year_range_in_the_panel_and_raises(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SimulationError):
        nb.simulate(workspace, 2024, 2025)
    record = capsys.readouterr().out

    assert record.splitlines()[0] == "Simulation 2024-2025 failed: 0 of 2 years done"
    assert "Error: Start year 2024 is before the workspace's simulation.start_year 2025" in record
    assert "To fix: Simulate from 2025" in record


def test_simulate_reports_a_reversed_year_range_in_the_panel_and_raises(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SimulationError):
        nb.simulate(workspace, 2027, 2025)
    record = capsys.readouterr().out

    assert record.splitlines()[0] == "Simulation 2027-2025 failed: 0 of 0 years done"
    assert "Error: End year 2025 is before start year 2027." in record


def test_status_magic_returns_the_status_widget_for_a_workspace_folder(workspace: Workspace) -> None:
    widget = planalign(f"status --workspace {workspace.root}")

    assert isinstance(widget, nb.TableStatusWidget)
    assert widget.summary_line() == "10 of 10 required tables missing"


def test_magic_extension_registers_planalign_and_parses_year_ranges() -> None:
    registered = {}

    class Shell:
        def register_magic_function(self, function, magic_kind: str, magic_name: str) -> None:
            registered[(magic_kind, magic_name)] = function

    load_ipython_extension(Shell())  # type: ignore[arg-type]

    assert registered == {("line", "planalign"): planalign}
    assert parse_years("2025-2027") == (2025, 2027)
    assert parse_years("2026") == (2026, 2026)
    assert parse_years(None) == (None, None)
    with pytest.raises(Exception, match="years must look like 2025 or 2025-2027"):
        parse_years("2025..2027")
