"""Issue 26's acceptance on real dbt and DuckDB: a generated history's hazards recovered, backtested, run as a scenario.

One history per session (`planalign census history`, in-process): 20,000 employees
simulated 2025-2029 from known assumptions that differ from the workspace's defaults
(the termination rate, the tenure and age multipliers, the new-hire rate), six
year-end snapshots. The generating truth is read from its generator/hazards.parquet,
the model's own per-person probabilities, never from the code under test.
"""

from __future__ import annotations

import io
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from planalign_orchestrator.calibration.expected import CurrentAssumptions
from planalign_orchestrator.cli import main
from planalign_orchestrator.config import SimulationConfig
from planalign_orchestrator.exceptions import ConfigurationError, SimulationError
from planalign_orchestrator.session import WorkspaceSession
from planalign_orchestrator.tables import TableState
from planalign_orchestrator.workspace import Workspace
from tests.conftest import copy_workspace

pytestmark = pytest.mark.dbt

EMPLOYEES, YEARS, FIRST_YEAR, SEED = 20_000, 5, 2025, 7
TRUTH = {
    "workforce.termination_rate": "0.15",
    "workforce.new_hire_termination_rate": "0.3",
    "assumptions.tenure_termination_multipliers": "[2.4, 0.8, 0.5, 0.35, 0.25]",
    "assumptions.age_termination_multipliers": "[1.0, 1.4, 1.0, 1.2, 0.8, 1.0]",
}
BACKTEST_FROM, BACKTEST_SEEDS = 2026, 40


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated history (read-only: copy it to change a file)."""
    folder = tmp_path_factory.mktemp("calibration") / "history"
    assignments = [part for key, value in TRUTH.items() for part in ("--set", f"{key}={value}")]
    arguments = ["census", "history", "--employees", str(EMPLOYEES), "--years", str(YEARS)]
    arguments += ["--seed", str(SEED), "--first-year", str(FIRST_YEAR), "--out", str(folder), *assignments]
    with redirect_stdout(io.StringIO()):
        assert main(arguments) == 0
    return folder


@pytest.fixture(scope="session")
def refit(history: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[WorkspaceSession, object]:
    """A default workspace (on its bundled census) with the history fitted as scenario 'refit'."""
    session = WorkspaceSession.open(tmp_path_factory.mktemp("refit") / "workspace")
    result = session.fit(history, "refit")
    return session, result


def true_cell_rates(history: Path) -> pd.DataFrame:
    """The generating termination rate of each tenure band x age band: the mean of (1 - p_retire) x p_terminate."""
    hazards = pd.read_parquet(history / "generator" / "hazards.parquet")
    hazards = hazards[hazards["separation_type"].fillna("") != "census"]
    bands = CurrentAssumptions.of(SimulationConfig())
    return (
        hazards.assign(
            tenure_band=bands.tenure.label(hazards["tenure_at_start"]),
            age_band=bands.age.label(hazards["age"]),
            rate=(1 - hazards["retirement_probability"]) * hazards["termination_probability"],
        )
        .groupby(["tenure_band", "age_band"])
        .agg(true_rate=("rate", "mean"), people=("rate", "size"))
        .reset_index()
    )


# -- 1. the generating hazards are recovered; the refit backtests within its bands ---------


def test_the_true_termination_rate_lies_in_the_fitted_interval_for_90_percent_of_credible_cells(
    history: Path, refit: tuple[WorkspaceSession, object]
) -> None:
    _session, result = refit
    cells = result.cells.merge(true_cell_rates(history), on=["tenure_band", "age_band"], how="inner")
    credible = cells[~cells["small"]]
    inside = (credible["fitted_lower"] <= credible["true_rate"]) & (credible["true_rate"] <= credible["fitted_upper"])

    # the study's exposure is the generator's population, person-year for person-year
    assert (cells["exposure"] == cells["people"]).all()
    assert len(credible) >= 20, "most of the 30 cells have enough exposure at 20,000 employees"
    assert inside.mean() >= 0.90, credible.loc[~inside, ["tenure_band", "age_band", "true_rate", "fitted_rate"]]
    # the fit moved off the defaults toward the truth: the current assumption was 12%, the truth 15%
    changes = result.changes.set_index(["key", "item"])
    rate = changes.loc[("workforce.termination_rate", "")]
    assert rate["lower"] <= 0.15 <= rate["upper"]
    assert rate["current"] == 0.12
    tenure = changes.loc["assumptions.tenure_termination_multipliers", "fitted"].to_numpy()
    assert tenure[0] / tenure[1] == pytest.approx(2.4 / 0.8, rel=0.15)
    new_hires = changes.loc[("workforce.new_hire_termination_rate", "")]
    assert new_hires["lower"] <= 0.30 <= new_hires["upper"]


def test_the_refitted_scenarios_backtest_covers_70_to_95_percent_of_scored_cells(
    history: Path, refit: tuple[WorkspaceSession, object]
) -> None:
    session, _result = refit
    fitted = session.for_scenario("refit")

    result = fitted.backtest(history, BACKTEST_FROM, seeds=BACKTEST_SEEDS)

    assert (result.first_year, result.last_year) == (BACKTEST_FROM + 1, FIRST_YEAR + YEARS - 1)
    assert result.scored_cells == len(result.scorecard) == 3 * 17
    assert 0.70 <= result.coverage <= 0.95, result
    assert not (session.root / ".planalign_backtest").exists(), "the scratch workspace is removed"


# -- 3. the fitted scenario runs like any other; its freshness follows the history files ----


def test_the_fitted_scenario_simulates_compares_and_runs_an_ensemble(
    history: Path, initialized_template: Path, tmp_path: Path
) -> None:
    workspace = copy_workspace(initialized_template, tmp_path / "workspace")
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["fit", "--history", str(history), "-w", str(workspace.root), "--scenario", "fitted"]) == 0
        assert main(["simulate", "2025-2026", "-w", str(workspace.root), "--scenario", "fitted"]) == 0
        assert main(["simulate", "2025-2026", "-w", str(workspace.root)]) == 0
        assert main(["compare", "baseline", "fitted", "--years", "2025-2026", "-w", str(workspace.root)]) == 0
    printed = out.getvalue()
    assert "Fitted scenario 'fitted' from 6 snapshots (2024-12-31 .. 2029-12-31)" in printed
    assert "saved as scenarios/fitted.yaml" in printed
    assert "Δ fitted" in printed

    session = WorkspaceSession(workspace).for_scenario("fitted")
    ensemble = session.ensemble(2025, 2026, seeds=3, min_seeds=3)
    with duckdb.connect(str(workspace.database_path), read_only=True) as conn:
        rate = conn.execute(
            "select avg(experienced_terminations + retirements) / avg(headcount_start) from fct_year_metrics "
            "where scenario_id = 'fitted'"
        ).fetchone()[0]
    saved = yaml.safe_load((workspace.root / "scenarios" / "fitted.yaml").read_text())
    assert ensemble.n_seeds == 3
    assert set(ensemble.metrics["year"]) == {2025, 2026}
    assert rate == pytest.approx(saved["overrides"]["workforce.termination_rate"], abs=0.01)
    assert len(saved["fitted_from"]["history"]) == 6
    report = pd.read_csv(workspace.root / "scenarios" / "fitted.fit.csv")
    assert {"key", "item", "current", "fitted", "lower", "upper", "exposure", "events", "basis"} <= set(report.columns)


def test_a_fitted_scenarios_freshness_follows_its_history_files(
    history: Path, initialized_template: Path, tmp_path: Path
) -> None:
    own_history = tmp_path / "history"
    shutil.copytree(history, own_history)
    workspace = copy_workspace(initialized_template, tmp_path / "workspace")
    session = WorkspaceSession(workspace)
    session.fit(own_history, "fitted")
    fitted = session.for_scenario("fitted")
    fitted.simulate(2025, 2025)
    assert [year.state for year in fitted.status().years] == [TableState.PRESENT]

    changed = own_history / "census_2027-12-31.csv"
    original = changed.read_bytes()
    changed.write_bytes(original.replace(b",retirement\n", b",termination\n", 1))
    reopened = WorkspaceSession(Workspace.open(workspace.root, create=False)).for_scenario("fitted")

    [year] = reopened.status().years
    assert year.state is TableState.STALE
    assert "history file census_2027-12-31.csv changed since the fit" in year.reason
    info = {item.name: item for item in reopened.scenarios()}["fitted"]
    assert info.freshness.startswith("stale: history file census_2027-12-31.csv changed")
    printed = io.StringIO()
    with redirect_stdout(printed):
        assert main(["status", "-w", str(workspace.root), "--scenario", "fitted"]) == 1
    assert "Scenario fitted's fitted assumptions are stale: history file census_2027-12-31.csv changed" in (
        printed.getvalue()
    )
    with pytest.raises(ConfigurationError, match="fitted from a census history that changed since"):
        reopened.simulate(2025, 2025)
    with pytest.raises(SimulationError, match=r"history file census_2027-12-31\.csv changed"):
        reopened.compare(["fitted", "baseline"], 2025, 2025)

    changed.write_bytes(original)  # the history as it was fitted: current again
    restored = WorkspaceSession(Workspace.open(workspace.root, create=False)).for_scenario("fitted")
    assert [year.state for year in restored.status().years] == [TableState.PRESENT]


def test_nothing_is_overwritten_without_a_new_scenario_name(
    history: Path, refit: tuple[WorkspaceSession, object]
) -> None:
    session, _result = refit
    path = session.root / "scenarios" / "refit.yaml"
    before = path.read_bytes()

    with pytest.raises(ConfigurationError, match="exists already; a fit never overwrites"):
        session.fit(history, "refit")
    with pytest.raises(ConfigurationError, match="never overwritten"):
        session.with_assignments("refit", ["plan.match_rate=1.0"])

    assert path.read_bytes() == before
