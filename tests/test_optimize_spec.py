"""What a study asks, checked before anything runs (issue 28): terms, objectives, constraints, levers, budgets.

No dbt here: specs are parsed and refused on their own, figures are computed from
per-seed metric frames built by hand, and the faces render events made by hand. A bad
spec given to the terminal or the session writes nothing to the workspace.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from planalign_nb.optimize import OptimizationProgress
from planalign_orchestrator.cli import main
from planalign_orchestrator.config import SimulationConfig
from planalign_orchestrator.exceptions import ConfigurationError
from planalign_orchestrator.levers import LEVERS, MATCH_DESIGNS
from planalign_orchestrator.optimize.evaluate import Figures, dominates, term_value
from planalign_orchestrator.optimize.result import TrialRecord, pareto_front, spread
from planalign_orchestrator.optimize.space import design_count, dimensions_from, scenario_name, unused_in
from planalign_orchestrator.optimize.spec import build_spec, parse_constraint, parse_objective, parse_term
from planalign_orchestrator.progress import (
    ItemState,
    StudyFinished,
    StudyStarted,
    TrialFinished,
    TrialStarted,
    YearStarted,
)
from planalign_orchestrator.session import WorkspaceSession
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import assert_remediation

BASE = SimulationConfig()


def refused(call: object, *args: object, **kwargs: object) -> ConfigurationError:
    """The ConfigurationError a call raises, checked to carry a remediation."""
    with pytest.raises(ConfigurationError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    assert_remediation(caught.value)
    return caught.value


# -- terms ---------------------------------------------------------------------------------


def test_a_terms_defaults_follow_its_metrics_kind() -> None:
    assert parse_term("employer_contributions").year_reducer == "sum"
    assert parse_term("participation_rate").year_reducer == "mean"
    assert parse_term("irs_limits_estimated").year_reducer == "max"
    assert parse_term("participation_rate").statistic == "mean"


def test_statistics_and_years_are_read_in_either_written_form() -> None:
    assert parse_term("p90(employer_cost_rate)") == parse_term("employer_cost_rate_p90")
    assert parse_term("share(irs_limits_estimated)") == parse_term("irs_limits_estimated_share")
    term = parse_term(" P10( participation_rate[min] ) ")
    assert (term.metric, term.statistic, term.year_reducer, term.text) == (
        "participation_rate",
        "p10",
        "min",
        "p10(participation_rate[min])",
    )
    assert parse_term("hires[2026]").text == "hires[2026]"


def test_an_unknown_metric_is_refused_with_the_closest_name_and_the_catalogue() -> None:
    error = refused(parse_term, "participation_rat")
    assert "unknown metric 'participation_rat'" in error.message
    assert "Did you mean participation_rate?" in error.remediation
    assert "employer_cost_rate" in error.remediation


def test_share_is_only_for_flags_and_names_the_flags() -> None:
    error = refused(parse_term, "share(participation_rate)")
    assert "participation_rate is a fraction" in error.message
    assert "irs_limits_estimated" in error.remediation


@pytest.mark.parametrize(
    ("text", "problem"),
    [("p95(hires)", "statistic 'p95'"), ("hires[often]", "years [often]"), ("min(hires", "not understood")],
)
def test_a_malformed_term_says_what_is_wrong_and_how_terms_are_written(text: str, problem: str) -> None:
    error = refused(parse_term, text)
    assert problem in error.message
    assert "STAT(METRIC)" in error.remediation


# -- objectives and constraints ----------------------------------------------------------


def test_objectives_say_min_or_max() -> None:
    assert parse_objective("minimize employer_cost_rate").direction == "minimize"
    assert parse_objective("max p50(participation_rate)").term.statistic == "p50"
    error = refused(parse_objective, "employer_cost_rate")
    assert "does not say min or max" in error.message


def test_constraints_take_fractions_percentages_and_money() -> None:
    assert parse_constraint("participation_rate >= 85%").bound == pytest.approx(0.85)
    assert parse_constraint("participation_rate=>0.85").operator == ">="
    assert parse_constraint("employer_contributions[2026] <= $12,500,000").bound == 12_500_000
    assert parse_constraint("irs_limits_estimated_share <= 0.05").term.statistic == "share"


@pytest.mark.parametrize(
    ("text", "problem", "fix"),
    [
        ("participation_rate >= 90", "can never be reached", "`participation_rate >= 0.9`"),
        ("participation_rate > 0.9", "uses '>'", "Use <= or >="),
        ("hires >= 10%", "a percentage bound on hires", "in its own units"),
        ("participation_rate >= lots", "is not a number", "Give a number"),
    ],
)
def test_a_bad_constraint_names_the_problem_and_the_fix(text: str, problem: str, fix: str) -> None:
    error = refused(parse_constraint, text)
    assert problem in error.message
    assert fix in error.remediation


def test_constraints_that_leave_no_value_between_them_are_refused_before_anything_runs() -> None:
    levers = dimensions_from(["plan.opt_out_rate=0:0.5"], BASE)
    error = refused(
        build_spec,
        ["min employer_cost_rate"],
        ["participation_rate >= 0.9", "participation_rate <= 0.8"],
        levers,
        seeds=3,
        first_year=2025,
        last_year=2026,
        min_seeds=10,
    )
    assert "contradict each other" in error.message
    assert "participation_rate >= 90.00%" in error.message


def test_a_percentile_needs_the_ensembles_minimum_of_seeds_and_a_year_must_be_studied() -> None:
    levers = dimensions_from(["plan.opt_out_rate=0:0.5"], BASE)
    options = {"first_year": 2025, "last_year": 2026, "min_seeds": 10}
    error = refused(build_spec, ["min p90(employer_cost_rate)"], [], levers, seeds=3, **options)
    assert "below 10 seeds a band is withheld" in error.message
    assert "--seeds 10" in error.remediation
    assert build_spec(["min p90(employer_cost_rate)"], [], levers, seeds=10, **options).seeds == 10
    error = refused(build_spec, ["max hires[2029]"], [], levers, seeds=3, **options)
    assert "outside the study's years 2025-2026" in error.message


def test_a_study_needs_an_objective_each_once() -> None:
    levers = dimensions_from(["plan.opt_out_rate=0:0.5"], BASE)
    options = {"seeds": 3, "first_year": 2025, "last_year": 2025, "min_seeds": 10}
    assert "needs an objective" in refused(build_spec, [], [], levers, **options).message
    assert "given twice" in refused(build_spec, ["min hires", "max hires"], [], levers, **options).message


# -- levers: the search space ---------------------------------------------------------------


def test_a_range_becomes_a_grid_a_twentieth_of_it_by_default() -> None:
    [default] = dimensions_from(["plan.opt_out_rate=0:0.6"], BASE)
    [stepped] = dimensions_from({"plan.opt_out_rate": (0.0, 0.6, 0.02)}, BASE)
    assert len(default.values) == 21
    assert default.step == pytest.approx(0.03)
    assert stepped.values[:3] == (0.0, 0.02, 0.04)
    assert stepped.values[-1] == 0.6
    assert stepped.text() == "plan.opt_out_rate=0:0.6:0.02"
    assert dimensions_from([stepped.text()], BASE) == (stepped,), "the recorded text reads back the same"
    assert default.format(0.25) == "25%"


def test_every_lever_of_the_catalogue_joins_the_search_space_with_its_own_range_or_options() -> None:
    """A lever added to planalign_orchestrator.levers is searchable as it is: no change to the optimizer.

    Alone, a lever the base config leaves unused (a core rate without a core contribution)
    is refused for what it is; every other one becomes a dimension.
    """
    unused = unused_in(BASE, {})
    for lever in LEVERS:
        if lever.kind in ("switch", "choice"):
            given: dict[str, Any] = {lever.key: None}
        else:
            lower, upper = lever.bounds
            inside = 1 if lever.integer else 0.01  # off an open end
            low = (lower.value if lower.inclusive else lower.value + inside) if lower is not None else 0.0
            high = (upper.value if upper.inclusive else upper.value - inside) if upper is not None else low + 1
            given = {lever.key: (low, high)}
        if lever.key in unused:
            assert "counts in none of the designs" in refused(dimensions_from, given, BASE).message
            continue
        [dimension] = dimensions_from(given, BASE)
        if lever.kind in ("switch", "choice"):
            assert dimension.values == ((False, True) if lever.kind == "switch" else lever.choices)
        else:
            assert dimension.low == pytest.approx(given[lever.key][0])
            assert dimension.high == pytest.approx(given[lever.key][1])
            assert dimension.integer == lever.integer


def test_a_lever_counts_only_in_the_designs_the_catalogue_uses_it_in() -> None:
    core = dimensions_from(["core.core_formula=none,flat", "core.core_rate=0.01:0.05:0.01"], BASE)
    assert design_count(core, BASE) == 1 + 5, "no core contribution, or a flat one at five rates"
    error = refused(dimensions_from, ["core.core_rate=0.01:0.05:0.01"], BASE)
    assert "lever core.core_rate counts in none of the designs this study can try" in error.message
    assert "Leave core.core_rate out" in error.remediation
    periods = dimensions_from(["match.match_period", "match.pay_frequency"], BASE)
    assert design_count(periods, BASE) == 1 + 4, "a yearly match, or per pay period at four frequencies"


def test_plan_rules_choices_and_whole_numbers_are_dimensions_of_their_own_kind() -> None:
    dimensions = dimensions_from(
        ["vesting.schedule=cliff,graded", "eligibility.minimum_age=18:21", "eligibility.entry_dates"], BASE
    )
    vesting, age, entry = dimensions
    assert (vesting.kind, vesting.values) == ("choice", ("cliff", "graded"))
    assert (age.kind, age.values, age.integer) == ("number", (18, 19, 20, 21), True)
    assert entry.values == ("immediate", "monthly", "quarterly", "semiannual")
    assert design_count(dimensions, BASE) == 2 * 4 * 4
    assert age.text() == "eligibility.minimum_age=18:21:1"
    assert "'yearly' is not one of its options (immediate, monthly, quarterly, semiannual)" in (
        refused(dimensions_from, ["eligibility.entry_dates=immediate,yearly"], BASE).message
    )
    assert "HIGH 25 is outside the lever's valid range 0 ≤ x ≤ 21" in (
        refused(dimensions_from, ["eligibility.minimum_age=18:25"], BASE).message
    )
    assert "does not divide the range" in refused(dimensions_from, ["eligibility.minimum_age=18:21:1.5"], BASE).message


def test_an_unknown_lever_is_refused_with_the_closest_one() -> None:
    error = refused(dimensions_from, ["plan.match_rat=0:1"], BASE)
    assert "unknown lever 'plan.match_rat'" in error.message
    assert "Did you mean plan.match_rate?" in error.remediation


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("plan.opt_out_rate=0:1", "HIGH 1 is outside the lever's valid range 0 ≤ x < 1"),
        ("plan.escalation_rate=0:0.05", "LOW 0 is outside the lever's valid range 0 < x ≤ 0.05"),
        ("plan.match_rate=0.5:0.2", "is empty"),
        ("plan.match_rate=0:1:0.3", "does not divide the range"),
        ("plan.match_rate", "needs a range"),
        ("plan.auto_escalation=0:1", "is a switch, not a number"),
        ("plan.match_tiers=single,quadruple", "'quadruple' is not one of its options"),
        ("plan.match_tiers=single", "one option"),
        ("plan.match_rate=a:b", "not LOW:HIGH"),
    ],
)
def test_a_lever_outside_what_the_config_accepts_is_refused_naming_its_valid_range(text: str, problem: str) -> None:
    error = refused(dimensions_from, [text], BASE)
    assert problem in error.message
    key = text.split("=")[0]
    assert key in error.remediation


def test_a_switch_takes_its_options_as_words_or_booleans() -> None:
    [words] = dimensions_from(["plan.auto_escalation=on,off"], BASE)
    [booleans] = dimensions_from({"plan.auto_escalation": (True, False)}, BASE)
    assert words.values == booleans.values == (True, False)
    assert words.text() == "plan.auto_escalation=on,off"


def test_a_lever_given_twice_or_no_lever_is_refused() -> None:
    assert "given twice" in refused(dimensions_from, ["plan.match_rate=0:1", "plan.match_rate=0:0.5"], BASE).message
    assert "at least one lever" in refused(dimensions_from, [], BASE).message


def test_the_single_tiers_rate_counts_only_under_the_single_tier_match() -> None:
    dimensions = dimensions_from(["plan.match_rate=0.25:1:0.25", "plan.match_tiers"], BASE)
    # single with 4 match rates, or one of the other named designs (safe harbor, stretch, ...)
    assert design_count(dimensions, BASE) == 4 + len(MATCH_DESIGNS) - 1
    assert "plan.match_rate" in unused_in(BASE, {"plan.match_tiers": "safe_harbor"})
    assert "plan.match_rate" not in unused_in(BASE, {"plan.match_tiers": "single"})
    error = refused(dimensions_from, ["plan.match_rate=0:1", "plan.match_tiers=safe_harbor,enhanced_safe_harbor"], BASE)
    assert "lever plan.match_rate counts in none of the designs" in error.message
    assert "plan.match_tiers=single,safe_harbor" in error.remediation
    tiered = SimulationConfig.model_validate({"plan": {"match_tiers": [{"rate": 1.0, "up_to": 0.04}]}})
    assert "counts in none of the designs" in refused(dimensions_from, ["plan.match_rate=0:1"], tiered).message


def test_the_same_overrides_always_name_the_same_scenario() -> None:
    first = scenario_name("cheapest", {"plan.opt_out_rate": 0.3, "plan.match_rate": 0.5})
    assert first == scenario_name("cheapest", {"plan.match_rate": 0.5, "plan.opt_out_rate": 0.3})
    assert first != scenario_name("cheapest", {"plan.opt_out_rate": 0.32, "plan.match_rate": 0.5})
    assert re.fullmatch(r"cheapest_[0-9a-f]{8}", first)


# -- figures of a design's ensemble --------------------------------------------------------


def seed_frame() -> pd.DataFrame:
    """Three seeds x two years, with numbers chosen so each statistic has one right answer."""
    rows = []
    for seed, (rates, costs, flags) in {
        1: ((0.80, 0.90), (100.0, 200.0), (False, False)),
        2: ((0.70, 0.70), (300.0, 100.0), (False, True)),
        3: ((0.60, 1.00), (50.0, 50.0), (False, False)),
    }.items():
        for year, rate, cost, flag in zip((2025, 2026), rates, costs, flags, strict=True):
            rows.append(
                {
                    "seed": seed,
                    "year": year,
                    "participation_rate": rate,
                    "employer_contributions": cost,
                    "irs_limits_estimated": flag,
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("participation_rate", (0.85 + 0.70 + 0.80) / 3),  # each seed's mean of the years, then their mean
        ("participation_rate[min]", (0.80 + 0.70 + 0.60) / 3),
        ("participation_rate[2026]", (0.90 + 0.70 + 1.00) / 3),
        ("employer_contributions", (300 + 400 + 100) / 3),  # summed over the years
        ("p90(employer_contributions)", 380.0),  # numpy's linear percentile of 100, 300, 400
        ("p50(participation_rate[last])", 0.90),
        ("share(irs_limits_estimated)", 1 / 3),  # set in any year of one seed in three
        ("irs_limits_estimated_share[2025]", 0.0),
    ],
)
def test_a_term_reduces_each_seeds_years_then_the_seeds(text: str, expected: float) -> None:
    assert term_value(parse_term(text), seed_frame(), 2025, 2026) == pytest.approx(expected)


def test_dominance_and_the_front_follow_each_objectives_direction() -> None:
    directions = ("minimize", "maximize")
    assert dominates((1.0, 0.9), (2.0, 0.8), directions)
    assert not dominates((1.0, 0.8), (2.0, 0.9), directions)
    assert not dominates((1.0, 0.9), (1.0, 0.9), directions)
    points = {1: (1.0, 0.70), 2: (2.0, 0.80), 3: (2.5, 0.75), 4: (3.0, 0.90), 5: (1.5, 0.70)}
    trials = [
        TrialRecord(number, "evaluated", {}, f"s{number}", Figures({}, values, ())) for number, values in points.items()
    ]
    front = pareto_front(trials, directions)
    assert [trial.trial for trial in front] == [1, 2, 4]
    assert [trial.trial for trial in spread(front, 2)] == [1, 4], "the front's two ends first"


# -- the faces, on a workspace that never gets a database ------------------------------------


def test_a_bad_spec_exits_2_saying_what_and_which_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "workspace"
    Workspace.open(folder)
    args = ["optimize", "--workspace", str(folder), "--objective", "min employer_cost_rate"]

    assert main([*args, "--lever", "plan.opt_out_rate=0:1.2"]) == 2
    error = capsys.readouterr().err
    assert "lever plan.opt_out_rate: HIGH 1.2 is outside the lever's valid range 0 ≤ x < 1" in error
    assert "To fix: Keep the range within 0 ≤ x < 1" in error
    assert main([*args, "--lever", "plan.opt_out_rate=0:0.5", "--constraint", "participation_rat >= 0.8"]) == 2
    assert "Did you mean participation_rate?" in capsys.readouterr().err
    assert main([*args, "--lever", "plan.opt_out_rate=0:0.5", "--study", "Bad Name"]) == 2
    assert "invalid study name 'Bad Name'" in capsys.readouterr().err

    assert not (folder / "simulation.duckdb").exists()
    assert not (folder / "optimize").exists()
    assert not (folder / "scenarios").exists()


def test_a_budget_no_study_can_run_with_is_refused(tmp_path: Path) -> None:
    session = WorkspaceSession.open(tmp_path / "workspace")
    spec = {"objectives": ["min hires"], "levers": ["plan.opt_out_rate=0:0.5"]}
    assert "positive whole number" in refused(session.optimize, **spec, trials=0).message
    assert "positive number of minutes" in refused(session.optimize, **spec, minutes=-1.0).message
    assert "top designs" in refused(session.optimize, **spec, top=-1).message
    assert "start before the config's first year" in refused(session.optimize, **spec, start_year=2024).message


def study_events() -> list[object]:
    started = StudyStarted(
        "cheapest",
        ("minimize employer_cost_rate",),
        ("participation_rate >= 77.50%",),
        ("plan.opt_out_rate=0:0.6:0.02",),
        0,
        2,
        None,
        3,
        (2025, 2026),
    )
    return [
        started,
        TrialStarted("cheapest", 1, 2, "plan.opt_out_rate=34%", "cheapest_36edddda"),
        YearStarted(2025, 1, 2),
        TrialFinished(
            "cheapest",
            1,
            2,
            "plan.opt_out_rate=34%",
            "cheapest_36edddda",
            "simulated",
            "employer_cost_rate 2.25%, participation_rate 77.56%",
            True,
            "best: trial 1, employer_cost_rate 2.25%",
            1.5,
        ),
        TrialStarted("cheapest", 2, 2, "plan.opt_out_rate=44%", "cheapest_996c2038"),
        TrialFinished(
            "cheapest",
            2,
            2,
            "plan.opt_out_rate=44%",
            "cheapest_996c2038",
            "reused",
            "employer_cost_rate 2.23%, participation_rate 75.82%",
            False,
            "best: trial 1, employer_cost_rate 2.25%",
            0.1,
            "its stored ensemble reused",
        ),
        StudyFinished("cheapest", 2, 1, "its budget of 2 trials"),
    ]


def test_the_study_view_shows_trial_k_of_n_and_the_best_so_far_then_leaves_a_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLANALIGN_NB_RECORD_TIMINGS", "0")
    view = OptimizationProgress()
    events = study_events()
    for event in events[:3]:
        view(event)  # type: ignore[arg-type]
    assert "Study cheapest: trial 1 of 2" in view.body.value
    assert "trial 1: simulating 2025 (1/2)" in view.body.value
    for event in events[3:5]:
        view(event)  # type: ignore[arg-type]
    assert "Study cheapest: trial 2 of 2" in view.body.value
    assert "best: trial 1, employer_cost_rate 2.25%" in view.body.value
    assert "50%" in view.body.value
    view(events[5])  # type: ignore[arg-type]
    view(events[6])  # type: ignore[arg-type]

    record = view.snapshot()
    assert record.text.splitlines()[0] == "Study cheapest stopped: its budget of 2 trials; 1 of 2 trials feasible"
    assert (
        "✓ trial 1 plan.opt_out_rate=34%: employer_cost_rate 2.25%, participation_rate 77.56% (feasible)" in record.text
    )
    assert "(infeasible); its stored ensemble reused" in record.text
    assert not re.search(r"\b(running|starting)\b|\d+\.\d+ ?s\b", record.text + record.html)
    assert "planalign-record" in record.html


def test_an_interrupted_study_says_its_finished_trials_are_kept_and_how_to_go_on() -> None:
    view = OptimizationProgress(root=Path("/nowhere/ws"))
    for event in study_events()[:4]:
        view(event)  # type: ignore[arg-type]
    view(TrialStarted("cheapest", 2, 2, "plan.opt_out_rate=44%", "cheapest_996c2038"))
    view.fail(KeyboardInterrupt())

    assert view.run.trial(2) is not None
    assert view.run.trial(2).state is ItemState.CANCELLED  # type: ignore[union-attr]
    assert view.run.trial(1).state is ItemState.DONE  # type: ignore[union-attr]
    record = view.snapshot().text
    assert "Study cheapest cancelled after 1 trial" in record
    assert "Its finished trials are kept" in record
    assert "nb.optimize(" in record
    assert "study='cheapest'" in record


def test_constraints_each_met_but_never_together_are_reported_as_contradicting_within_the_ranges(
    tmp_path: Path,
) -> None:
    from planalign_orchestrator.optimize.study import StudyRunner
    from planalign_orchestrator.progress import ProgressEmitter

    levers = dimensions_from(["plan.opt_out_rate=0:0.5"], BASE)
    spec = build_spec(
        ["min employer_cost_rate"],
        ["participation_rate >= 0.8", "employer_cost_rate <= 2%"],
        levers,
        seeds=3,
        first_year=2025,
        last_year=2025,
        min_seeds=10,
    )

    def trial(number: int, participation: float, cost: float) -> TrialRecord:
        terms = {"employer_cost_rate": cost, "participation_rate": participation}
        violations = tuple(c.violation(terms[c.term.text]) for c in spec.constraints)
        return TrialRecord(number, "evaluated", {}, f"s{number}", Figures(terms, (cost,), violations))

    runner = StudyRunner("both", spec, tmp_path, BASE, {}, None, ProgressEmitter())  # type: ignore[arg-type]
    error = runner._infeasible([trial(1, 0.84, 0.024), trial(2, 0.72, 0.019)])

    assert "never all of them at once: within these lever ranges they contradict each other" in error.message
    assert "participation_rate >= 80.00%: met by 1 of 2 designs (closest 84.00%, trial 1)" in error.message
    assert "employer_cost_rate <= 2.00%: met by 1 of 2 designs (closest 1.90%, trial 2)" in error.message
    assert "`planalign optimize --study both --trials 4` continues it" in error.remediation
