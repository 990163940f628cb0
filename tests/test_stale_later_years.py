"""A run that re-simulates a year later years stand on says they are stale now, and how to refresh them.

After a config change, simulating 2025-2026 of a workspace that has 2025-2029 replaces
2025 and 2026; 2027-2029 were built on the old 2026, and nothing refreshes them until
the range reaches them. Both faces end the run with a warning naming those years and
the call that brings them up to date.
"""

from __future__ import annotations

import pytest

import planalign_nb as nb
from planalign_orchestrator.cli import main
from planalign_orchestrator.pipeline.results import SimulationSummary, YearSummary
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import edit_config_sections


def test_the_summary_names_the_stale_later_years_and_the_command_that_refreshes_them() -> None:
    summary = SimulationSummary(
        (YearSummary(2026, {"target_headcount": 1, "headcount_end": 1, "irs_limits_estimated": False}),),
        "high_match",
        (2027, 2028),
    )

    assert summary.warnings == [
        "2027-2028 are now stale: simulated before on the earlier 2026 this run replaced. "
        "Run `planalign simulate 2026-2028 --scenario high_match` to bring them up to date."
    ]


@pytest.mark.dbt
def test_planalign_simulate_of_an_earlier_range_warns_that_later_years_are_stale(
    simulated_workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_config_sections(simulated_workspace, plan={"match_rate": 0.75})

    code = main(["simulate", "2025-2026", "-w", str(simulated_workspace.root)])

    out = capsys.readouterr().out
    assert code == 0
    assert (
        "Warning: 2027-2029 are now stale: simulated before on the earlier 2026 this run replaced. "
        "Run `planalign simulate 2025-2029` to bring them up to date."
    ) in out


@pytest.mark.dbt
def test_nb_simulate_of_an_earlier_range_warns_in_its_view_with_the_notebook_call(
    simulated_workspace: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    edit_config_sections(simulated_workspace, plan={"match_rate": 0.75})
    monkeypatch.chdir(simulated_workspace.root.parent)

    run = nb.simulate(simulated_workspace.root.name, 2025, 2026)

    record = capsys.readouterr().out
    assert run.simulation_summary.stale_later_years == (2027, 2028, 2029)
    assert (
        "Warning: 2027-2029 are now stale: simulated before on the earlier 2026 this run replaced. "
        f"Run `nb.simulate('{simulated_workspace.root.name}', 2025, 2029)` to bring them up to date."
    ) in record


@pytest.mark.dbt
def test_a_run_that_changes_nothing_later_says_nothing(
    simulated_workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["simulate", "2025-2026", "-w", str(simulated_workspace.root)])

    assert code == 0
    assert "stale" not in capsys.readouterr().out
