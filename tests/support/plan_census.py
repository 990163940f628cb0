"""Hand-made employees, each placed where one plan rule bites (eligibility, hours, vesting, forfeitures).

The plan-rule tests simulate them with no hazard terminations, no pay changes and no
escalation (PLAN_BASE_CONFIG), so every amount can be computed by hand from the census
row and the config. Everyone is younger than 55, the first age with a retirement rate.
Two census terminations in 2025 are replaced by hires (growth 0); the tests never look
at those hires' amounts.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from planalign_orchestrator.census import BALANCE_COLUMNS, REQUIRED_COLUMNS


@dataclass(frozen=True)
class Person:
    birth: str
    hire: str
    level: int
    pay: str
    deferral_rate: str = "0"
    termination: str = ""
    annual_hours: str = ""
    deferral_balance: str = ""
    match_balance: str = ""


PEOPLE: dict[str, Person] = {
    # full-time (no hours: 190 a month), a year of service on 2025-05-10; 8 months of 2024 = 1,520 hours
    "WAITS_ONE_YEAR": Person("1990-01-01", "2024-05-10", 1, "73000.00"),
    # elected 5% in the census, but the year of service ends 2025-11-20: no deferral before 2026
    "ELECTED_EARLY": Person("1991-04-01", "2024-11-20", 1, "60000.00", deferral_rate="0.05"),
    # part-time with 1,200 hours: a year of service on 2025-03-15
    "PART_TIME_1200": Person("1985-03-01", "2024-03-15", 1, "50000.00", annual_hours="1200"),
    # 800 hours: never 1,000, but 500 in two consecutive periods by 2024-06-01 (long-term part-time)
    "PART_TIME_800": Person("1980-01-01", "2022-06-01", 1, "40000.00", annual_hours="800"),
    # 400 hours: never eligible
    "PART_TIME_400": Person("1982-01-01", "2020-01-01", 1, "40000.00", annual_hours="400"),
    # 19 on the start date: the year of service is met in 2025, age 21 only on 2026-09-01
    "YOUNG": Person("2005-09-01", "2024-02-01", 1, "45000.00"),
    # vesting service: 2022-2025 (4 plan years of 2,280 hours), a match balance from the census
    "VESTED_FOUR_YEARS": Person("1985-01-01", "2022-01-01", 2, "70000.00", "0.04", match_balance="8000.00"),
    "VESTED_SEVEN_YEARS": Person("1984-01-01", "2019-01-01", 2, "90000.00", "0.06"),
    # hired in August 2024: 5 months of 2024 = 950 hours, so 2024 is no year of vesting service
    "HIRED_AUGUST": Person("1993-01-01", "2024-08-15", 1, "52000.00"),
    # leaves on 2025-06-30 with 4 years of vesting service (6 months of 2025 = 1,140 hours):
    # 60% vested on a 6-year graded schedule; the vested balance stays in the plan
    "LEAVES_VESTED": Person(
        "1980-05-05",
        "2022-01-01",
        2,
        "80000.00",
        "0.05",
        termination="2025-06-30",
        deferral_balance="5000.00",
        match_balance="10000.00",
    ),
    # leaves on 2025-03-31 with 1 year of service (0% vested): a small balance, cashed out
    "LEAVES_SMALL": Person("1988-01-01", "2024-01-01", 1, "48000.00", "0.06", termination="2025-03-31"),
}

# What every plan-rule run shares: only the rules under test move anyone or any dollar.
PLAN_BASE_CONFIG: dict[str, dict[str, object]] = {
    "simulation": {"target_growth_rate": 0.0},
    "workforce": {"termination_rate": 0.0, "new_hire_termination_rate": 0.0},
    "compensation": {"cola_rate": 0.0, "merit_rate": 0.0, "promotion_probability": 0.0},
    "plan": {"auto_escalation": False, "opt_out_rate": 0.0},
    "eligibility": {"service_requirement": "one_year", "entry_dates": "quarterly", "minimum_age": 21},
    "vesting": {"schedule": "graded", "schedule_years": 6},
    "balances": {"distribution_rate": 0.0},
}

COLUMNS = (*REQUIRED_COLUMNS, "annual_hours", *BALANCE_COLUMNS)


def write_plan_census(path: Path, people: dict[str, Person] | None = None) -> None:
    """The census of `people` (default: PEOPLE), with the optional hours and balance columns."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for employee_id, p in (PEOPLE if people is None else people).items():
            balances = {"deferral_balance": p.deferral_balance, "match_balance": p.match_balance}
            writer.writerow(
                [
                    employee_id,
                    p.birth,
                    p.hire,
                    p.termination,
                    p.level,
                    p.pay,
                    p.deferral_rate,
                    p.annual_hours,
                    *(balances.get(column, "") for column in BALANCE_COLUMNS),
                ]
            )
