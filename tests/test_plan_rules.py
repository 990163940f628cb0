"""The plan as sponsors run it (issue 23): eligibility, hours, balances, vesting, forfeitures.

Every rule is checked on real dbt and DuckDB with the hand-made employees of
tests/support/plan_census.py, whose amounts follow from their census row and the config
alone (no hazard terminations, no pay changes: PLAN_BASE_CONFIG). Expected dollars are
computed here, to the cent, from the rule as DOMAIN.md states it; the database is read
with duckdb directly, never through the engine under test. The base run (one-year
eligibility with quarterly entry, 6-year graded vesting) covers 2025-2026; each variant
changes a few keys and simulates again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest
import yaml

from planalign_orchestrator.census_generator import generate_census
from planalign_orchestrator.config import load_config
from planalign_orchestrator.exceptions import ConfigurationError, DbtError
from planalign_orchestrator.factory import create_dbt_runner
from planalign_orchestrator.metrics import METRICS
from planalign_orchestrator.session import WorkspaceSession
from planalign_orchestrator.workspace import Workspace
from tests.conftest import copy_workspace
from tests.support.helpers import edit_config_sections, execute
from tests.support.plan_census import PEOPLE, PLAN_BASE_CONFIG, write_plan_census

RETURN = Decimal("0.06")
CASH_OUT_LIMIT = Decimal("7000")
MATCH_RATE, MATCH_CAP = Decimal("0.5"), Decimal("0.06")


# -- hand computation ------------------------------------------------------------------


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def days(first: date, last: date) -> int:
    return (last - first).days + 1


def days_in(year: int) -> int:
    return days(date(year, 1, 1), date(year, 12, 31))


def pay_between(pay: str, first: date, last: date) -> Decimal:
    """Salary for the days first..last of their year (DOMAIN: pay for the period eligible)."""
    return cents(Decimal(pay) * days(first, last) / days_in(first.year))


def match_on(deferred: Decimal, compensation: Decimal) -> Decimal:
    """The default match: 50% of the deferrals up to 6% of pay (plan.match_rate, match_cap)."""
    return cents(MATCH_RATE * min(deferred, MATCH_CAP * compensation))


def earnings(start: Decimal, start_share: Decimal, paid_in: Decimal, paid_share: Decimal) -> Decimal:
    """The year's return on the start balance for its time invested, on contributions for half of theirs."""
    return cents(start * RETURN * start_share + paid_in * RETURN * paid_share / 2)


# -- the runs --------------------------------------------------------------------------


def query(root: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with duckdb.connect(str(root / "simulation.duckdb"), read_only=True) as conn:
        cursor = conn.execute(sql, params or [])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def row(root: Path, table: str, employee_id: str, year: int) -> dict[str, Any]:
    rows = query(root, f"select * from main.{table} where employee_id = ? and simulation_year = ?", [employee_id, year])
    assert len(rows) == 1, (table, employee_id, year, rows)
    return rows[0]


def events(root: Path, employee_id: str) -> dict[tuple[int, str], dict[str, Any]]:
    found = query(root, "select * from main.fct_yearly_events where employee_id = ?", [employee_id])
    return {(event["simulation_year"], event["event_type"]): event for event in found}


def merged(*configs: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    sections: dict[str, dict[str, object]] = {}
    for config in configs:
        for section, values in config.items():
            sections.setdefault(section, {}).update(values)
    return sections


@pytest.fixture(scope="module")
def plan_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plan census under PLAN_BASE_CONFIG, simulated 2025-2026 (read-only: copy to change)."""
    workspace = Workspace.open(tmp_path_factory.mktemp("plan") / "workspace")
    write_plan_census(workspace.config.census_path)
    workspace = edit_config_sections(workspace, **PLAN_BASE_CONFIG)
    WorkspaceSession(workspace).simulate(2025, 2026)
    return workspace.root


def _variant(template: Path, folder: Path, years: tuple[int, int], **sections: dict[str, object]) -> Callable[[], Path]:
    def build() -> Path:
        workspace = edit_config_sections(copy_workspace(template, folder), **merged(PLAN_BASE_CONFIG, sections))
        WorkspaceSession(workspace).simulate(*years)
        return workspace.root

    return build


@pytest.fixture(scope="module")
def cliff_monthly_run(plan_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Monthly entry, no long-term part-time rule, a 3-year cliff; 2025."""
    folder = tmp_path_factory.mktemp("cliff") / "workspace"
    return _variant(
        plan_template,
        folder,
        (2025, 2025),
        eligibility={"entry_dates": "monthly", "long_term_part_time": False},
        vesting={"schedule": "cliff", "schedule_years": 3},
    )()


@pytest.fixture(scope="module")
def custom_semiannual_run(plan_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Semiannual entry, a custom schedule counting service only from the year of entry; 2025."""
    folder = tmp_path_factory.mktemp("custom") / "workspace"
    return _variant(
        plan_template,
        folder,
        (2025, 2025),
        eligibility={"entry_dates": "semiannual"},
        vesting={
            "schedule": "custom",
            "schedule_percentages": [0.2, 0.4, 0.6, 0.8, 1.0],
            "count_service_before_eligibility": False,
        },
    )()


@pytest.fixture(scope="module")
def employer_rule_run(plan_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Immediate eligibility to defer, employer money after a year of service, immediate vesting; 2025."""
    folder = tmp_path_factory.mktemp("employer") / "workspace"
    return _variant(
        plan_template,
        folder,
        (2025, 2025),
        eligibility={
            "service_requirement": "none",
            "entry_dates": "immediate",
            "minimum_age": 0,
            "employer_service_requirement": "one_year",
        },
        vesting={"schedule": "immediate"},
    )()


@pytest.fixture(scope="module")
def reallocation_run(plan_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Forfeitures re-allocated to participants, and every terminated-vested participant paid out; 2025-2026."""
    folder = tmp_path_factory.mktemp("reallocation") / "workspace"
    return _variant(
        plan_template,
        folder,
        (2025, 2026),
        forfeitures={"used_for": "reallocation"},
        balances={"distribution_rate": 1.0},
    )()


# -- 1. nobody defers before the entry date ----------------------------------------------


@pytest.mark.dbt
def test_nobody_defers_before_the_entry_date_and_auto_enrollment_waits_for_it(plan_template: Path) -> None:
    waits = row(plan_template, "fct_workforce_snapshot", "WAITS_ONE_YEAR", 2025)
    # a year of service on 2025-05-10, then the next quarterly entry date
    entry = date(2025, 7, 1)
    compensation = pay_between(PEOPLE["WAITS_ONE_YEAR"].pay, entry, date(2025, 12, 31))
    deferred = cents(compensation * Decimal("0.06"))

    assert waits["eligibility_entry_date"] == entry
    assert waits["is_eligible"]
    assert waits["enrolled"]
    assert waits["plan_compensation"] == compensation == Decimal("36800.00")
    assert waits["employee_contribution"] == deferred
    assert waits["employer_contribution"] == match_on(deferred, compensation)
    assert events(plan_template, "WAITS_ONE_YEAR")[(2025, "enrollment")]["event_date"] == entry
    assert events(plan_template, "WAITS_ONE_YEAR")[(2025, "eligibility")]["event_date"] == entry

    # an election in the census waits for the entry date (2026-01-01): nothing in 2025
    early_2025 = row(plan_template, "fct_workforce_snapshot", "ELECTED_EARLY", 2025)
    early_2026 = row(plan_template, "fct_workforce_snapshot", "ELECTED_EARLY", 2026)
    assert early_2025["eligibility_entry_date"] == date(2026, 1, 1)
    assert not early_2025["is_eligible"]
    assert not early_2025["enrolled"]
    assert early_2025["employee_contribution"] == early_2025["employer_contribution"] == 0
    assert early_2026["employee_contribution"] == Decimal("3000.00")
    assert early_2026["employer_contribution"] == Decimal("1500.00")
    assert (2026, "enrollment") not in events(plan_template, "ELECTED_EARLY"), "the census election stands"

    # the age requirement: 21 on 2026-09-01, entry 2026-10-01, auto-enrolled then
    young_2025 = row(plan_template, "fct_workforce_snapshot", "YOUNG", 2025)
    young_2026 = row(plan_template, "fct_workforce_snapshot", "YOUNG", 2026)
    young_pay = pay_between(PEOPLE["YOUNG"].pay, date(2026, 10, 1), date(2026, 12, 31))
    assert young_2025["eligibility_entry_date"] == date(2026, 10, 1)
    assert young_2025["employee_contribution"] == 0
    assert young_2026["employee_contribution"] == cents(young_pay * Decimal("0.06"))
    assert events(plan_template, "YOUNG")[(2026, "enrollment")]["event_date"] == date(2026, 10, 1)

    # and for everyone: no contribution without eligibility, no enrollment before the entry date
    offenders = query(
        plan_template,
        """
        select s.employee_id, s.simulation_year
        from main.fct_workforce_snapshot as s
        left join main.fct_yearly_events as e
            on e.employee_id = s.employee_id and e.simulation_year = s.simulation_year and e.event_type = 'enrollment'
        where (not s.is_eligible and (s.employee_contribution > 0 or s.employer_contribution > 0 or s.enrolled))
           or e.event_date < s.eligibility_entry_date
        """,
    )
    assert offenders == []


# -- 2. hours: the 1,000-hour year and long-term part-time --------------------------------


@pytest.mark.dbt
def test_a_year_of_1000_hours_and_the_long_term_part_time_rule(plan_template: Path, cliff_monthly_run: Path) -> None:
    full_time = row(plan_template, "fct_workforce_snapshot", "WAITS_ONE_YEAR", 2025)
    part_1200 = row(plan_template, "fct_workforce_snapshot", "PART_TIME_1200", 2025)
    part_800 = row(plan_template, "fct_workforce_snapshot", "PART_TIME_800", 2025)
    part_400 = row(plan_template, "fct_workforce_snapshot", "PART_TIME_400", 2025)
    entry_1200 = date(2025, 4, 1)  # a year of 1,200 hours on 2025-03-15
    pay_1200 = pay_between(PEOPLE["PART_TIME_1200"].pay, entry_1200, date(2025, 12, 31))
    deferred_1200 = cents(pay_1200 * Decimal("0.06"))

    assert full_time["hours_worked"] == 12 * 190
    assert (part_1200["hours_worked"], part_800["hours_worked"], part_400["hours_worked"]) == (1200, 800, 400)
    assert part_1200["eligibility_entry_date"] == entry_1200
    assert part_1200["employee_contribution"] == deferred_1200
    assert part_1200["employer_contribution"] == match_on(deferred_1200, pay_1200)
    assert not part_1200["is_long_term_part_time"]

    # 800 hours: 500 in two consecutive periods by 2024-06-01, entry no earlier than the 2025 plan year
    assert part_800["is_long_term_part_time"]
    assert part_800["is_eligible"]
    assert part_800["eligibility_entry_date"] == date(2025, 1, 1)
    assert part_800["employee_contribution"] == cents(Decimal(PEOPLE["PART_TIME_800"].pay) * Decimal("0.06"))
    assert part_800["employer_entry_date"] is None
    assert part_800["employer_contribution"] == 0
    assert events(plan_template, "PART_TIME_800")[(2025, "eligibility")]["event_details"].startswith(
        "may defer (long-term part-time"
    )

    # 400 hours: never eligible
    assert part_400["eligibility_entry_date"] is None
    assert not part_400["is_eligible"]
    assert part_400["employee_contribution"] == 0

    # without the long-term part-time rule the 800-hour employee waits for ever; monthly entry
    assert row(cliff_monthly_run, "fct_workforce_snapshot", "PART_TIME_800", 2025)["is_eligible"] is False
    assert row(cliff_monthly_run, "fct_workforce_snapshot", "PART_TIME_1200", 2025)["eligibility_entry_date"] == date(
        2025, 4, 1
    )
    assert row(cliff_monthly_run, "fct_workforce_snapshot", "WAITS_ONE_YEAR", 2025)["eligibility_entry_date"] == date(
        2025, 6, 1
    )


# -- 3. each vesting schedule by years of service ------------------------------------------

# Plan years with 1,000 hours by the end of 2025 (or the termination date).
SERVICE_2025 = {
    "PART_TIME_800": 0,  # never 1,000 hours
    "HIRED_AUGUST": 1,  # 2024: 5 months x 190 = 950 hours
    "PART_TIME_1200": 1,  # 2024: 1,200 x 292/366 = 957 hours
    "WAITS_ONE_YEAR": 2,  # 2024: 8 months x 190 = 1,520 hours
    "VESTED_FOUR_YEARS": 4,
    "LEAVES_VESTED": 4,  # 2025 until June 30: 6 x 190 = 1,140 hours
    "VESTED_SEVEN_YEARS": 7,
}
SCHEDULES = {
    # 6-year graded: 0/20/40/60/80/100% after 1..6 years (IRC 411(a)(2)(B))
    "plan_template": {0: "0", 1: "0", 2: "0.2", 4: "0.6", 7: "1"},
    # 3-year cliff (IRC 411(a)(2)(A))
    "cliff_monthly_run": {0: "0", 1: "0", 2: "0", 4: "1", 7: "1"},
    "employer_rule_run": {0: "1", 1: "1", 2: "1", 4: "1", 7: "1"},
}


@pytest.mark.dbt
@pytest.mark.parametrize("run", SCHEDULES)
def test_each_vesting_schedule_by_years_of_service(run: str, request: pytest.FixtureRequest) -> None:
    root: Path = request.getfixturevalue(run)
    for employee_id, years in SERVICE_2025.items():
        snapshot = row(root, "fct_workforce_snapshot", employee_id, 2025)

        assert snapshot["vesting_service_years"] == years, employee_id
        assert snapshot["vested_percent"] == Decimal(SCHEDULES[run][years]), (employee_id, years)


@pytest.mark.dbt
def test_a_custom_schedule_counting_service_from_the_year_of_entry(custom_semiannual_run: Path) -> None:
    # [20%, 40%, 60%, 80%, 100%] after 1..5 years; years before the year of entry do not count
    expected = {
        "VESTED_FOUR_YEARS": (3, "0.6"),  # entered 2023-01-01: 2023, 2024, 2025
        "VESTED_SEVEN_YEARS": (6, "1"),  # entered 2020-01-01
        "WAITS_ONE_YEAR": (1, "0.2"),  # entered 2025-07-01 (semiannual)
        "PART_TIME_400": (0, "0"),  # never entered
    }
    for employee_id, (years, share) in expected.items():
        snapshot = row(custom_semiannual_run, "fct_workforce_snapshot", employee_id, 2025)

        assert (snapshot["vesting_service_years"], snapshot["vested_percent"]) == (years, Decimal(share)), employee_id
    assert row(custom_semiannual_run, "fct_workforce_snapshot", "WAITS_ONE_YEAR", 2025)[
        "eligibility_entry_date"
    ] == date(2025, 7, 1)


@pytest.mark.dbt
def test_employer_money_can_wait_longer_than_deferrals(employer_rule_run: Path) -> None:
    early = row(employer_rule_run, "fct_workforce_snapshot", "ELECTED_EARLY", 2025)
    pay = PEOPLE["ELECTED_EARLY"].pay
    deferred = cents(Decimal(pay) * Decimal("0.05"))  # defers all year: eligible since the hire date
    employer_pay = pay_between(pay, date(2025, 11, 20), date(2025, 12, 31))  # a year of service on 2025-11-20
    match_deferrals = cents(deferred * employer_pay / Decimal(pay))

    assert early["eligibility_entry_date"] == date(2024, 11, 20)
    assert early["employer_entry_date"] == date(2025, 11, 20)
    assert early["employee_contribution"] == deferred
    assert early["employer_plan_compensation"] == employer_pay
    assert early["employer_contribution"] == match_on(match_deferrals, employer_pay) == Decimal("172.61")


# -- 4. forfeitures, cash-outs, balances ---------------------------------------------------


def leaver_accounts(person: str, termination: date, vested: Decimal) -> dict[str, Decimal]:
    """The hand-computed account of a 2025 leaver: contributions, earnings, forfeiture, what is vested."""
    p = PEOPLE[person]
    start_share = Decimal(days(date(2025, 1, 1), termination)) / days_in(2025)
    compensation = pay_between(p.pay, date(2025, 1, 1), termination)
    deferred = cents(compensation * Decimal(p.deferral_rate))
    match = match_on(deferred, compensation)
    start_deferral = Decimal(p.deferral_balance or "0")
    start_match = Decimal(p.match_balance or "0")
    match_held = start_match + match + earnings(start_match, start_share, match, start_share)
    deferral_held = start_deferral + deferred + earnings(start_deferral, start_share, deferred, start_share)
    forfeited = cents(match_held * (1 - vested))
    return {
        "deferred": deferred,
        "match": match,
        "forfeited": forfeited,
        "end_deferral": deferral_held,
        "end_match": match_held - forfeited,
        "vested_balance": deferral_held + match_held - forfeited,
    }


# Every account-year: the employees' (fct_workforce_snapshot) and the terminated-vested
# participants' of earlier years (fct_terminated_vested_balances), with their totals.
ACCOUNTS = """
    select simulation_year, employee_id, account_status, termination_date,
           start_deferral + start_roth + start_match + start_nonelective as start_balance,
           employee_contribution + employer_contribution + forfeiture_allocation as contributions,
           earnings, distributions, forfeited_match + forfeited_nonelective as forfeitures,
           end_deferral + end_roth + end_match + end_nonelective as end_balance, end_deferral, end_match
    from main.fct_workforce_snapshot where account_status is not null
    union all by name
    select simulation_year, employee_id, account_status,
           start_deferral + start_roth + start_match + start_nonelective as start_balance,
           0 as contributions, earnings, distributions, 0 as forfeitures,
           end_deferral + end_roth + end_match + end_nonelective as end_balance, end_deferral, end_match
    from main.fct_terminated_vested_balances
"""


def account(root: Path, employee_id: str, year: int) -> dict[str, Any]:
    rows = query(root, f"select * from ({ACCOUNTS}) where employee_id = ? and simulation_year = ?", [employee_id, year])
    assert len(rows) == 1, (employee_id, year, rows)
    return rows[0]


@pytest.mark.dbt
def test_a_leaver_forfeits_the_non_vested_employer_balance_to_the_cent(plan_template: Path) -> None:
    vested = leaver_accounts("LEAVES_VESTED", date(2025, 6, 30), Decimal("0.6"))
    small = leaver_accounts("LEAVES_SMALL", date(2025, 3, 31), Decimal("0"))
    vested_row = row(plan_template, "fct_workforce_snapshot", "LEAVES_VESTED", 2025)
    small_row = row(plan_template, "fct_workforce_snapshot", "LEAVES_SMALL", 2025)

    assert vested_row["employer_contribution"] == vested["match"]
    assert vested_row["forfeited_match"] == vested["forfeited"] > 0
    assert vested_row["forfeited_nonelective"] == 0
    assert small_row["forfeited_match"] == small["forfeited"] > 0, "0% vested: all of the match"
    assert small_row["forfeited_nonelective"] == 0
    by_event = {
        employee_id: events(plan_template, employee_id)[(2025, "forfeiture")]
        for employee_id in ("LEAVES_VESTED", "LEAVES_SMALL")
    }
    assert by_event["LEAVES_VESTED"]["amount"] == vested["forfeited"]
    assert by_event["LEAVES_VESTED"]["event_date"] == date(2025, 6, 30)
    assert by_event["LEAVES_SMALL"]["amount"] == small["forfeited"]

    # the year's forfeitures are used the next year: here they fund employer contributions
    metrics = {m["simulation_year"]: m for m in query(plan_template, "select * from main.fct_year_metrics")}
    total = vested["forfeited"] + small["forfeited"]
    assert metrics[2025]["forfeitures"] == total
    assert metrics[2025]["forfeitures_used"] == 0
    assert metrics[2026]["forfeitures_used"] == total
    assert metrics[2026]["employer_contributions_net"] == metrics[2026]["employer_contributions"] - total


@pytest.mark.dbt
def test_only_vested_balances_under_the_limit_are_cashed_out(plan_template: Path, reallocation_run: Path) -> None:
    vested = leaver_accounts("LEAVES_VESTED", date(2025, 6, 30), Decimal("0.6"))
    small = leaver_accounts("LEAVES_SMALL", date(2025, 3, 31), Decimal("0"))
    vested_2025 = account(plan_template, "LEAVES_VESTED", 2025)
    vested_2026 = row(plan_template, "fct_terminated_vested_balances", "LEAVES_VESTED", 2026)
    small_2025 = account(plan_template, "LEAVES_SMALL", 2025)

    assert small["vested_balance"] < CASH_OUT_LIMIT <= vested["vested_balance"]
    assert small_2025["account_status"] == "cashed_out"
    assert small_2025["distributions"] == small["vested_balance"]
    assert small_2025["end_balance"] == 0
    assert events(plan_template, "LEAVES_SMALL")[(2025, "cash_out")]["amount"] == small["vested_balance"]
    assert vested_2025["account_status"] == "terminated_vested"
    assert (vested_2025["end_deferral"], vested_2025["end_match"]) == (vested["end_deferral"], vested["end_match"])
    assert vested_2025["distributions"] == 0
    assert vested_2025["end_balance"] == vested["vested_balance"]
    # the next year the balance stays in the plan and earns a full year's return
    assert vested_2026["account_status"] == "terminated_vested"
    assert (vested_2026["start_deferral"], vested_2026["start_match"]) == (vested["end_deferral"], vested["end_match"])
    assert vested_2026["earnings"] == cents(vested["end_deferral"] * RETURN) + cents(vested["end_match"] * RETURN)
    # with a distribution rate of 100% every terminated-vested participant takes it the next year
    paid = account(reallocation_run, "LEAVES_VESTED", 2026)
    assert paid["account_status"] == "distributed"
    assert paid["distributions"] == paid["start_balance"] + paid["earnings"]
    assert paid["end_balance"] == 0

    for root in (plan_template, reallocation_run):
        wrong = query(
            root,
            f"""
            select employee_id, simulation_year, account_status from ({ACCOUNTS})
            where (account_status = 'cashed_out' and distributions >= 7000)
               or (termination_date is not null and account_status = 'terminated_vested' and end_balance < 7000)
               or (account_status = 'active' and distributions <> 0)
            """,
        )
        assert wrong == []


@pytest.mark.dbt
@pytest.mark.parametrize("run", ["plan_template", "reallocation_run"])
def test_every_account_rolls_forward_to_the_cent(run: str, request: pytest.FixtureRequest) -> None:
    root: Path = request.getfixturevalue(run)
    rows = query(root, f"select * from ({ACCOUNTS}) order by simulation_year, employee_id")
    ends = {(r["simulation_year"], r["employee_id"]): r["end_balance"] for r in rows}

    # an account holds money, from the start of the year or paid in during it
    assert {r["employee_id"] for r in rows if r["simulation_year"] == 2025} == {
        "WAITS_ONE_YEAR",
        "PART_TIME_1200",
        "PART_TIME_800",
        "VESTED_FOUR_YEARS",
        "VESTED_SEVEN_YEARS",
        "HIRED_AUGUST",
        "LEAVES_VESTED",
        "LEAVES_SMALL",
    }
    for r in rows:
        moved = r["start_balance"] + r["contributions"] + r["earnings"] - r["distributions"] - r["forfeitures"]
        assert moved == r["end_balance"], r
        if r["simulation_year"] == 2026:
            assert r["start_balance"] == ends.get((2025, r["employee_id"]), 0), r
    carried = [key for key, end in ends.items() if key[0] == 2025 and end > 0]
    assert all((2026, employee_id) in ends for _, employee_id in carried)


@pytest.mark.dbt
def test_reallocated_forfeitures_go_to_eligible_participants_pro_rata(reallocation_run: Path) -> None:
    pool = query(reallocation_run, "select forfeitures_available from main.fct_year_plan where simulation_year = 2026")
    shares = query(
        reallocation_run,
        """
        select employee_id, forfeiture_allocation, employer_plan_compensation, is_employer_eligible
        from main.fct_workforce_snapshot where simulation_year = 2026 and employment_status = 'active'
        """,
    )
    available = pool[0]["forfeitures_available"]
    paid = sum(s["employer_plan_compensation"] for s in shares if s["is_employer_eligible"])
    metrics = query(reallocation_run, "select * from main.fct_year_metrics where simulation_year = 2026")[0]

    assert available > 0
    for share in shares:
        expected = cents(available * share["employer_plan_compensation"] / paid) if share["is_employer_eligible"] else 0
        assert share["forfeiture_allocation"] == expected, share
    assert abs(sum(s["forfeiture_allocation"] for s in shares) - available) <= Decimal("0.01") * len(shares)
    assert metrics["employer_contributions_net"] == metrics["employer_contributions"]
    assert metrics["forfeitures_used"] == available


# -- 5. the dbt data tests hold, and catch a broken row --------------------------------


@pytest.mark.dbt
def test_the_plan_data_tests_pass_and_fail_on_a_broken_row(plan_template: Path, tmp_path: Path) -> None:
    workspace = copy_workspace(plan_template, tmp_path / "broken")
    runner = create_dbt_runner(workspace.config, workspace.database_path)
    plan_tests = [
        "assert_balances_roll_forward",
        "assert_forfeitures_are_the_non_vested_employer_balance",
        "assert_cash_outs_only_below_the_limit",
        "assert_no_contributions_before_plan_entry",
        "assert_contributions_within_irs_limits",
    ]

    passed = runner.test(plan_tests)
    execute(
        workspace.database_path,
        "update main.fct_workforce_snapshot set end_match = end_match + 0.01, forfeited_match = forfeited_match - 0.01 "
        "where employee_id = 'LEAVES_VESTED' and simulation_year = 2025",
        "update main.fct_workforce_snapshot set employee_contribution = 100 "
        "where employee_id = 'PART_TIME_400' and simulation_year = 2025",
    )
    with pytest.raises(DbtError) as failed:
        runner.test(plan_tests)

    assert {node.status for node in passed.nodes} == {"pass"}
    assert len(passed.nodes) == len(plan_tests)
    message = str(failed.value)
    assert "assert_forfeitures_are_the_non_vested_employer_balance" in message
    assert "assert_balances_roll_forward" in message, "the carried balance no longer matches 2026's start"
    assert "assert_no_contributions_before_plan_entry" in message


# -- 6. defaults: the rules off, today's results ------------------------------------------

# The digest of fct_year_metrics's 28 columns before this issue (scenario_id ...
# irs_limits_estimated), rows sorted, on the bundled census simulated 2025-2029 with the
# default config: computed with pre_plan_digest() on commit 5748e9f, the commit before
# the plan rules.
PRE_PLAN_COLUMNS = 28
PRE_PLAN_DIGEST = "fe65077b0eae45f4"


def pre_plan_digest(database: Path) -> str:
    columns = ["scenario_id", "random_seed", "simulation_year", *(m.column for m in METRICS)][:PRE_PLAN_COLUMNS]
    with duckdb.connect(str(database), read_only=True) as conn:
        rows = conn.execute(f"select {', '.join(columns)} from main.fct_year_metrics order by all").fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


@pytest.mark.dbt
def test_the_default_config_reproduces_the_results_from_before_the_plan_rules(simulated_workspace: Workspace) -> None:
    metrics = query(simulated_workspace.root, "select * from main.fct_year_metrics order by simulation_year")

    assert pre_plan_digest(simulated_workspace.database_path) == PRE_PLAN_DIGEST
    # the README's figures (whole dollars), unchanged
    assert [round(m["employer_contributions"]) for m in metrics][:3] == [11_047_409, 12_311_260, 13_551_441]
    for m in metrics:
        assert m["eligible_headcount"] == m["headcount_end"], "immediate eligibility: every active employee"
        assert m["eligible_participation_rate"] == m["participation_rate"]
        assert m["forfeitures"] == m["forfeitures_used"] == 0, "immediate vesting: nothing to forfeit"
        assert m["employer_contributions_net"] == m["employer_contributions"]
        assert m["total_plan_assets"] > 0


# -- 7. everywhere the analyst works -------------------------------------------------------


@pytest.mark.dbt
def test_scenarios_set_overrides_compare_and_excel_see_the_plan_settings(plan_template: Path, tmp_path: Path) -> None:
    session = WorkspaceSession(copy_workspace(plan_template, tmp_path / "scenarios"))
    scenario = session.with_assignments("vest_now", ["vesting.schedule=immediate", "eligibility.entry_dates=monthly"])
    scenario.simulate(2025, 2026)

    comparison = session.compare(["baseline", "vest_now"], 2025, 2026)
    workbook = openpyxl.load_workbook(comparison.to_excel(tmp_path / "compare.xlsx"))

    assert scenario.config.vesting.schedule == "immediate"
    assert comparison.deltas.loc[("forfeitures", 2025), ("vest_now", "abs")] < 0
    assert comparison.table.loc[("total_plan_assets", 2026), "vest_now"] > 0
    assert "Forfeitures (non-vested, of leavers)" in str(comparison)
    cells = {str(cell.value) for sheet in workbook.worksheets for line in sheet.iter_rows() for cell in line}
    assert {"vesting.schedule", "eligibility.entry_dates", "forfeitures", "total_plan_assets"} <= cells


@pytest.mark.dbt
def test_each_seed_draws_its_own_market_return_and_equals_its_single_run(plan_template: Path, tmp_path: Path) -> None:
    workspace = edit_config_sections(
        copy_workspace(plan_template, tmp_path / "market"), balances={"return_volatility": 0.15}
    )
    session = WorkspaceSession(workspace)
    ensemble = session.ensemble(2025, 2026, seeds=[42, 43, 44], min_seeds=3)
    single = session.for_scenario("seed_43", {"simulation.random_seed": 43})
    single.simulate(2025, 2026)

    returns = ensemble.metrics.pivot(index="seed", columns="year", values="investment_return")
    alone = query(workspace.root, "select * from main.fct_year_metrics where scenario_id = 'seed_43'")

    assert returns.nunique().tolist() == [3, 3], "each seed and year its own return"
    assert (returns.abs() < 1).all().all()
    for year in (2025, 2026):
        metrics = ensemble.seed_metrics(43).loc[year]
        expected = next(m for m in alone if m["simulation_year"] == year)
        for column in ("investment_return", "total_plan_assets", "forfeitures", "employer_contributions_net"):
            assert metrics[column] == pytest.approx(float(expected[column]), abs=1e-9), column
    bands = ensemble.bands
    assert set(bands["metric"]) >= {"total_plan_assets", "investment_return", "forfeitures"}


@pytest.mark.dbt
def test_new_config_keys_and_census_columns_make_what_reads_them_stale(simulated_workspace: Workspace) -> None:
    workspace = edit_config_sections(simulated_workspace, vesting={"schedule": "cliff", "schedule_years": 3})
    years = WorkspaceSession(workspace).status().years

    census = workspace.config.census_path
    lines = census.read_text().splitlines()
    census.write_text("\n".join([lines[0] + ",match_balance", *(line + ",100.00" for line in lines[1:])]) + "\n")
    tables = {status.table.name: status for status in WorkspaceSession(workspace).status().tables}

    assert all(status.state.needs_build for status in years)
    assert "vesting.schedule" in years[0].explanation
    assert tables["int_baseline_workforce"].state.needs_build
    assert "census.csv changed" in tables["int_baseline_workforce"].explanation


# -- 8. bad plan settings are refused before anything is written ---------------------------

BAD_SETTINGS = [
    pytest.param({"eligibility": {"minimum_age": 22}}, "eligibility.minimum_age", "410(a)(1)(A)", id="age-above-21"),
    pytest.param(
        {"eligibility": {"service_requirement": "elapsed_months", "service_months": 24}},
        "eligibility.service_months",
        "at most one year of service",
        id="service-above-a-year",
    ),
    pytest.param(
        {"eligibility": {"employer_service_requirement": "two_years"}, "vesting": {"schedule": "graded"}},
        "eligibility.employer_service_requirement",
        "410(a)(1)(B)(i)",
        id="two-years-without-immediate-vesting",
    ),
    pytest.param(
        {"vesting": {"schedule": "custom", "schedule_percentages": [0.2, 0.6, 0.4, 1.0]}},
        "vesting.schedule_percentages",
        "never decrease",
        id="vesting-list-decreasing",
    ),
    pytest.param(
        {"vesting": {"schedule": "custom", "schedule_percentages": [0.2, 0.4, 0.6, 0.8]}},
        "vesting.schedule_percentages",
        "end at 1.0",
        id="vesting-list-short-of-100",
    ),
    pytest.param(
        {"vesting": {"schedule": "custom", "schedule_percentages": [0, 0, 0, 0, 0, 0.5, 1]}},
        "vesting.schedule_percentages",
        "411(a)(2)(B)",
        id="vesting-list-too-slow",
    ),
    pytest.param({"vesting": {"schedule": "cliff"}}, "vesting.schedule_years", "411(a)(2)(A)", id="cliff-six-years"),
    pytest.param({"balances": {"cash_out_limit": 10000}}, "balances.cash_out_limit", "$7,000", id="cash-out-limit"),
    pytest.param({"eligibility": {"entry_dates": "weekly"}}, "eligibility.entry_dates", "'semiannual'", id="entry"),
]


@pytest.mark.parametrize(("sections", "key", "rule"), BAD_SETTINGS)
def test_a_plan_setting_the_law_or_the_config_refuses_names_the_key_and_the_fix(
    workspace: Workspace, sections: dict[str, dict[str, object]], key: str, rule: str
) -> None:
    raw = yaml.safe_load(workspace.config_path.read_text())
    for section, values in sections.items():
        raw[section].update(values)
    workspace.config_path.write_text(yaml.safe_dump(raw, sort_keys=False))

    with pytest.raises(ConfigurationError) as caught:
        load_config(workspace.config_path)

    assert caught.value.key == key
    assert rule in str(caught.value)
    assert "To fix:" in str(caught.value)
    assert not workspace.database_path.exists()


def test_generated_censuses_hold_part_time_staff_only_when_asked() -> None:
    plain = generate_census(2_000, 7)
    mixed = generate_census(2_000, 7, part_time_share=0.25)
    part_time = mixed[mixed["annual_hours"] < 2080]["annual_hours"]

    assert "annual_hours" not in plain.columns
    assert mixed.drop(columns="annual_hours").equals(plain), "the other columns do not move"
    assert 0.2 < len(part_time) / len(mixed) < 0.3
    assert part_time.between(400, 1400).all()
    assert (part_time < 500).any()
    assert part_time.between(500, 999).any()
    assert (part_time >= 1000).any()
