"""Issue 21 in the engine and the terminal: what every face gets without running dbt.

A scenario is never replaced unasked, and says what would change; a comparison says
which simulated years it left out and why; the commands the terminal suggests work
when pasted; ensemble figures are formatted as `compare` formats them and name their
seeds.
"""

from __future__ import annotations

import io
import re
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime

import pandas as pd
import pytest

import planalign_nb as nb
from planalign_orchestrator.cli import main
from planalign_orchestrator.comparison import LeftOutYears
from planalign_orchestrator.ensemble.metrics import METRICS
from planalign_orchestrator.exceptions import ScenarioExistsError
from planalign_orchestrator.session import WorkspaceSession
from planalign_orchestrator.views import LEVERS, EnsembleResult
from planalign_orchestrator.workspace import Workspace


def test_saving_other_overrides_over_a_scenario_is_refused_saying_what_changes_unless_overwrite(
    workspace: Workspace,
) -> None:
    session = WorkspaceSession(workspace)
    session.for_scenario("safe_harbor", {"plan.match_rate": 1.0})
    saved = (workspace.root / "scenarios" / "safe_harbor.yaml").read_text()

    with pytest.raises(ScenarioExistsError) as refused:
        session.for_scenario("safe_harbor", {"plan.match_rate": 1.0, "workforce.termination_rate": 0.15})
    unchanged = (workspace.root / "scenarios" / "safe_harbor.yaml").read_text()
    again = session.for_scenario("safe_harbor", {"plan.match_rate": 1.0})
    replaced = session.for_scenario("safe_harbor", {"workforce.termination_rate": 0.15}, overwrite=True)

    assert unchanged == saved, "nothing is written when the save is refused"
    assert refused.value.changes == ("workforce.termination_rate: 0.12 (the config's) -> 0.15",)
    assert "already exists with other overrides" in refused.value.message
    assert "overwrite=True" in refused.value.remediation
    assert "--overwrite" in refused.value.remediation
    assert again.scenario.overrides == {"plan.match_rate": 1.0}, "the same overrides again change nothing"
    assert replaced.scenario.overrides == {"workforce.termination_rate": 0.15}
    assert [c.describe() for c in session.scenario_changes("safe_harbor", {"plan.match_rate": 0.8})] == [
        "workforce.termination_rate: 0.15 -> 0.12 (the config's)",
        "plan.match_rate: 0.5 (the config's) -> 0.8",
    ]


def test_the_terminal_and_the_notebook_refuse_the_same_overwrite(workspace: Workspace) -> None:
    WorkspaceSession(workspace).for_scenario("lean", {"plan.match_cap": 0.03})
    err = io.StringIO()
    root = str(workspace.root)

    with redirect_stderr(err):
        code = main(["simulate", "2025", "-w", root, "--scenario", "lean", "--set", "plan.match_cap=0.04"])
    with pytest.raises(ScenarioExistsError):
        nb.simulate(workspace.root, 2025, 2025, scenario="lean", overrides={"plan.match_cap": 0.04})

    assert code == 2
    assert "scenario 'lean' already exists with other overrides" in err.getvalue()
    assert "plan.match_cap: 0.03 -> 0.04" in err.getvalue()
    assert "--overwrite" in err.getvalue()
    assert "plan.match_cap: 0.03" in (workspace.root / "scenarios" / "lean.yaml").read_text()


def test_a_scenario_file_and_an_unknown_scenario_suggest_commands_with_their_years(workspace: Workspace) -> None:
    session = WorkspaceSession(workspace)
    session.for_scenario("high_match", {"plan.match_rate": 1.0})
    header = (workspace.root / "scenarios" / "high_match.yaml").read_text().splitlines()[1]
    err = io.StringIO()

    with redirect_stderr(err):
        code = main(["compare", "baseline", "nope", "-w", str(workspace.root)])

    assert "`planalign simulate 2025-2027 --scenario high_match`" in header
    assert code == 2
    assert "`planalign simulate 2025-2027 --scenario nope --set plan.match_rate=1.0`" in err.getvalue()


def test_status_suggests_commands_that_work_when_pasted(workspace: Workspace) -> None:
    out = io.StringIO()

    with redirect_stdout(out):
        code = main(["status", "-w", str(workspace.root)])

    assert code == 1
    suggestion = out.getvalue().splitlines()[-1]
    commands = re.findall(r"`([^`]+)`", suggestion)
    quoted = str(workspace.root)
    assert commands == [
        f"planalign simulate 2025-2027 --workspace {quoted}",
        f"planalign init --workspace {quoted}",
        f"planalign plan 2025-2027 --workspace {quoted}",
    ]


def test_a_comparison_says_which_years_it_left_out_and_why() -> None:
    """Item 6: baseline 2025-2027 and high_match 2025-2029, compared over the config's 2025-2027."""
    fresh = {"baseline": {2025, 2026, 2027}, "high_match": {2025, 2026, 2027, 2028, 2029}}

    lines = LeftOutYears.of(fresh, 2025, 2027, asked=False).lines()
    asked = LeftOutYears.of(fresh, 2025, 2026, asked=True).lines()
    nothing = LeftOutYears.of({"baseline": {2025}, "high_match": {2025}}, 2025, 2025, asked=False).lines()

    assert lines == [
        "Not compared: 2028-2029, outside 2025-2027, the config's simulation years (simulation.start_year/end_year).",
        "baseline has no up-to-date results for 2028-2029: simulate them with `planalign simulate 2025-2029` "
        "(or nb.simulate(ws, 2025, 2029)).",
        "Then compare 2025-2029: `planalign compare baseline high_match --years 2025-2029` "
        "(or nb.compare(ws, ['baseline', 'high_match'], 2025, 2029)).",
    ]
    assert asked == ["Not compared: 2027-2029, outside 2025-2026, the years asked for."]
    assert nothing == []


def ensemble(seeds: tuple[int, ...], min_seeds: int = 10) -> EnsembleResult:
    rows = []
    for seed in seeds:
        for year in (2025, 2026):
            row = {"seed": seed, "year": year, **dict.fromkeys(METRICS, 1000.0)}
            row.update(
                participation_rate=0.8078 + (seed - seeds[0]) / 10_000,
                employer_contributions=11_000_000.0 + seed * 1_000,
                headcount_end=5150.0,
                employer_cost_rate=0.0223,
            )
            rows.append(row)
    return EnsembleResult("baseline", seeds, 2025, 2026, pd.DataFrame(rows), datetime.now(UTC), min_seeds)


def test_ensemble_figures_read_as_compare_formats_them_and_name_the_seeds() -> None:
    result = ensemble(tuple(range(42, 54)))

    text = str(result).splitlines()
    html = result._repr_html_()
    full = result.table(full=True)

    assert text[1] == "Seeds: 42-53"
    assert text[2].split() == ["metric", "year", "P10", "P50", "P90"], "compact: three percentiles"
    participation = next(line for line in text if line.startswith("Participation") and " 2025 " in line)
    assert re.findall(r"\d+\.\d\d%", participation) == ["80.79%", "80.83%", "80.88%"]
    assert "$11,047,500" in str(result)
    assert not re.search(r"\b0\.8\d", html), "participation reads as a percentage, not a fraction"
    assert re.findall(r"<th[^>]*>([^<]*)</th>", html) == ["metric", "year", "P10", "P50", "P90"]
    assert "Seeds: 42-53" in html
    assert list(str(full).splitlines()[0].split())[2:] == [
        "mean",
        "std",
        "P10",
        "P25",
        "P50",
        "P75",
        "P90",
        "n",
    ]
    narrowed = result.table(full=True, metrics=["participation_rate"]).rows()
    assert [(label, year) for label, year, _ in narrowed] == [
        ("Participation (active, enrolled)", 2025),
        ("Participation (active, enrolled)", 2026),
    ]
    with pytest.raises(KeyError, match="unknown metric 'participation'"):
        result.table(metrics=["participation"])
    participation_full = next(row for row in full.rows() if row[0].startswith("Participation"))
    assert participation_full[2][1] == "0.04 pp", "a fraction's spread in percentage points"
    assert participation_full[2][-1] == "12"


def test_withheld_bands_read_withheld_and_a_seed_list_is_listed() -> None:
    result = ensemble((1, 5, 9), min_seeds=10)

    text = str(result)

    assert "Seeds: 1, 5, 9" in text
    assert "withheld" in text
    assert "0.00%" not in text


def test_every_lever_shows_the_range_its_config_accepts() -> None:
    """Item 4: opt-out accepts 0 up to, not including, 1; a range is never wider than the config's."""
    ranges = {lever.key: lever.range_text() for lever in LEVERS}

    assert ranges["plan.opt_out_rate"] == "0 ≤ x < 1"
    assert ranges["plan.match_rate"] == "0 ≤ x ≤ 1"
    assert ranges["plan.escalation_rate"] == "0 < x ≤ 0.05"
    assert ranges["simulation.target_growth_rate"] == "-1 < x < 1"
