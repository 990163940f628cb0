"""A handful of hand-made employees, each placed where one plan or census rule bites.

The realism tests simulate them with termination_rate 0 (nobody leaves by the hazard)
so each rule can be checked on a known person; only the age-driven retirement of the
employees aged 55+ stays random, so the tests check those rows by the rule, not by
fixed amounts, and put every fixed-amount check on someone younger.
"""

from __future__ import annotations

import csv
from pathlib import Path

from planalign_orchestrator.census import REQUIRED_COLUMNS

# employee_id: (birth_date, termination_date, level_id, annual_compensation, deferral_rate)
CRAFTED: dict[str, tuple[str, str, int, float, float]] = {
    # 10% of pay elected, capped at 402(g) and 401(a)(17): the match must follow the capped deferral
    "HIGH_EARNER_40": ("1985-05-01", "", 5, 400_000.00, 0.10),
    # catch-up eligible: 61 on Dec 31 2025 (60-63 limit), 64 (regular limit), 59 then 60 in 2026
    "CATCH_UP_61": ("1964-06-01", "", 5, 300_000.00, 0.15),
    "CATCH_UP_64": ("1961-03-01", "", 5, 300_000.00, 0.15),
    "CATCH_UP_59": ("1966-09-01", "", 5, 300_000.00, 0.15),
    # catch-up from a salary under the Roth threshold: stays pre-tax in 2026 (52: too young to retire)
    "CATCH_UP_52_LOW_PAY": ("1973-02-01", "", 2, 110_000.00, 0.25),
    # safe harbor tiers: 4% and 2% deferrers, and a non-participant
    "DEFERS_4": ("1990-01-01", "", 1, 60_000.00, 0.04),
    "DEFERS_2": ("1992-01-01", "", 1, 50_000.00, 0.02),
    "NOT_ENROLLED": ("1988-01-01", "", 1, 45_000.00, 0.0),
    # census terminations: on the start date, mid first year, in the second year, and before the start
    "LEAVES_2025_01_01": ("1980-01-01", "2025-01-01", 2, 80_000.00, 0.05),
    "LEAVES_2025_06_30": ("1981-01-01", "2025-06-30", 2, 80_000.00, 0.05),
    "LEAVES_2026_03_15": ("1982-01-01", "2026-03-15", 2, 80_000.00, 0.05),
    "LEFT_2024_12_31": ("1983-01-01", "2024-12-31", 2, 80_000.00, 0.05),
}
HIRE_DATE = "2015-01-01"


def write_crafted_census(path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(REQUIRED_COLUMNS)
        for employee_id, (birth, termination, level, pay, rate) in CRAFTED.items():
            writer.writerow([employee_id, birth, HIRE_DATE, termination, level, f"{pay:.2f}", rate])
