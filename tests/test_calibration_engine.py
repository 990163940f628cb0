"""Table-valued assumptions in a scenario, on real dbt and DuckDB; and the calibration's arithmetic held to the model's.

One scenario replaces the tenure and age multipliers, the level factors, the
retirement rates and the promotion rates by level with lists; its first year is
simulated once (module fixture). The yearly model must use the lists, the
calibration's expected probabilities (calibration.expected) must equal the model's
own, person by person, and the backtest's figures (calibration.scoring) must equal
the metrics model's on the same rows. Rows are read with duckdb directly.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from planalign_orchestrator.calibration.expected import CurrentAssumptions
from planalign_orchestrator.calibration.scoring import year_figures
from planalign_orchestrator.exceptions import ConfigurationError
from planalign_orchestrator.session import WorkspaceSession
from planalign_orchestrator.tables import TableState
from tests.conftest import copy_workspace

pytestmark = pytest.mark.dbt

TABLES = {
    "assumptions.tenure_termination_multipliers": [3.0, 1.0, 0.6, 0.3, 0.2],
    "assumptions.age_termination_multipliers": [0.5, 1.5, 1.0, 2.0, 0.8, 1.0],
    "assumptions.level_termination_factors": [1.2, 1.0, 0.7, 0.5, 0.4],
    "assumptions.retirement_rates": [0.5] * 16,
    "assumptions.promotion_probabilities": [0.0, 0.0, 0.0, 0.5, 0.0],
    "workforce.termination_rate": 0.15,
}


@pytest.fixture(scope="module")
def tabled(initialized_template: Path, tmp_path_factory: pytest.TempPathFactory) -> WorkspaceSession:
    """The bundled census with the TABLES scenario simulated for 2025 (read-only)."""
    workspace = copy_workspace(initialized_template, tmp_path_factory.mktemp("tabled") / "workspace")
    session = WorkspaceSession(workspace).for_scenario("tabled", TABLES)
    session.simulate(2025, 2025)
    return session


def year_rows(session: WorkspaceSession) -> pd.DataFrame:
    with duckdb.connect(str(session.database_path), read_only=True) as conn:
        return conn.execute(
            "select employee_id, age, tenure_at_start, starting_level_id, level_id, is_promoted, "
            "retirement_probability, termination_probability, separation_type "
            "from int_yearly_experienced_changes where separation_type is distinct from 'census' order by employee_id"
        ).df()


def test_the_yearly_model_uses_a_scenarios_tables_as_the_calibration_computes_them(tabled: WorkspaceSession) -> None:
    rows = year_rows(tabled)
    people = pd.DataFrame(
        {"interval": 0, "age": rows["age"], "tenure": rows["tenure_at_start"], "level_id": rows["starting_level_id"]}
    )

    expected = CurrentAssumptions.of(tabled.config).experienced(people)

    assert expected["p_retire"].to_numpy() == pytest.approx(rows["retirement_probability"].to_numpy(), abs=1e-12)
    assert expected["p_terminate"].to_numpy() == pytest.approx(rows["termination_probability"].to_numpy(), rel=1e-9)
    assert set(rows.loc[rows["age"].between(55, 75), "retirement_probability"]) == {0.5}
    # the seed's own tables would give other probabilities: the lists are what ran
    seeded = CurrentAssumptions.of(WorkspaceSession(tabled.workspace).config).experienced(people)
    assert seeded["p_terminate"].to_numpy() != pytest.approx(rows["termination_probability"].to_numpy(), rel=0.001)


def test_promotion_rates_by_level_replace_the_comp_levers(tabled: WorkspaceSession) -> None:
    rows = year_rows(tabled)
    promoted = rows[rows["is_promoted"]]

    assert set(promoted["starting_level_id"]) == {4}
    level_4 = rows[rows["starting_level_id"] == 4]
    assert 0.35 < len(promoted) / len(level_4) < 0.65


def test_a_changed_table_makes_the_scenarios_years_stale_naming_the_key(
    tabled: WorkspaceSession, tmp_path: Path
) -> None:
    copy = copy_workspace(tabled.root, tmp_path / "copy")
    changed = dict(TABLES) | {"assumptions.tenure_termination_multipliers": [3.0, 1.0, 0.6, 0.3, 0.25]}

    status = WorkspaceSession(copy).for_scenario("tabled", changed, overwrite=True).status()

    [year] = status.years
    assert year.state is TableState.STALE
    assert "config assumptions.tenure_termination_multipliers changed" in year.reason
    assert "0.2] -> [3.0, 1.0, 0.6, 0.3, 0.25]" in year.reason


def test_a_table_whose_length_is_not_its_seeds_is_refused_naming_key_and_rows(tabled: WorkspaceSession) -> None:
    with pytest.raises(ConfigurationError) as caught:
        WorkspaceSession(tabled.workspace).scenario_config("short", {"assumptions.age_termination_multipliers": [1.0]})

    error = caught.value
    assert error.key == "assumptions.age_termination_multipliers"
    assert "config_age_bands has 6 row(s) (< 25, 25-34, 35-44, 45-54, 55-64, 65+)" in error.message
    assert "Give 6 values" in error.remediation


def test_a_value_out_of_bounds_is_refused_naming_its_position(tabled: WorkspaceSession) -> None:
    with pytest.raises(ConfigurationError) as caught:
        WorkspaceSession(tabled.workspace).scenario_config("wild", {"assumptions.retirement_rates": [0.1] * 15 + [1.5]})

    assert caught.value.key == "assumptions.retirement_rates"
    assert "value 16 must be a probability between 0 and 1 (got 1.5)" in caught.value.message


def test_the_backtests_figures_are_the_metrics_models_on_the_same_rows(tabled: WorkspaceSession) -> None:
    current = CurrentAssumptions.of(tabled.config)
    with duckdb.connect(str(tabled.database_path), read_only=True) as conn:
        figures = year_figures(
            conn,
            "(select * from fct_workforce_snapshot where scenario_id = 'tabled' and simulation_year = 2025)",
            2025,
            current.tenure,
            current.age,
        ).iloc[0]
        metrics = (
            conn.execute(
                "select headcount_end, hires, terminations, average_compensation, participation_rate "
                "from fct_year_metrics where scenario_id = 'tabled' and simulation_year = 2025"
            )
            .df()
            .iloc[0]
        )
        leavers = conn.execute(
            "select tenure_band, count(*) from fct_workforce_snapshot where scenario_id = 'tabled' "
            "and simulation_year = 2025 and employment_status = 'terminated' and not is_new_hire group by 1"
        ).fetchall()

    for column in ("headcount_end", "hires", "terminations", "average_compensation", "participation_rate"):
        assert figures[column] == pytest.approx(float(metrics[column]), rel=1e-12), column
    assert {band: figures[f"leavers_tenure:{band}"] for band, _ in leavers} == dict(leavers)


def test_salary_ranges_keep_their_base_year_when_a_run_starts_elsewhere(
    tabled: WorkspaceSession, tmp_path: Path
) -> None:
    """A backtest from another year's census keeps the seed's ranges where the workspace has them.

    With the base year 2027 the seed's ranges are those of 2026, so 2025's are the seed's
    moved back by 2026's COLA (comp_levers: 2.0%); with the default base (start_year 2025)
    the seed's are 2024's, moved forward by 2025's COLA (2.5%).
    """
    copy = copy_workspace(tabled.root, tmp_path / "copy")
    anchored = WorkspaceSession(copy).for_scenario("anchored", {"compensation.salary_range_base_year": 2027})
    anchored.simulate(2025, 2025)

    with duckdb.connect(str(copy.database_path), read_only=True) as conn:
        [(moved_back,)] = conn.execute(
            "select distinct level_range_min from fct_workforce_snapshot "
            "where scenario_id = 'anchored' and level_id = 1"
        ).fetchall()
        [(moved_on,)] = conn.execute(
            "select distinct level_range_min from fct_workforce_snapshot where scenario_id = 'tabled' and level_id = 1"
        ).fetchall()

    assert float(moved_back) == pytest.approx(round(40000 / 1.02, 2))
    assert float(moved_on) == pytest.approx(40000 * 1.025)
