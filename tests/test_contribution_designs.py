"""The plan as sponsors run it (issue 24): employer contribution designs and their true cost.

Each design is simulated on real dbt and DuckDB for the hand-made employees of
tests/support/design_census.py (2025; no hazard terminations, no pay changes), one
scenario per design in one workspace. Expected dollars are computed here, to the cent,
from the rule as DOMAIN.md ("Employer contributions beyond the match") states it, and
the key figures are also written out as worked by hand; the database is read with duckdb
directly, never through the engine under test.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from planalign_orchestrator.config import load_config
from planalign_orchestrator.exceptions import ConfigurationError
from planalign_orchestrator.factory import create_dbt_runner
from planalign_orchestrator.session import WorkspaceSession
from planalign_orchestrator.workspace import Workspace
from tests.conftest import copy_workspace
from tests.support.design_census import DESIGN_BASE_CONFIG, DESIGN_PEOPLE
from tests.support.helpers import edit_config_sections
from tests.support.plan_census import write_plan_census

YEAR = 2025
LIMIT_402G = Decimal("23500")
WAGE_BASE = Decimal("176100")
COMP_LIMIT = Decimal("350000")
RETURN = Decimal("0.06")
DEFAULT_MATCH = [(Decimal("0.5"), Decimal("0.06"))]  # 50% of deferrals up to 6% of pay
TENURE_BANDS = [
    {"at_least": 0, "tiers": [{"rate": 0.5, "up_to": 0.06}]},
    {"at_least": 5, "tiers": [{"rate": 1.0, "up_to": 0.06}]},
]

# Each design is a scenario of the workspace (the base config is DESIGN_BASE_CONFIG).
DESIGNS: dict[str, dict[str, Any]] = {
    "paychecks": {"match.match_period": "pay_period"},
    "true_up": {"match.match_period": "pay_period", "match.true_up": True},
    "tenure_graded": {"match.match_formula": "service_bands", "match.match_bands": TENURE_BANDS},
    "tenure_graded_monthly": {
        "match.match_formula": "service_bands",
        "match.match_bands": TENURE_BANDS,
        "match.match_period": "pay_period",
        "match.pay_frequency": "monthly",
    },
    "points_match": {
        "match.match_formula": "points_bands",
        "match.match_bands": [
            {"at_least": 0, "tiers": [{"rate": 0.5, "up_to": 0.06}]},
            {"at_least": 60, "tiers": [{"rate": 1.0, "up_to": 0.06}]},
        ],
    },
    "integrated": {"core.core_formula": "integrated", "core.core_rate": 0.03, "core.core_excess_rate": 0.06},
    "age_weighted": {
        "core.core_formula": "age_bands",
        "core.core_bands": [
            {"at_least": 0, "rate": 0.02},
            {"at_least": 40, "rate": 0.04},
            {"at_least": 50, "rate": 0.06},
        ],
    },
    "conditions": {
        "match.match_last_day": True,
        "core.core_formula": "flat",
        "core.core_rate": 0.03,
        "core.core_min_hours": 1000,
    },
    "nonelective_3": {"safe_harbor.safe_harbor_design": "nonelective_3"},
    "qaca": {"safe_harbor.safe_harbor_design": "qaca_basic_match"},
    "rich_core": {"core.core_formula": "flat", "core.core_rate": 0.20},
    "capped_match": {"plan.match_rate": 1.0, "match.match_max_amount": 2000},
}


# -- hand computation ------------------------------------------------------------------


def cents(value: Decimal | Fraction) -> Decimal:
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def days(first: date, last: date) -> int:
    return (last - first).days + 1


def pay_until(person: str, last: date) -> Decimal:
    """Salary from Jan 1 to `last` (DOMAIN: pay for the period employed)."""
    return cents(Decimal(DESIGN_PEOPLE[person].pay) * days(date(YEAR, 1, 1), last) / 365)


def tiered(deferred: Decimal | Fraction, pay: Decimal | Fraction, tiers: Sequence[tuple[Decimal, Decimal]]) -> Fraction:
    """The match formula: each tier's rate on the deferral between its bounds (shares of pay)."""
    deferred, pay = Fraction(deferred), Fraction(pay)
    total, lower = Fraction(0), Fraction(0)
    for rate, up_to in tiers:
        total += Fraction(rate) * max(min(deferred, Fraction(up_to) * pay) - lower * pay, 0)
        lower = Fraction(up_to)
    return total


def pay_periods(frequency: str) -> list[tuple[date, date]]:
    """The year's paychecks as DOMAIN states them: calendar months, or 14 days from Jan 1 (the last to Dec 31)."""
    if frequency == "monthly":
        return [(date(YEAR, m, 1), date(YEAR, m, calendar.monthrange(YEAR, m)[1])) for m in range(1, 13)]
    starts = [date(YEAR, 1, 1) + timedelta(days=14 * n) for n in range(26)]
    return [(start, start + timedelta(days=13) if n < 25 else date(YEAR, 12, 31)) for n, start in enumerate(starts)]


def paycheck_match(
    person: str, tiers_on: Callable[[date], Sequence[tuple[Decimal, Decimal]]], frequency: str = "biweekly"
) -> Decimal:
    """The match paycheck by paycheck for a full-year employee.

    The election is spread over the days of the year, deferrals stop at the 402(g)
    limit, and each paycheck is matched on its own pay.
    """
    p = DESIGN_PEOPLE[person]
    pay = Fraction(Decimal(p.pay))
    elected = Fraction(cents(Decimal(p.pay) * Decimal(p.deferral_rate)))
    total, deferred_so_far = Fraction(0), Fraction(0)
    for start, end in pay_periods(frequency):
        share = Fraction(days(start, end), 365)
        deferral = min(elected * share, max(Fraction(LIMIT_402G) - deferred_so_far, 0))
        deferred_so_far += elected * share
        total += tiered(deferral, pay * share, tiers_on(end))
    return cents(total)


def earnings(start: Decimal, start_share: Fraction, paid_in: Decimal, paid_share: Fraction) -> Decimal:
    """The year's return on the start balance for its time invested, on contributions for half of theirs."""
    return cents(
        Fraction(start) * Fraction(RETURN) * start_share + Fraction(paid_in) * Fraction(RETURN) * paid_share / 2
    )


# -- the runs --------------------------------------------------------------------------


def query(root: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with duckdb.connect(str(root / "simulation.duckdb"), read_only=True) as conn:
        cursor = conn.execute(sql, params or [])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def row(root: Path, design: str, employee_id: str) -> dict[str, Any]:
    rows = query(
        root,
        "select * from main.fct_workforce_snapshot where scenario_id = ? and employee_id = ? and simulation_year = ?",
        [design, employee_id, YEAR],
    )
    assert len(rows) == 1, (design, employee_id, rows)
    return rows[0]


@pytest.fixture(scope="module")
def designs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The design census under DESIGN_BASE_CONFIG (the baseline: today's match) and each design, 2025."""
    workspace = Workspace.open(tmp_path_factory.mktemp("designs") / "workspace")
    write_plan_census(workspace.config.census_path, DESIGN_PEOPLE)
    session = WorkspaceSession(edit_config_sections(workspace, **DESIGN_BASE_CONFIG))
    session.simulate(YEAR, YEAR)
    for name, overrides in DESIGNS.items():
        session.for_scenario(name, overrides).simulate(YEAR, YEAR)
    return workspace.root


# -- 1. the match paycheck by paycheck, and the true-up ------------------------------------


@pytest.mark.dbt
def test_a_front_loader_loses_match_per_paycheck_and_the_true_up_restores_it(designs: Path) -> None:
    # 30% of $150,000 is $1,726.03 a biweekly paycheck: the $23,500 limit is reached in the
    # 14th, after which nothing is deferred. Each of those 14 paychecks is matched 50% of
    # 6% of its pay ($5,753.42): 14 x $172.60274 = $2,416.44, against $4,500.00 (50% of
    # 6% of $150,000) on the year's totals. The true-up pays the $2,083.56 lost.
    per_paycheck = paycheck_match("FRONT_LOADER", lambda _: DEFAULT_MATCH)
    annual = cents(tiered(LIMIT_402G, Decimal("150000"), DEFAULT_MATCH))
    baseline = row(designs, "baseline", "FRONT_LOADER")
    paychecks = row(designs, "paychecks", "FRONT_LOADER")
    trued = row(designs, "true_up", "FRONT_LOADER")

    assert per_paycheck == Decimal("2416.44")
    assert annual == Decimal("4500.00")
    assert baseline["employee_contribution"] == paychecks["employee_contribution"] == LIMIT_402G
    assert baseline["match_contribution"] == annual, "the default is computed on the year's totals"
    assert baseline["true_up_contribution"] == 0
    assert paychecks["match_contribution"] == per_paycheck
    assert paychecks["true_up_contribution"] == 0
    assert trued["match_contribution"] == annual
    assert trued["true_up_contribution"] == annual - per_paycheck == Decimal("2083.56")
    assert trued["employer_contribution"] == trued["match_contribution"]

    # someone who never reaches a limit is matched alike per paycheck and per year
    steady = [row(designs, design, "STEADY") for design in ("baseline", "paychecks", "true_up")]
    assert [r["match_contribution"] for r in steady] == [Decimal("1800.00")] * 3
    assert paycheck_match("STEADY", lambda _: DEFAULT_MATCH) == Decimal("1800.00")
    assert [r["true_up_contribution"] for r in steady] == [0, 0, 0]

    # the true-up is credited at year end: it earns nothing in the year
    earned = earnings(Decimal(0), Fraction(1), per_paycheck, Fraction(1))
    assert trued["earnings_match"] == earned


# -- 2. tenure-graded and points-based matches ----------------------------------------------


@pytest.mark.dbt
def test_a_tenure_band_changes_mid_year_on_the_anniversary(designs: Path) -> None:
    # Five years of service on 2025-07-01. On the year's totals the band is the one at the
    # year end: 100% of 6% of $80,000 = $4,800.00. Per monthly paycheck the band is the one
    # on the pay date: January-June (181 days) at 50%, July-December (184 days) at 100%:
    # 2,400 x 181/365 + 4,800 x 184/365 = 1,190.137 + 2,419.726 = $3,609.86.
    def bands(pay_date: date) -> list[tuple[Decimal, Decimal]]:
        service = 5 if pay_date >= date(YEAR, 7, 1) else 4
        return [(Decimal("1.0") if service >= 5 else Decimal("0.5"), Decimal("0.06"))]

    yearly = row(designs, "tenure_graded", "FIVE_YEARS_IN_JULY")
    monthly = row(designs, "tenure_graded_monthly", "FIVE_YEARS_IN_JULY")
    newer = row(designs, "tenure_graded", "STEADY")  # 7 years of service: the upper band all year

    assert yearly["tenure_years"] == 5
    assert yearly["match_contribution"] == Decimal("4800.00")
    assert monthly["match_contribution"] == paycheck_match("FIVE_YEARS_IN_JULY", bands, "monthly")
    assert monthly["match_contribution"] == Decimal("3609.86")
    assert newer["match_contribution"] == Decimal("3600.00")
    assert row(designs, "tenure_graded", "LEAVES_EARLY")["match_contribution"] == cents(
        tiered(
            cents(pay_until("LEAVES_EARLY", date(YEAR, 3, 31)) * Decimal("0.06")),
            pay_until("LEAVES_EARLY", date(YEAR, 3, 31)),
            DEFAULT_MATCH,
        )
    ), "under five years: the lower band"

    # points = age + service at the year end: 50 + 15 = 65 reaches the 60-point band, 40 + 10 does not
    richer = row(designs, "points_match", "ABOVE_WAGE_BASE")
    lower = row(designs, "points_match", "FRONT_LOADER")
    assert richer["age"] + richer["tenure_years"] == 65
    assert richer["match_contribution"] == Decimal("10000.00"), "100% of the 4% deferred of $250,000"
    assert lower["match_contribution"] == Decimal("4500.00")


# -- 3. core contributions: integrated with Social Security, by age, safe harbor -----------


@pytest.mark.dbt
def test_a_core_integrated_with_social_security_pays_the_excess_rate_above_the_wage_base(designs: Path) -> None:
    # 3% up to the 2025 taxable wage base ($176,100), 6% above it (a spread of 3 points:
    # the lesser of the base rate and 5.7, IRC 401(l)(2)).
    def integrated(pay: Decimal) -> Decimal:
        return cents(Decimal("0.03") * min(pay, WAGE_BASE) + Decimal("0.06") * max(pay - WAGE_BASE, Decimal(0)))

    above = row(designs, "integrated", "ABOVE_WAGE_BASE")
    capped = row(designs, "integrated", "ABOVE_COMP_LIMIT")
    below = row(designs, "integrated", "STEADY")
    plan = query(designs, "select taxable_wage_base from main.fct_year_plan where scenario_id = 'integrated'")

    assert plan == [{"taxable_wage_base": 176_100}]
    assert above["core_contribution"] == integrated(Decimal("250000")) == Decimal("9717.00")  # 5,283 + 4,434
    assert capped["employer_plan_compensation"] == COMP_LIMIT
    assert capped["core_contribution"] == integrated(COMP_LIMIT) == Decimal("15717.00")  # 5,283 + 10,434
    assert below["core_contribution"] == Decimal("1800.00"), "3% of $60,000: all of it below the level"
    assert above["match_contribution"] == row(designs, "baseline", "ABOVE_WAGE_BASE")["match_contribution"]
    assert above["employer_contribution"] == above["match_contribution"] + above["core_contribution"]
    assert row(designs, "integrated", "PART_TIME_800")["core_contribution"] == Decimal("1200.00")


@pytest.mark.dbt
def test_an_age_weighted_core_pays_the_rate_of_the_age_band(designs: Path) -> None:
    rates = {"STEADY": ("0.02", "60000"), "FRONT_LOADER": ("0.04", "150000"), "ABOVE_COMP_LIMIT": ("0.06", "350000")}
    for person, (rate, pay) in rates.items():
        assert row(designs, "age_weighted", person)["core_contribution"] == cents(Decimal(rate) * Decimal(pay)), person


@pytest.mark.dbt
def test_the_safe_harbor_designs_pay_their_formula_vested_at_once_and_flag_the_plan(designs: Path) -> None:
    plans = {
        p["scenario_id"]: p
        for p in query(
            designs,
            "select scenario_id, safe_harbor_design, is_safe_harbor, match_is_safe_harbor, nonelective_is_safe_harbor "
            "from main.fct_year_plan",
        )
    }
    metrics = {m["scenario_id"]: m for m in query(designs, "select * from main.fct_year_metrics")}
    early_pay = pay_until("LEAVES_EARLY", date(YEAR, 3, 31))  # 50,000 x 90/365 = 12,328.77
    early_deferral = cents(early_pay * Decimal("0.06"))
    early_match = cents(tiered(early_deferral, early_pay, DEFAULT_MATCH))
    nonelective = row(designs, "nonelective_3", "LEAVES_EARLY")
    qaca_steady = row(designs, "qaca", "STEADY")
    qaca_early = row(designs, "qaca", "LEAVES_EARLY")
    qaca_june = row(designs, "qaca", "LEAVES_IN_JUNE")

    assert plans["baseline"]["is_safe_harbor"] is False
    assert plans["nonelective_3"] == {
        "scenario_id": "nonelective_3",
        "safe_harbor_design": "nonelective_3",
        "is_safe_harbor": True,
        "match_is_safe_harbor": False,
        "nonelective_is_safe_harbor": True,
    }
    assert plans["qaca"]["safe_harbor_design"] == "qaca_basic_match"
    assert plans["qaca"]["match_is_safe_harbor"] is True
    assert metrics["nonelective_3"]["is_safe_harbor"]
    assert not metrics["baseline"]["is_safe_harbor"]

    # nonelective_3: 3% of pay to everyone eligible, deferring or not, 100% vested; the
    # plan's own match (50% of 6%) stays, vesting on the 6-year graded schedule
    assert row(designs, "nonelective_3", "STEADY")["core_contribution"] == Decimal("1800.00")
    assert nonelective["core_contribution"] == cents(Decimal("0.03") * early_pay) == Decimal("369.86")
    assert nonelective["match_contribution"] == early_match
    assert nonelective["vesting_service_years"] == 1
    assert (nonelective["vested_percent"], nonelective["nonelective_vested_percent"]) == (0, 1)
    assert nonelective["forfeited_nonelective"] == 0, "safe harbor money is never forfeited"
    share = Fraction(90, 365)
    assert nonelective["forfeited_match"] == early_match + earnings(Decimal(0), share, early_match, share)

    # QACA basic match: 100% of the first 1% + 50% of the next 5% (3.5% at 6%), on a 2-year cliff
    assert qaca_steady["match_contribution"] == Decimal("2100.00")
    assert qaca_early["match_vested_percent"] == 0, "one year of service: not yet 2"
    assert qaca_early["forfeited_match"] == qaca_early["match_contribution"] + qaca_early["earnings_match"] > 0
    assert qaca_june["vested_percent"] == Decimal("0.8"), "5 years on the 6-year graded schedule"
    assert qaca_june["match_vested_percent"] == 1
    assert qaca_june["forfeited_match"] == 0


# -- 4. allocation conditions ---------------------------------------------------------------


@pytest.mark.dbt
def test_the_last_day_rule_takes_a_leavers_match_and_the_hours_rule_a_part_timers_core(designs: Path) -> None:
    june_pay = pay_until("LEAVES_IN_JUNE", date(YEAR, 6, 30))  # 80,000 x 181/365 = 39,671.23
    june_match = cents(tiered(cents(june_pay * Decimal("0.05")), june_pay, DEFAULT_MATCH))
    leaver = row(designs, "conditions", "LEAVES_IN_JUNE")
    part_timer = row(designs, "conditions", "PART_TIME_800")
    steady = row(designs, "conditions", "STEADY")

    assert row(designs, "baseline", "LEAVES_IN_JUNE")["match_contribution"] == june_match == Decimal("991.78")
    assert leaver["match_contribution"] == 0, "not employed on Dec 31: no match for the year"
    assert leaver["hours_worked"] == 1140
    assert leaver["core_contribution"] == cents(Decimal("0.03") * june_pay) == Decimal("1190.14")
    assert part_timer["hours_worked"] == 800
    assert part_timer["core_contribution"] == 0, "under 1,000 hours: no core"
    assert part_timer["match_contribution"] == Decimal("1200.00"), "the match has no hours condition"
    # money known only at year end is credited on Dec 31: it earns nothing in the year
    assert (steady["match_contribution"], steady["core_contribution"]) == (Decimal("1800.00"), Decimal("1800.00"))
    assert steady["earnings_match"] == steady["earnings_nonelective"] == 0
    assert row(designs, "baseline", "STEADY")["earnings_match"] == earnings(
        Decimal(0), Fraction(1), Decimal("1800.00"), Fraction(1)
    )


@pytest.mark.dbt
def test_a_match_capped_in_dollars_pays_at_most_the_cap(designs: Path) -> None:
    # 100% of deferrals up to 6% of pay, at most $2,000 a year
    expected = {
        "FRONT_LOADER": Decimal("2000.00"),  # 100% of 6% of $150,000 = $9,000
        "STEADY": Decimal("2000.00"),  # $3,600
        "PART_TIME_800": Decimal("2000.00"),  # $2,400
        "LEAVES_EARLY": cents(pay_until("LEAVES_EARLY", date(YEAR, 3, 31)) * Decimal("0.06")),  # $739.73
    }
    for person, match in expected.items():
        assert row(designs, "capped_match", person)["match_contribution"] == match, person


# -- 5. 415(c) over deferrals + core + match -------------------------------------------------


@pytest.mark.dbt
def test_415c_holds_over_deferrals_core_and_match_cutting_the_match_first(designs: Path) -> None:
    # 20% core: $70,000 on $350,000, with $21,000 deferred. 415(c) ($70,000) leaves
    # $49,000 for the core and nothing for the $10,500 match.
    capped = row(designs, "rich_core", "ABOVE_COMP_LIMIT")
    fits = row(designs, "rich_core", "ABOVE_WAGE_BASE")  # 10,000 + 50,000 core + 5,000 match

    assert capped["base_deferral"] == Decimal("21000.00")
    assert capped["core_contribution"] == Decimal("49000.00")
    assert capped["match_contribution"] == 0
    assert capped["base_deferral"] + capped["employer_contribution"] == Decimal("70000.00")
    assert (fits["core_contribution"], fits["match_contribution"]) == (Decimal("50000.00"), Decimal("5000.00"))


# -- 6. cost: every figure in the one metrics model, the data tests hold --------------------


@pytest.mark.dbt
def test_the_cost_metrics_add_up_from_the_snapshot(designs: Path) -> None:
    independent = {
        (r["scenario_id"]): r
        for r in query(
            designs,
            """
            select scenario_id, sum(match_contribution) as match, sum(true_up_contribution) as true_up,
                   sum(core_contribution) as core, sum(employer_plan_compensation) as eligible_pay,
                   count(*) filter (where employee_contribution + employer_contribution > 0) as credited
            from main.fct_workforce_snapshot group by scenario_id
            """,
        )
    }
    metrics = query(designs, "select * from main.fct_year_metrics")

    assert len(metrics) == len(DESIGNS) + 1
    for m in metrics:
        mine = independent[m["scenario_id"]]
        net = m["employer_contributions"] - m["forfeitures_used"]  # no forfeitures used in the first year
        assert m["employer_contributions_net"] == net
        assert (m["match_contributions"], m["true_up_contributions"], m["core_contributions"]) == (
            mine["match"],
            mine["true_up"],
            mine["core"],
        )
        assert m["employer_contributions"] == m["match_contributions"] + m["core_contributions"]
        assert m["eligible_compensation"] == mine["eligible_pay"]
        assert m["net_employer_cost_rate"] == pytest.approx(float(net / mine["eligible_pay"]), abs=1e-12)
        assert m["credited_participants"] == mine["credited"]
        assert m["cost_per_participant"] == cents(net / mine["credited"])
    by_name = {m["scenario_id"]: m for m in metrics}
    assert by_name["true_up"]["true_up_contributions"] > 0
    assert by_name["rich_core"]["net_employer_cost_rate"] > by_name["integrated"]["net_employer_cost_rate"]


@pytest.mark.dbt
def test_a_paycheck_design_in_an_ensemble_equals_its_single_run_seed_for_seed(designs: Path, tmp_path: Path) -> None:
    """The paychecks of every seed are computed side by side in one yearly run, as each seed's alone."""
    session = WorkspaceSession(copy_workspace(designs, tmp_path / "ensemble")).for_scenario("true_up")
    ensemble = session.ensemble(YEAR, YEAR, seeds=[42, 43], min_seeds=2)
    single = query(designs, "select * from main.fct_year_metrics where scenario_id = 'true_up'")[0]

    metrics = ensemble.seed_metrics(42).loc[YEAR]
    for column in (
        "match_contributions",
        "true_up_contributions",
        "employer_contributions_net",
        "cost_per_participant",
    ):
        assert metrics[column] == pytest.approx(float(single[column]), abs=1e-9), column
    assert single["true_up_contributions"] > 0


@pytest.mark.dbt
def test_the_data_tests_hold_for_every_design(designs: Path) -> None:
    workspace = Workspace.open(designs, create=False)
    runner = create_dbt_runner(workspace.config, workspace.database_path)

    result = runner.test(
        [
            "assert_contributions_within_irs_limits",
            "assert_allocation_conditions_hold",
            "assert_forfeitures_are_the_non_vested_employer_balance",
            "assert_balances_roll_forward",
        ]
    )

    assert {node.status for node in result.nodes} == {"pass"}


# -- 7. existing configs give identical results ---------------------------------------------

# The digests of the default config's results on the bundled census, 2025-2029, before
# this issue (commit 4ec340d): every row sorted, over the columns each table had then
# (fct_workforce_snapshot 63, fct_yearly_events 11, fct_year_metrics 38).
BEFORE_DESIGNS = {
    "fct_workforce_snapshot": (63, "541d268f99156ab925fef1971e7266055d335c87c180eea78a001976a3ec2eb5"),
    "fct_yearly_events": (11, "120d62840fceb00a31915a8e7bf723e07a3c0379bc94152b186bfd1e71b3dc6e"),
    "fct_year_metrics": (38, "a822adb9dca3268f39c6f6fca100fbd414a7e3f2eab24ff96939d856a74b21e5"),
}
NEW_COLUMNS = {
    "fct_workforce_snapshot": {
        "match_contribution",
        "true_up_contribution",
        "core_contribution",
        "match_vested_percent",
        "nonelective_vested_percent",
    },
    "fct_yearly_events": set(),
    "fct_year_metrics": {
        "match_contributions",
        "true_up_contributions",
        "core_contributions",
        "eligible_compensation",
        "net_employer_cost_rate",
        "credited_participants",
        "cost_per_participant",
        "is_safe_harbor",
        # the nondiscrimination tests' results (issue 25), read from fct_compliance
        "hce_count",
        "key_employee_count",
        *(f"{test}_{figure}" for test in ("adp", "acp") for figure in ("hce_average", "nhce_average", "limit")),
        *(f"{test}_{figure}" for test in ("adp", "acp") for figure in ("margin", "fail", "excess")),
        "adp_qnec_cost",
        "acp_qmac_cost",
        "coverage_ratio",
        "coverage_margin",
        "coverage_fail",
        "key_employee_share",
        "top_heavy",
        "top_heavy_minimum_cost",
    },
}


@pytest.mark.dbt
def test_the_default_config_gives_the_results_it_gave_before_the_designs(simulated_workspace: Workspace) -> None:
    with duckdb.connect(str(simulated_workspace.database_path), read_only=True) as conn:
        for table, (count, digest) in BEFORE_DESIGNS.items():
            columns = [
                name
                for (name,) in conn.execute(
                    "select column_name from information_schema.columns where table_name = ? order by ordinal_position",
                    [table],
                ).fetchall()
                if name not in NEW_COLUMNS[table]
            ]
            rows = conn.execute(f"select {', '.join(columns)} from main.{table} order by all").fetchall()

            assert len(columns) == count, table
            assert hashlib.sha256(repr(rows).encode()).hexdigest() == digest, table
        new = conn.execute(
            "select sum(true_up_contributions), sum(core_contributions), "
            "sum(match_contributions - employer_contributions), bool_or(is_safe_harbor) from main.fct_year_metrics"
        ).fetchone()
    assert new == (0, 0, 0, False), "today's match only: no true-up, no core, not safe harbor"


# -- 8. settings the law or the config refuses, before anything is written ------------------

BAD_DESIGNS = [
    pytest.param(
        {"core": {"core_formula": "integrated", "core_rate": 0.03, "core_excess_rate": 0.07}},
        "core.core_excess_rate",
        ["401(l)(2)", "the lesser of the base rate (0.03) and 0.057"],
        "Lower core.core_excess_rate to at most 0.06, or raise core.core_rate.",
        id="spread-above-the-base-rate",
    ),
    pytest.param(
        {
            "core": {
                "core_formula": "integrated",
                "core_rate": 0.06,
                "core_excess_rate": 0.11,
                "integration_level_share": 0.5,
            }
        },
        "core.core_excess_rate",
        ["401(l)(2)", "0.043 at an integration level of 0.5 x the taxable wage base"],
        "Lower core.core_excess_rate to at most 0.103, or raise core.core_rate.",
        id="spread-above-4.3-at-half-the-wage-base",
    ),
    pytest.param(
        {
            "core": {
                "core_formula": "integrated",
                "core_rate": 0.06,
                "core_excess_rate": 0.115,
                "integration_level_share": 0.9,
            }
        },
        "core.core_excess_rate",
        ["401(l)(2)", "0.054 at an integration level of 0.9 x the taxable wage base"],
        "Lower core.core_excess_rate to at most 0.114, or raise core.core_rate.",
        id="spread-above-5.4-at-90-percent-of-the-wage-base",
    ),
    pytest.param(
        {"match": {"match_formula": "service_bands", "match_bands": TENURE_BANDS}, "plan": {"match_rate": 1.0}},
        "plan.match_rate",
        ["reads the tiers of each band"],
        "Remove plan.match_rate, or set match.match_formula: tiers.",
        id="plan-match-beside-tenure-bands",
    ),
    pytest.param(
        {"safe_harbor": {"safe_harbor_design": "basic_match"}, "match": {"match_last_day": True}},
        "match.match_last_day",
        ["every eligible employee", "401(k)(12)"],
        "Set match.match_last_day to false, or safe_harbor_design: none.",
        id="last-day-rule-on-a-safe-harbor-match",
    ),
    pytest.param(
        {"safe_harbor": {"safe_harbor_design": "nonelective_3"}, "core": {"core_min_hours": 1000}},
        "core.core_min_hours",
        ["every eligible employee", "401(k)(12)"],
        "Set core.core_min_hours to 0, or safe_harbor_design: none.",
        id="hours-rule-on-a-safe-harbor-nonelective",
    ),
    pytest.param(
        {"plan": {"match_tiers": [{"rate": 1.0, "up_to": 0.05}, {"rate": 0.5, "up_to": 0.03}]}},
        "plan.match_tiers",
        ["tier 2 up_to must be above 0.05", "rising order"],
        "Change plan.match_tiers: tier 2 up_to must be above 0.05",
        id="match-tiers-out-of-order",
    ),
    pytest.param(
        {
            "match": {
                "match_formula": "service_bands",
                "match_bands": [
                    {"at_least": 0, "tiers": [{"rate": 0.5, "up_to": 0.06}]},
                    {"at_least": 10, "tiers": [{"rate": 1.0, "up_to": 0.06}]},
                    {"at_least": 5, "tiers": [{"rate": 0.75, "up_to": 0.06}]},
                ],
            }
        },
        "match.match_bands",
        ["band 3 starts at 5, not above band 2's 10", "rising order of at_least"],
        "Change match.match_bands: the bands must be in rising order",
        id="tenure-bands-out-of-order",
    ),
    pytest.param(
        {
            "core": {
                "core_formula": "age_bands",
                "core_bands": [{"at_least": 0, "rate": 0.02}, {"at_least": 0, "rate": 0.04}],
            }
        },
        "core.core_bands",
        ["band 2 starts at 0"],
        "Change core.core_bands: the bands must be in rising order",
        id="core-bands-out-of-order",
    ),
    pytest.param(
        {"safe_harbor": {"safe_harbor_design": "qaca_basic_match"}, "plan": {"auto_enrollment": False}},
        "plan.auto_enrollment",
        ["401(k)(13)(C)"],
        "Set plan.auto_enrollment: true",
        id="qaca-without-auto-enrollment",
    ),
    pytest.param(
        {"safe_harbor": {"safe_harbor_design": "enhanced_match"}, "plan": {"match_rate": 1.0}},
        "plan.match_rate",
        ["sets the match itself"],
        "Remove plan.match_rate",
        id="safe-harbor-match-beside-a-match",
    ),
    pytest.param(
        {"match": {"true_up": True}},
        "match.true_up",
        ["per-pay-period match"],
        "Set match.match_period: pay_period, or true_up: false.",
        id="true-up-of-a-yearly-match",
    ),
    pytest.param(
        {"core": {"core_rate": 0.03}},
        "core.core_rate",
        ["core_formula none does not read core_rate"],
        "Set core.core_formula: flat (or integrated), or core_rate: 0.",
        id="core-rate-without-a-formula",
    ),
    pytest.param(
        {"safe_harbor": {"qaca_vesting_years": 3}},
        "safe_harbor.qaca_vesting_years",
        ["401(k)(13)(D)(iii)"],
        "Set safe_harbor.qaca_vesting_years to an integer >= 0 and <= 2",
        id="qaca-cliff-of-three-years",
    ),
]


@pytest.mark.parametrize(("sections", "key", "why", "fix"), BAD_DESIGNS)
def test_a_design_the_law_or_the_config_refuses_names_the_key_and_the_fix_before_anything_is_written(
    workspace: Workspace, planalign_cli: Any, sections: dict[str, dict[str, object]], key: str, why: list[str], fix: str
) -> None:
    raw = yaml.safe_load(workspace.config_path.read_text())
    for section, values in sections.items():
        raw[section].update(values)
    workspace.config_path.write_text(yaml.safe_dump(raw, sort_keys=False))

    with pytest.raises(ConfigurationError) as caught:
        load_config(workspace.config_path)
    simulate = planalign_cli("simulate", "2025", "--workspace", str(workspace.root))

    assert caught.value.key == key
    for words in why:
        assert words in str(caught.value)
    assert fix in (caught.value.remediation or "")
    assert simulate.returncode == 2
    assert key in simulate.stderr
    assert not workspace.database_path.exists(), "nothing is written"
    assert sorted(path.name for path in workspace.root.iterdir()) == ["census.csv", "simulation_config.yaml"]


def test_a_scenario_overriding_a_refused_design_writes_no_scenario_file(workspace: Workspace) -> None:
    session = WorkspaceSession(workspace)

    with pytest.raises(ConfigurationError) as caught:
        session.for_scenario(
            "sh_last_day", {"safe_harbor.safe_harbor_design": "basic_match", "match.match_last_day": True}
        )

    assert caught.value.key == "match.match_last_day"
    assert not (workspace.root / "scenarios").exists()
    assert not workspace.database_path.exists()


# -- 9. the new keys make what reads them stale ---------------------------------------------


@pytest.mark.dbt
def test_a_changed_design_makes_every_simulated_year_stale_naming_the_key(simulated_workspace: Workspace) -> None:
    config = simulated_workspace.config_path
    simulated = config.read_text()
    changes = {
        "core": {"core_formula": "flat", "core_rate": 0.03},
        "match": {"match_period": "pay_period", "true_up": True},
        "safe_harbor": {"safe_harbor_design": "qaca_nonelective_3"},
    }
    for section, values in changes.items():
        config.write_text(simulated)
        years = WorkspaceSession(edit_config_sections(simulated_workspace, **{section: values})).status().years

        assert all(status.state.needs_build for status in years), section
        for name in values:
            assert f"config {section}.{name} changed" in years[0].explanation, years[0].explanation
    config.write_text(simulated)
    assert WorkspaceSession(Workspace.open(simulated_workspace.root, create=False)).status().up_to_date
