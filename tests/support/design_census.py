"""Hand-made employees, each placed where one employer contribution design bites (issue 24).

Simulated in 2025 (IRS limits: 402(g) $23,500, 415(c) $70,000, 401(a)(17) $350,000;
Social Security taxable wage base $176,100) with no hazard terminations, no pay changes
and no escalation (DESIGN_BASE_CONFIG), so every amount follows from the census row and
the config alone. Everyone is eligible from the hire date and defers the census rate
all year. Everyone is younger than 55, the first age with a retirement rate. The census
terminations are replaced by hires (growth 0); the tests never look at those hires.
"""

from __future__ import annotations

from tests.support.plan_census import Person

DESIGN_PEOPLE: dict[str, Person] = {
    # elects 30% of $150,000 = $45,000: the year's 402(g) limit is reached in July
    "FRONT_LOADER": Person("1985-01-01", "2015-01-01", 3, "150000.00", "0.30"),
    # 6% of $60,000: never near a limit, so every paycheck is matched alike
    "STEADY": Person("1990-06-15", "2018-03-01", 1, "60000.00", "0.06"),
    # five years of service on 2025-07-01: a tenure-graded match changes band mid-year
    "FIVE_YEARS_IN_JULY": Person("1980-02-01", "2020-07-01", 2, "80000.00", "0.06"),
    # pay above the taxable wage base: the permitted-disparity excess applies to $73,900
    "ABOVE_WAGE_BASE": Person("1975-05-01", "2010-01-01", 4, "250000.00", "0.04"),
    # pay above 401(a)(17): the plan counts $350,000
    "ABOVE_COMP_LIMIT": Person("1972-01-01", "2005-01-01", 5, "400000.00", "0.06"),
    # leaves on 2025-06-30 (6 x 190 = 1,140 hours in 2025; 5 years of vesting service)
    "LEAVES_IN_JUNE": Person("1988-01-01", "2021-01-01", 2, "80000.00", "0.05", termination="2025-06-30"),
    # leaves on 2025-03-31 with one year of vesting service (2024: 6 x 190 = 1,140 hours)
    "LEAVES_EARLY": Person("1992-01-01", "2024-07-01", 1, "50000.00", "0.06", termination="2025-03-31"),
    # 800 hours a year: under a 1,000-hour allocation condition
    "PART_TIME_800": Person("1982-01-01", "2016-01-01", 1, "40000.00", "0.06", annual_hours="800"),
}

# What every design run shares: only the contribution design moves any dollar.
DESIGN_BASE_CONFIG: dict[str, dict[str, object]] = {
    "simulation": {"target_growth_rate": 0.0},
    "workforce": {"termination_rate": 0.0, "new_hire_termination_rate": 0.0},
    "compensation": {"cola_rate": 0.0, "merit_rate": 0.0, "promotion_probability": 0.0},
    "plan": {"auto_escalation": False, "opt_out_rate": 0.0},
    "vesting": {"schedule": "graded", "schedule_years": 6},
    "balances": {"distribution_rate": 0.0},
}
