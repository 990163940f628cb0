"""Scenarios (issue 11): named overrides of the config, results side by side, comparison, export.

Real dbt and real DuckDB files. A session template (tests/conftest.py) holds the
baseline and two scenarios simulated over the same years; tests that change it work
on a copy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from planalign_orchestrator.exceptions import ConfigurationError
from planalign_orchestrator.progress import NodeStarted, YearStarted
from planalign_orchestrator.session import WorkspaceSession
from planalign_orchestrator.tables import TableState
from planalign_orchestrator.workspace import Workspace
from tests.conftest import SCENARIO_YEARS as YEARS
from tests.support.helpers import EventRecorder, execute, query, sha256

pytestmark = pytest.mark.dbt


def _rows(db: Path, scenario: str, columns: str) -> list[tuple]:
    return query(
        db,
        f"select {columns} from main.fct_workforce_snapshot where scenario_id = ? "
        "order by simulation_year, employee_id",
        [scenario],
    )


def test_a_match_rate_scenario_changes_only_the_employer_contributions_as_the_formula_says(
    scenarios_template: Path,
) -> None:
    """Acceptance 1: match 0.5 -> 1.0: same people and deferrals; the match doubles unless 415(c) binds."""
    db = scenarios_template / "simulation.duckdb"

    assert _rows(db, "baseline", "simulation_year, employee_id, employment_status") == _rows(
        db, "high_match", "simulation_year, employee_id, employment_status"
    )
    assert _rows(db, "baseline", "employee_contribution") == _rows(db, "high_match", "employee_contribution")
    paired = query(
        db,
        "select b.simulation_year, b.employer_contribution, h.employer_contribution, "
        "b.limit_415c - b.base_deferral "
        "from main.fct_workforce_snapshot b join main.fct_workforce_snapshot h using (simulation_year, employee_id) "
        "where b.scenario_id = 'baseline' and h.scenario_id = 'high_match'",
    )
    assert {year for year, *_ in paired} == set(range(YEARS[0], YEARS[1] + 1))
    for _, base, high, room in paired:
        assert float(high) == pytest.approx(min(2 * float(base), float(room)), abs=0.011)
    assert any(float(high) > float(base) for _, base, high, _ in paired)


def test_scenarios_persist_and_a_new_process_reads_them_without_running_dbt(scenarios_template: Path) -> None:
    """Acceptance 2: a fresh process lists the scenarios and compares them; dbt is never imported."""
    code = f"""
import sys
from planalign_orchestrator.session import WorkspaceSession
session = WorkspaceSession.open({str(scenarios_template)!r}, create=False)
print([(i.name, i.freshness) for i in session.scenarios()])
comparison = session.compare(["baseline", "high_match"], {YEARS[0]}, {YEARS[1]})
print(comparison.table.loc[("employer_contributions", {YEARS[1]})].tolist())
print("dbt imported:", any(name == "dbt" or name.startswith("dbt.") for name in sys.modules))
"""
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    assert completed.returncode == 0, completed.stderr
    listed, employer, dbt = completed.stdout.strip().splitlines()
    assert "('high_match', '2025-2027 up to date')" in listed
    assert "('fast_growth', '2025-2027 up to date')" in listed
    base, high = json.loads(employer)
    assert high > base
    assert dbt == "dbt imported: False"


def test_deleting_one_scenarios_rows_heals_only_that_scenario(scenarios_workspace: Workspace) -> None:
    """Acceptance 2: only fast_growth's years are missing, and only they are simulated again."""
    for table in ("fct_workforce_snapshot", "fct_yearly_events"):
        execute(scenarios_workspace.database_path, f"delete from main.{table} where scenario_id = 'fast_growth'")
    session = WorkspaceSession(scenarios_workspace)
    assert {y.state for y in session.for_scenario("fast_growth").status().years} == {TableState.MISSING}
    assert {y.state for y in session.status().years} == {TableState.PRESENT}
    recorder = EventRecorder()

    session.for_scenario("fast_growth").simulate(*YEARS, on_progress=recorder)
    session.simulate(*YEARS, on_progress=recorder)
    session.for_scenario("high_match").simulate(*YEARS, on_progress=recorder)

    started = [(e.scenario, e.year) for e in recorder.of_type(YearStarted)]
    assert started == [("fast_growth", year) for year in range(YEARS[0], YEARS[1] + 1)]
    assert {event.step_name for event in recorder.of_type(NodeStarted)} == {"simulate"}, (
        "only yearly models ran: no seed or foundation table was rebuilt"
    )


def test_scenarios_with_the_same_census_and_start_year_share_one_foundation_build(scenarios_template: Path) -> None:
    """Acceptance 3: after the baseline built seeds and foundation, a scenario costs one dbt run per year."""
    invocations = json.loads((scenarios_template / "invocations.json").read_text())
    years = YEARS[1] - YEARS[0] + 1

    assert invocations["baseline"]["dbt"] == years
    for name in ("high_match", "fast_growth"):
        assert invocations[name]["dbt"] == years, name
        assert not set(invocations[name]["nodes"]) & {
            "comp_levers",
            "int_baseline_workforce",
            "int_employee_benefits",
        }, name


def test_the_exported_workbook_holds_the_comparison_frames(scenarios_template: Path, tmp_path: Path) -> None:
    """Acceptance 5: openpyxl opens it; its sheets hold the DataFrames' values."""
    comparison = WorkspaceSession.open(scenarios_template, create=False).compare(
        ["baseline", "high_match", "fast_growth"], *YEARS
    )

    path = comparison.to_excel(tmp_path / "comparison.xlsx")

    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["comparison", "deltas", "metrics", "config", "overrides", "metadata"]
    sheet = book["metrics"]
    header = [cell.value for cell in sheet[1]]
    records = {(row[0], row[1]): dict(zip(header, row, strict=True)) for row in sheet.iter_rows(2, values_only=True)}
    for row in comparison.metrics.itertuples(index=False):
        stored = records[(row.scenario, row.year)]
        assert stored["headcount_end"] == row.headcount_end
        assert stored["employer_contributions"] == pytest.approx(row.employer_contributions)
    overrides = {(row[0], row[1]): row[2] for row in book["overrides"].iter_rows(2, values_only=True)}
    assert overrides[("high_match", "plan.match_rate")] == 1.0
    metadata = {row[0]: row[1] for row in book["metadata"].iter_rows(2, values_only=True)}
    assert metadata["high_match.random_seed"] == 42
    assert len(metadata[f"high_match.{YEARS[1]}.input_fingerprint"]) == 64


@pytest.mark.parametrize(
    ("overrides", "key", "fix"),
    [
        ({"plan.match_rat": 1.0}, "plan.match_rat", "Did you mean 'plan.match_rate'?"),
        ({"plan.match_rate": 7}, "plan.match_rate", "Set plan.match_rate to a number >= 0.0 and <= 1.0."),
        ({"plan.match_rate": "lots"}, "plan.match_rate", "Set plan.match_rate to a number"),
        ({"paths.census": "other.csv"}, "paths.census", "Set paths.census in simulation_config.yaml"),
    ],
    ids=["unknown-key", "out-of-range", "wrong-type", "shared-input"],
)
def test_a_bad_override_is_refused_before_anything_is_written(
    scenarios_workspace: Workspace, overrides: dict, key: str, fix: str
) -> None:
    """Acceptance 6: the key, the value and the fix; no scenario file, the database byte-identical."""
    before = sha256(scenarios_workspace.database_path)

    with pytest.raises(ConfigurationError) as refused:
        WorkspaceSession(scenarios_workspace).for_scenario("bad_idea", overrides)

    assert refused.value.key == key
    assert repr(overrides[key]) in refused.value.message
    assert fix in refused.value.remediation
    assert not (scenarios_workspace.root / "scenarios" / "bad_idea.yaml").exists()
    assert sha256(scenarios_workspace.database_path) == before


def test_the_cli_runs_a_scenario_with_set_and_compares_it(scenarios_workspace: Workspace, planalign_cli) -> None:
    """`--scenario NAME --set key=value` saves and runs it; `planalign compare` prints the table."""
    root = str(scenarios_workspace.root)

    run = planalign_cli(
        "simulate", "2025-2025", "--workspace", root, "--scenario", "lean", "--set", "plan.match_cap=0.03"
    )
    compared = planalign_cli("compare", "baseline", "lean", "--years", "2025-2025", "--workspace", root)

    assert run.returncode == 0, run.stderr
    assert "Scenario lean: plan.match_cap=0.03" in run.stdout
    assert (scenarios_workspace.root / "scenarios" / "lean.yaml").read_text().count("plan.match_cap: 0.03") == 1
    assert compared.returncode == 0, compared.stderr
    assert "Employer contributions" in compared.stdout
    assert "Δ lean" in compared.stdout


def test_a_runs_workbook_and_its_csv_and_parquet_exports_hold_its_frames(
    scenarios_workspace: Workspace, tmp_path: Path
) -> None:
    """A scenario's run: summary, metrics, config, overrides and metadata sheets; snapshot and events files."""
    import pandas as pd

    from planalign_nb.results import SimulationResult

    session = WorkspaceSession(scenarios_workspace).for_scenario("high_match")
    run = SimulationResult(session.simulate(*YEARS), session)

    book = openpyxl.load_workbook(run.to_excel(tmp_path / "run.xlsx"))
    csv_files = run.export(tmp_path / "csv", format="csv")
    parquet_files = run.export(tmp_path / "parquet")

    assert book.sheetnames == ["summary", "metrics", "config", "overrides", "metadata"]
    summary = {row[0]: row for row in book["summary"].iter_rows(2, values_only=True)}
    header = [cell.value for cell in book["summary"][1]]
    for year, row in run.summary.iterrows():
        assert summary[year][header.index("employer_contributions")] == pytest.approx(row.employer_contributions)
    config = {row[0]: row[1] for row in book["config"].iter_rows(2, values_only=True)}
    assert config["plan.match_rate"] == 1.0
    assert list(book["overrides"].iter_rows(2, values_only=True)) == [("plan.match_rate", 1)]
    metadata = {row[0]: row[1] for row in book["metadata"].iter_rows(2, values_only=True)}
    assert metadata["scenario"] == "high_match"
    assert len(metadata[f"{YEARS[0]}.input_fingerprint"]) == 64
    assert [path.name for path in csv_files] == ["high_match_snapshot.csv", "high_match_events.csv"]
    assert len(pd.read_csv(csv_files[0])) == len(run.snapshot)
    pd.testing.assert_frame_equal(pd.read_parquet(parquet_files[1]), run.events, check_dtype=False)


def test_compare_says_which_simulated_years_it_left_out_and_why(scenarios_workspace: Workspace) -> None:
    """Issue 21, item 6: high_match runs a year past the config's; compare names it instead of hiding it."""
    from contextlib import redirect_stdout
    from io import StringIO

    from planalign_orchestrator.cli import main

    WorkspaceSession(scenarios_workspace).for_scenario("high_match").simulate(YEARS[0], YEARS[1] + 1)
    out = StringIO()

    with redirect_stdout(out):
        code = main(["compare", "baseline", "high_match", "-w", str(scenarios_workspace.root)])

    text = out.getvalue()
    extra = YEARS[1] + 1
    assert code == 0, text
    assert text.splitlines()[2].split() == [str(year) for year in range(YEARS[0], YEARS[1] + 1)]
    assert f"Not compared: {extra}, outside {YEARS[0]}-{YEARS[1]}, the config's simulation years" in text
    assert (
        f"baseline has no up-to-date results for {extra}: simulate them with "
        f"`planalign simulate {YEARS[0]}-{extra}` (or nb.simulate(ws, {YEARS[0]}, {extra}))." in text
    )
    assert f"`planalign compare baseline high_match --years {YEARS[0]}-{extra}`" in text
