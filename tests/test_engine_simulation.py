"""The multi-year simulation on real dbt and a real DuckDB file (issue 2, acceptance 1-4)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from planalign_orchestrator.config import CONFIG_FILE_NAME
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.dbt_runner import DbtRunner
from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.pipeline.results import SimulationSummary, workforce_snapshot, yearly_events
from planalign_orchestrator.progress import YearStarted
from planalign_orchestrator.workspace import Workspace
from tests.conftest import SIMULATED_YEARS, copy_workspace

pytestmark = pytest.mark.dbt

GROWTH_TOLERANCE_PP = 0.5
TERMINATION_TOLERANCE_PP = 1.5


def _db(workspace: Workspace) -> DatabaseConnectionManager:
    return DatabaseConnectionManager(workspace.database_path)


def _query(workspace: Workspace, sql: str) -> pd.DataFrame:
    return _db(workspace).fetch_df(sql)


def _summary_frame(workspace: Workspace) -> pd.DataFrame:
    from planalign_orchestrator.pipeline.results import SimulationSummary, year_summaries

    years = year_summaries(_db(workspace), "baseline", 2025, 2029)
    return SimulationSummary(tuple(years[y] for y in range(2025, 2030))).to_dataframe()


def _assert_aggregates_on_target(workspace: Workspace) -> None:
    config = workspace.config
    summary = _summary_frame(workspace)
    target_pct = config.simulation.target_growth_rate * 100
    assert (summary["growth_rate"] * 100 - target_pct).abs().max() <= GROWTH_TOLERANCE_PP
    realised = (summary["experienced_terminations"] + summary["retirements"]) / summary["headcount_start"] * 100
    target_terms = config.workforce.termination_rate * 100
    assert (realised - target_terms).abs().max() <= TERMINATION_TOLERANCE_PP


def _set_seed(workspace: Workspace, seed: int) -> Workspace:
    raw = yaml.safe_load(workspace.config_path.read_text())
    raw["simulation"]["random_seed"] = seed
    workspace.config_path.write_text(yaml.safe_dump(raw))
    return Workspace.open(workspace.root, create=False)


@dataclass(frozen=True)
class SecondRun:
    workspace: Workspace
    summary: SimulationSummary
    parses: int
    invocations: int


@pytest.fixture(scope="module")
def second_run(initialized_template: Path, tmp_path_factory: pytest.TempPathFactory) -> SecondRun:
    """The default config simulated 2025-2029 again on a copy of the initialized template, dbt's parses counted.

    The session's simulated template is the first such run. This one starts with no
    parsed manifest in the process, so it shows how often a run parses the project.
    """
    from dbt.parser.manifest import ManifestLoader

    workspace = copy_workspace(initialized_template, tmp_path_factory.mktemp("second_run") / "workspace")
    parses: list[int] = []
    real_get_full_manifest = ManifestLoader.get_full_manifest.__func__

    def counting_get_full_manifest(cls, *args, **kwargs):
        parses.append(1)
        return real_get_full_manifest(cls, *args, **kwargs)

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(ManifestLoader, "get_full_manifest", classmethod(counting_get_full_manifest))
        monkeypatch.setattr(DbtRunner, "_manifests", {})
        invocations_before = DbtRunner.invocation_count
        summary = create_orchestrator(workspace.config).execute_multi_year_simulation(*SIMULATED_YEARS)
        invocations = DbtRunner.invocation_count - invocations_before
    return SecondRun(workspace, summary, len(parses), invocations)


def test_five_year_run_returns_one_summary_row_per_year(second_run: SecondRun) -> None:
    frame = second_run.summary.to_dataframe()
    assert list(frame.index) == [2025, 2026, 2027, 2028, 2029]
    assert {
        "headcount_start",
        "headcount_end",
        "hires",
        "terminations",
        "promotions",
        "growth_rate",
        "total_compensation",
        "average_compensation",
        "employee_contributions",
        "employer_contributions",
    } <= set(frame.columns)
    assert (frame["headcount_end"].iloc[:-1].values == frame["headcount_start"].iloc[1:].values).all()


def test_growth_and_termination_rates_hit_their_targets(simulated_workspace: Workspace) -> None:
    _assert_aggregates_on_target(simulated_workspace)


def test_no_employee_is_terminated_twice(simulated_workspace: Workspace) -> None:
    repeated = _query(
        simulated_workspace,
        """
        select employee_id, count(*) as terminations from main.fct_yearly_events
        where event_type = 'termination' group by 1 having count(*) > 1
    """,
    )
    assert repeated.empty, repeated.head()


def test_hires_are_paid_inside_their_levels_range_of_the_year(simulated_workspace: Workspace) -> None:
    hires = _query(
        simulated_workspace,
        """
        select e.simulation_year, e.employee_id, e.new_compensation,
               s.level_range_min as min_compensation, s.level_range_max as max_compensation
        from main.fct_yearly_events e join main.fct_workforce_snapshot s using (simulation_year, employee_id)
        where e.event_type = 'hire'
    """,
    )
    assert len(hires) > 1_000
    outside = hires[
        (hires.new_compensation < hires.min_compensation) | (hires.new_compensation > hires.max_compensation)
    ]
    assert outside.empty, outside.head()


def test_contributions_never_exceed_irs_limits_in_any_year(simulated_workspace: Workspace) -> None:
    per_year = _query(
        simulated_workspace,
        """
        select s.simulation_year,
               count(*) filter (where s.base_deferral > p.limit_402g + 0.01) as over_402g,
               count(*) filter (where s.catch_up_contribution > 0
                                and s.age < (select min(catch_up_age) from main.irs_contribution_limits))
                   as young_catch_up,
               count(*) filter (where s.catch_up_contribution > s.catch_up_limit + 0.01
                                or s.catch_up_limit > coalesce(p.enhanced_catch_up_limit, p.catch_up_limit))
                   as over_catch_up,
               count(*) filter (where s.base_deferral + s.employer_contribution > p.limit_415c + 0.01)
                   as over_415c,
               count(*) filter (where s.employee_contribution > 0) as contributors
        from main.fct_workforce_snapshot s
        join main.fct_year_plan p using (simulation_year)
        group by 1 order by 1
    """,
    )
    assert list(per_year.simulation_year) == list(range(2025, 2030))
    assert (per_year.contributors > 0).all()
    assert per_year[["over_402g", "young_catch_up", "over_catch_up", "over_415c"]].to_numpy().sum() == 0


def test_same_config_and_seed_give_identical_results(simulated_workspace: Workspace, second_run: SecondRun) -> None:
    for read in (workforce_snapshot, yearly_events):
        pd.testing.assert_frame_equal(read(_db(simulated_workspace)), read(_db(second_run.workspace)))


def test_rerunning_a_year_replaces_its_rows(simulated_workspace: Workspace) -> None:
    counts_sql = """
        select (select count(*) from main.fct_workforce_snapshot) as snapshot_rows,
               (select count(*) from main.fct_yearly_events) as event_rows
    """
    before = _query(simulated_workspace, counts_sql)
    orchestrator = create_orchestrator(simulated_workspace.config)

    orchestrator.execute_multi_year_simulation(2027, 2027)

    pd.testing.assert_frame_equal(_query(simulated_workspace, counts_sql), before)


def test_another_seed_changes_outcomes_but_keeps_aggregates_on_target(
    simulated_workspace: Workspace, initialized_workspace: Workspace
) -> None:
    reseeded = _set_seed(initialized_workspace, 4242)

    create_orchestrator(reseeded.config).execute_multi_year_simulation(*SIMULATED_YEARS)

    terminated_sql = (
        "select employee_id from main.fct_yearly_events where event_type = 'termination' "
        "and simulation_year = 2025 order by 1"
    )
    assert not _query(reseeded, terminated_sql).equals(_query(simulated_workspace, terminated_sql))
    _assert_aggregates_on_target(reseeded)


def test_five_year_simulation_parses_the_project_at_most_once(second_run: SecondRun) -> None:
    assert second_run.parses == 1
    assert second_run.invocations == 5


def test_a_later_year_first_simulates_the_years_it_needs(initialized_workspace: Workspace) -> None:
    orchestrator = create_orchestrator(initialized_workspace.config)
    started = []
    orchestrator.subscribe(lambda event: started.append(event) if isinstance(event, YearStarted) else None)

    summary = orchestrator.execute_multi_year_simulation(2027, 2028)

    assert [event.year for event in started] == [2025, 2026, 2027, 2028]
    assert started[0].reason == "not simulated yet (year 2027 needs it)"
    assert [year.year for year in summary.years] == [2027, 2028]


def test_census_path_with_a_quote_is_read_safely(tmp_path: Path) -> None:
    workspace = Workspace.open(tmp_path / "it's a 'quoted' folder")

    summary = create_orchestrator(workspace.config).execute_multi_year_simulation(2025, 2025)

    assert summary.years[0].headcount_start == 5_000


def test_config_levers_reach_the_simulation(initialized_workspace: Workspace) -> None:
    raw = yaml.safe_load((initialized_workspace.root / CONFIG_FILE_NAME).read_text())
    raw["simulation"]["target_growth_rate"] = 0.10
    raw["workforce"]["termination_rate"] = 0.05
    (initialized_workspace.root / CONFIG_FILE_NAME).write_text(yaml.safe_dump(raw))
    workspace = Workspace.open(initialized_workspace.root, create=False)

    summary = create_orchestrator(workspace.config).execute_multi_year_simulation(2025, 2026)

    for year in summary.years:
        assert abs(year.growth_rate * 100 - 10.0) <= GROWTH_TOLERANCE_PP
        leavers = year["experienced_terminations"] + year["retirements"]
        assert abs(leavers / year.headcount_start * 100 - 5.0) <= TERMINATION_TOLERANCE_PP


def test_workspaces_are_independent(initialized_template: Path, tmp_path: Path) -> None:
    first = copy_workspace(initialized_template, tmp_path / "first")
    second = copy_workspace(initialized_template, tmp_path / "second")

    create_orchestrator(first.config).execute_multi_year_simulation(2025, 2025)

    assert _query(first, "select count(*) as n from main.fct_workforce_snapshot").n[0] > 0
    tables = _query(second, "select table_name from information_schema.tables")
    assert "fct_workforce_snapshot" not in set(tables.table_name)
    assert (first.root / "target").is_dir()
    assert not (second.root / "target").exists()
