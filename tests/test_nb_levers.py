"""nb.levers: the main levers as controls, validated by the config's rules, run as a scenario."""

from __future__ import annotations

import pytest

import planalign_nb as nb
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import sha256


def test_an_invalid_lever_is_refused_with_the_configs_message_and_run_is_disabled(workspace: Workspace) -> None:
    levers = nb.levers(workspace, scenario="rich")

    levers.controls["plan.match_rate"].value = 7.0
    refused = levers.run_button.disabled
    message = "\n".join(levers.error.text_lines()) if levers.error else ""
    outcome = levers.run()

    assert refused
    assert "plan.match_rate" in message
    assert "Set plan.match_rate to a number >= 0.0 and <= 1.0." in message
    assert outcome is None
    assert not (workspace.root / "scenarios").exists(), "nothing is written for a refused value"
    assert not workspace.database_path.exists()


def test_a_bad_scenario_name_or_overriding_the_baseline_is_refused_before_run(workspace: Workspace) -> None:
    levers = nb.levers(workspace)
    levers.controls["plan.opt_out_rate"].value = 0.2

    levers.name.value = "Q3 draft"
    bad_name = levers.error.message if levers.error else ""
    levers.name.value = "baseline"
    baseline = levers.error.message if levers.error else ""
    levers.name.value = "q3_draft"

    assert bad_name == "invalid scenario name 'Q3 draft'"
    assert baseline.startswith("the baseline is the workspace's own simulation_config.yaml")
    assert levers.error is None
    assert levers.run_button.disabled is False


def test_a_tiered_match_formula_replaces_the_single_tier_and_shows_in_the_record(workspace: Workspace) -> None:
    levers = nb.levers(workspace, scenario="safe_harbor")

    levers.match_formula.value = "safe_harbor"
    levers.controls["plan.auto_escalation"].value = False

    assert levers.overrides() == {
        "plan.match_tiers": [{"rate": 1.0, "up_to": 0.03}, {"rate": 0.5, "up_to": 0.05}],
        "plan.auto_escalation": False,
    }
    assert levers.controls["plan.match_rate"].disabled
    assert levers.error is None
    record = levers.snapshot().text.splitlines()
    assert "  Match formula            One tier: match rate x deferrals up to the match cap" in record
    assert "  Auto-escalation          on" in record, "the record shows the values of the config until a run"


def test_plan_rule_levers_offer_the_configs_choices_and_refuse_what_the_law_does(workspace: Workspace) -> None:
    levers = nb.levers(workspace, scenario="wait_and_vest")

    schedule = levers.controls["vesting.schedule"]
    levers.controls["eligibility.service_requirement"].value = "one_year"
    levers.controls["eligibility.entry_dates"].value = "quarterly"
    schedule.value = "cliff"
    too_long = "\n".join(levers.error.text_lines()) if levers.error else ""
    levers.controls["vesting.schedule_years"].value = 3
    levers.controls["forfeitures.used_for"].value = "reallocation"

    assert schedule.options == ("immediate", "cliff", "graded", "custom")
    assert "vesting.schedule_years" in too_long
    assert "411(a)(2)(A)" in too_long
    assert levers.error is None
    assert levers.run_button.disabled is False
    assert levers.overrides() == {
        "eligibility.service_requirement": "one_year",
        "eligibility.entry_dates": "quarterly",
        "vesting.schedule": "cliff",
        "vesting.schedule_years": 3,
        "forfeitures.used_for": "reallocation",
    }
    record = levers.snapshot().text.splitlines()
    assert "  Vesting schedule         immediate" in record, "the record shows the config's values until a run"
    assert "  Minimum age              0" in record


@pytest.mark.dbt
def test_run_saves_the_scenario_simulates_it_and_compares_it_with_the_baseline(
    scenarios_workspace: Workspace,
) -> None:
    levers = nb.levers(scenarios_workspace, scenario="richer")
    levers.controls["plan.match_rate"].value = 1.0
    before = sha256(scenarios_workspace.config_path)

    comparison = levers.run()

    assert comparison is not None
    assert (scenarios_workspace.root / "scenarios" / "richer.yaml").read_text().count("plan.match_rate: 1.0") == 1
    assert sha256(scenarios_workspace.config_path) == before, "the baseline's config is never edited"
    deltas = comparison.deltas
    assert (deltas.loc["headcount_end", ("richer", "abs")] == 0).all()
    assert (deltas.loc["employer_contributions", ("richer", "abs")] > 0).all()
    record = levers.snapshot()
    assert "  Match rate               100.00%" in record.text.splitlines()
    assert "Employer cost (% of pay)" in record.html
