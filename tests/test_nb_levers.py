"""nb.levers: the main levers as controls, validated by the config's rules, run as a scenario."""

from __future__ import annotations

import pytest

import planalign_nb as nb
from planalign_orchestrator.session import WorkspaceSession
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


def test_a_saved_scenario_reopens_with_its_values_and_runs_nothing(workspace: Workspace) -> None:
    """Issue 21, item 3: the controls come back without a run (its comparison too, once its years are up to date)."""
    WorkspaceSession(workspace).for_scenario(
        "safe_harbor", {"plan.match_tiers": [{"rate": 1.0, "up_to": 0.03}, {"rate": 0.5, "up_to": 0.05}]}
    )

    levers = nb.levers(workspace, scenario="safe_harbor")
    record = levers.snapshot()

    assert levers.match_formula.value == "safe_harbor"
    assert levers.overrides() == {"plan.match_tiers": [{"rate": 1.0, "up_to": 0.03}, {"rate": 0.5, "up_to": 0.05}]}
    assert levers.comparison is None, "its years were never simulated"
    assert not workspace.database_path.exists(), "opening the levers ran nothing"
    assert "  Match formula            100% of the first 3% + 50% of the next 2% of pay deferred" in record.text
    assert record.text.splitlines()[-1] == (
        f"Reopen the controls (nothing runs until Run): nb.levers({workspace.root.name!r}, scenario='safe_harbor')"
    )


def test_run_over_a_scenario_saved_with_other_values_asks_first_and_says_what_changes(workspace: Workspace) -> None:
    """Issue 21, item 3: no silent overwrite; the engine refuses and the widget asks with the changes."""
    WorkspaceSession(workspace).for_scenario("safe_harbor", {"plan.match_rate": 1.0})
    saved = (workspace.root / "scenarios" / "safe_harbor.yaml").read_text()
    levers = nb.levers(workspace, scenario="safe_harbor")

    levers.controls["workforce.termination_rate"].value = 0.15
    notice = levers.notice.value
    levers.run_button.click()
    asked = levers.confirm_box.layout.display
    question = levers.confirm_text.value
    in_code = levers.run()

    assert "safe_harbor exists; Run asks before replacing it" in notice
    assert "workforce.termination_rate: 0.12 (the config&#x27;s) -&gt; 0.15" in notice
    assert asked is None, "the confirmation shows"
    assert "Replace them (and its results)?" in question
    assert "<li>workforce.termination_rate: 0.12 (the config&#x27;s) -&gt; 0.15</li>" in question
    assert levers.confirm_button.description == "Overwrite safe_harbor"
    assert in_code is None
    assert levers.run_error is not None
    assert "already exists with other overrides" in levers.run_error.message
    assert "overwrite=True" in (levers.run_error.remediation or "")
    assert (workspace.root / "scenarios" / "safe_harbor.yaml").read_text() == saved
    assert not workspace.database_path.exists(), "nothing ran"


def test_each_rate_shows_the_range_the_config_accepts(workspace: Workspace) -> None:
    """Issue 21, item 4: opt-out is offered below 1, not up to it, and 1.0 is refused with the config's words."""
    levers = nb.levers(workspace)
    ranges = {
        child.children[0]._dom_classes[-1]: child.children[1].value
        for child in levers.children
        if hasattr(child, "children") and len(child.children) > 1 and hasattr(child.children[1], "value")
    }

    levers.controls["plan.opt_out_rate"].value = 1.0

    assert "0 ≤ x &lt; 1" in ranges["planalign-lever-plan-opt_out_rate"]
    assert "0 ≤ x ≤ 1" in ranges["planalign-lever-plan-match_rate"]
    assert levers.run_button.disabled
    assert levers.error is not None
    assert "plan.opt_out_rate" in levers.error.message


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

    levers.controls["workforce.termination_rate"].value = 0.15
    levers.run_button.click()
    asked = levers.confirm_box.layout.display
    levers.confirm_button.click()
    reopened = nb.levers(scenarios_workspace, scenario="richer")

    assert asked is None, "a second Run with other values asks before replacing the scenario"
    assert levers.confirm_box.layout.display == "none"
    assert "workforce.termination_rate: 0.15" in (scenarios_workspace.root / "scenarios" / "richer.yaml").read_text()
    assert levers.comparison is not None
    assert levers.comparison is not comparison
    results = levers.results.children
    assert all(type(child).__name__ == "HTML" for child in results), "the button's live views left their records"
    assert any("Simulation richer 2025-2027 completed" in child.value for child in results), "the year records"
    assert "planalign-comparison" in results[-1].value
    assert reopened.controls["workforce.termination_rate"].value == 0.15, "reopened on the scenario's values"
    assert reopened.comparison is not None, "and its comparison, without running anything"


TENURE_BANDS = [
    {"at_least": 0, "tiers": [{"rate": 0.5, "up_to": 0.06}]},
    {"at_least": 5, "tiers": [{"rate": 1.0, "up_to": 0.06}]},
]


def test_a_safe_harbor_design_sets_its_match_and_turns_off_what_it_replaces(workspace: Workspace) -> None:
    """Issue 24: the design dropdown; its formula replaces the match levers, which Run resets."""
    levers = nb.levers(workspace, scenario="safe_harbor_basic")
    levers.match_formula.value = "stretch"
    levers.controls["match.match_last_day"].value = True
    stretch = levers.overrides()

    levers.controls["safe_harbor.safe_harbor_design"].value = "basic_match"

    assert stretch == {"plan.match_tiers": [{"rate": 0.25, "up_to": 0.12}], "match.match_last_day": True}
    assert levers.controls["safe_harbor.safe_harbor_design"].options == (
        "none",
        "basic_match",
        "enhanced_match",
        "nonelective_3",
        "qaca_basic_match",
        "qaca_enhanced_match",
        "qaca_nonelective_3",
    )
    assert levers.overrides() == {"safe_harbor.safe_harbor_design": "basic_match"}, "no tiers, no last-day rule"
    assert levers.match_formula.disabled
    assert levers.controls["plan.match_rate"].disabled
    assert levers.controls["match.match_last_day"].disabled
    assert not levers.controls["core.core_formula"].disabled, "a match design leaves the core to choose"
    assert levers.error is None


def test_core_and_paycheck_parameters_open_with_the_formula_that_reads_them(workspace: Workspace) -> None:
    levers = nb.levers(workspace, scenario="core_and_true_up")
    closed = {key: levers.controls[key].disabled for key in ("core.core_rate", "match.true_up", "match.pay_frequency")}

    levers.controls["core.core_formula"].value = "integrated"
    levers.controls["core.core_rate"].value = 0.03
    levers.controls["core.core_excess_rate"].value = 0.08
    too_wide = "\n".join(levers.error.text_lines()) if levers.error else ""
    levers.controls["core.core_excess_rate"].value = 0.06
    levers.controls["match.match_period"].value = "pay_period"
    levers.controls["match.true_up"].value = True
    chosen = levers.overrides()
    levers.controls["safe_harbor.safe_harbor_design"].value = "nonelective_3"

    assert closed == {"core.core_rate": True, "match.true_up": True, "match.pay_frequency": True}
    assert "core.core_excess_rate" in too_wide
    assert "401(l)(2)" in too_wide
    assert chosen == {
        "core.core_formula": "integrated",
        "core.core_rate": 0.03,
        "core.core_excess_rate": 0.06,
        "match.match_period": "pay_period",
        "match.true_up": True,
    }
    assert levers.overrides() == {
        "safe_harbor.safe_harbor_design": "nonelective_3",
        "match.match_period": "pay_period",
        "match.true_up": True,
    }, "the safe harbor 3% is the core contribution"
    assert levers.controls["core.core_rate"].disabled
    assert not levers.controls["match.pay_frequency"].disabled
    assert levers.error is None


def test_a_scenario_with_tenure_bands_reopens_with_them_described(workspace: Workspace) -> None:
    WorkspaceSession(workspace).for_scenario(
        "tenure", {"match.match_formula": "service_bands", "match.match_bands": TENURE_BANDS}
    )

    levers = nb.levers(workspace, scenario="tenure")
    levers.controls["match.match_period"].value = "pay_period"
    record = levers.snapshot().text

    assert levers.overrides() == {
        "match.match_formula": "service_bands",
        "match.match_bands": TENURE_BANDS,
        "match.match_period": "pay_period",
    }
    assert levers.match_formula.disabled, "the bands carry their own tiers"
    assert levers.controls["plan.match_rate"].disabled
    assert (
        "  Match formula            0+ years of service: 50% of the first 6% of pay deferred; "
        "5+ years of service: 100% of the first 6% of pay deferred"
    ) in record
    assert "Match rate" not in record


@pytest.mark.dbt
def test_a_design_run_from_the_levers_compares_its_net_cost(scenarios_workspace: Workspace) -> None:
    levers = nb.levers(scenarios_workspace, scenario="sh_nonelective")
    levers.controls["safe_harbor.safe_harbor_design"].value = "nonelective_3"

    comparison = levers.run()

    assert comparison is not None
    deltas = comparison.deltas
    assert (deltas.loc["core_contributions", ("sh_nonelective", "abs")] > 0).all()
    assert (deltas.loc["net_employer_cost_rate", ("sh_nonelective", "abs")] > 0).all()
    record = levers.snapshot()
    assert "  Safe harbor design       nonelective_3" in record.text.splitlines()
    assert "Net employer cost (% of eligible pay)" in record.html
