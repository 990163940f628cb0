"""The notebook face on real workspaces: real DuckDB files, real dbt, no front-end.

Outside IPython the calls print their final record instead of displaying widgets,
so capsys reads what a static viewer would see.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from matplotlib.figure import Figure

import planalign_nb as nb
from planalign_nb.charts import TEXT
from planalign_nb.magics import load_ipython_extension, parse_years, planalign
from planalign_nb.rendering import RECORD_TIMINGS_ENV
from planalign_orchestrator.exceptions import ConfigurationError, DatabaseCorruptionError, SimulationError
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
    assert before[0] == f"1 of 10 required tables missing in {initialized_workspace.root.name}/"
    foundation = before[before.index("Foundation models") + 1 :]
    assert [line.split()[1] for line in foundation if "missing" in line] == ["int_employee_benefits"]
    assert not any("missing" in line for line in before[1 : before.index("Foundation models")])
    assert widget.last_result is not None
    assert widget.last_result.tables_created == ["int_employee_benefits"]
    assert widget.progress.steps == dict.fromkeys(widget.progress.steps, "done")
    assert "Created: int_employee_benefits" in widget.progress.snapshot().text
    assert widget.summary_line() == "All 10 required tables present"
    assert "  ✓ int_employee_benefits                present  5,000 rows" in widget.snapshot().text.splitlines()
    assert label == "Build 1 missing"
    assert widget.initialize_button.disabled is True
    assert widget.initialize_button.description == "Nothing to build"


@pytest.mark.dbt
def test_initialize_builds_a_new_workspace_given_as_a_path_and_records_each_steps_seconds(
    workspace: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(RECORD_TIMINGS_ENV)  # as an analyst runs it (the suite turns seconds off for nbval)

    result = nb.initialize(str(workspace.root))
    record = capsys.readouterr().out.splitlines()

    assert result.success
    assert len(result.tables_created) == 10
    assert record[0] == "Initialized: created 10 table(s)."
    assert [re.sub(r"\d+\.\d s$", "<s>", line) for line in record[1:5]] == [
        "  ✓ Checking database tables     done      <s>",
        "  ✓ Loading seed data            done      <s>",
        "  ✓ Building foundation models   done      <s>",
        "  ✓ Verifying initialization     done      <s>",
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
    assert f"To fix: Run `nb.initialize('{initialized_workspace.root.name}', recreate_corrupt=True)`" in failed_record
    assert str(initialized_workspace.root) not in failed_record
    assert recreated.backup_path is not None
    assert recreated.backup_path.exists()
    assert f"Unreadable database kept as: {recreated.backup_path.name}" in recreated_record
    failures = log[log["success"].eq(False)]
    assert failures["step_name"].tolist() == ["check_tables"]
    assert failures["error"].iloc[0].startswith("Database file simulation.duckdb is not a readable")
    completed = log[log["event"] == "step_completed"]
    assert "NaN" not in completed[["step_name", "success", "error"]].to_string()
    assert completed["success"].dtype == "boolean"
    assert str(log["started_at"].dtype).startswith("datetime64[")
    assert "UTC" in str(log["started_at"].dtype)


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
    assert run.summary["total_compensation"].dtype == "int64"
    assert run.summary.loc[2026, "growth_rate"] == round(run.simulation_summary.years[1].growth_rate, 4)
    assert "e+" not in run.summary.to_string()
    figure = run.plot()
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 2
    headcount_axis = figure.axes[0]
    assert headcount_axis.get_ylim()[0] > 0.9 * run.summary["headcount_end"].min(), "3% growth must be visible"
    transparency = (figure.get_facecolor()[3], headcount_axis.get_facecolor()[3])
    assert transparency == (0, 0), "no white block in the dark theme"
    labels = [text.get_color() for text in headcount_axis.texts]
    assert labels == [TEXT] * 2, "each year's growth, in a grey that reads on both themes"
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
    with pytest.raises(SimulationError) as raised:
        nb.simulate(workspace, 2027, 2025)
    record = capsys.readouterr().out
    [traceback] = raised.value._render_traceback_()  # what IPython prints below the panel: one line

    assert record.splitlines()[0] == "Simulation 2027-2025 failed"
    assert "Error: End year 2025 is before start year 2027." in record
    assert f"To fix: Pass the years in order: `nb.simulate('{workspace.root.name}', 2025, 2027)`." in record
    assert traceback.endswith(
        "SimulationError\x1b[0m: End year 2025 is before start year 2027. (what to do: see the panel above)"
    )


def test_status_magic_returns_the_status_widget_for_a_workspace_folder(workspace: Workspace) -> None:
    widget = planalign(f"status --workspace {workspace.root}")

    assert isinstance(widget, nb.TableStatusWidget)
    assert widget.summary_line() == "10 of 10 required tables missing"


def test_status_magic_in_a_folder_that_is_not_a_workspace_creates_nothing_and_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Acceptance 6: `%planalign status` in an empty folder (the notebook's own, say) writes no file."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    monkeypatch.chdir(folder)

    widget = planalign("status")
    record = widget.snapshot().text

    assert sorted(folder.rglob("*")) == []
    assert record.splitlines()[0] == "Table status unavailable for notebooks/"
    assert "Error: notebooks is not a PlanAlign workspace (no simulation_config.yaml)" in record
    assert "To fix: Run `nb.initialize('.')` to create one." in record
    assert widget.initialize_button.description == "Create the workspace and build"


def test_status_plan_and_step_log_on_a_missing_folder_write_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "not_yet"

    widget = nb.status(folder)
    with pytest.raises(ConfigurationError) as plan_refused:
        nb.plan(folder)
    with pytest.raises(ConfigurationError):
        nb.step_log(folder)

    assert not folder.exists()
    assert list(tmp_path.iterdir()) == []
    assert widget.summary_line() == "Table status unavailable"
    assert "not a PlanAlign workspace" in plan_refused.value._render_traceback_()[0]


@pytest.mark.dbt
def test_status_widget_recreates_a_corrupt_database_keeping_a_backup(initialized_workspace: Workspace) -> None:
    initialized_workspace.database_path.write_bytes(b"not a database " * 100)
    widget = nb.status(initialized_workspace)
    offered = widget.recreate_button.layout.display

    widget.recreate_button.click()
    widget.confirm_button.click()

    backups = sorted(path.name for path in initialized_workspace.root.glob("simulation.duckdb.corrupt-*"))
    assert offered is None
    assert len(backups) == 1
    assert widget.last_result is not None
    assert widget.last_result.backup_path.name == backups[0]
    assert widget.summary_line() == "All 10 required tables present"
    assert f"Unreadable database kept as: {backups[0]}" in widget.snapshot().text
    assert widget.recreate_button.layout.display == "none"


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
