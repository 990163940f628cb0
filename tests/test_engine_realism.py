"""Workforce and plan realism on real dbt and DuckDB (issue 10, acceptance points 1-9).

Most checks read one 20,000-employee census simulated 2025-2030 with the default config
(the session fixture realism_template). Rules that need a known person use the crafted
census (tests/support/crafted_census.py); layoffs and the warning use the bundled census.
The database is read with duckdb directly, never through the engine under test.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from planalign_nb.simulation_widget import SimulationProgress
from planalign_orchestrator.cli import TerminalConsole
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.pipeline.results import SimulationSummary, year_summaries
from planalign_orchestrator.progress import ProgressObserver
from planalign_orchestrator.workspace import Workspace
from tests.conftest import REALISM_YEARS, copy_workspace
from tests.support.helpers import edit_config_sections

pytestmark = pytest.mark.dbt

FIRST, LAST = REALISM_YEARS
TERMINATION_RATE = 0.12
NEW_HIRE_TERMINATION_RATE = 0.25
MAX_WORKING_AGE = 75


def query(root: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(root / "simulation.duckdb"), read_only=True) as conn:
        return conn.sql(sql).df()


def scalar(root: Path, sql: str) -> float:
    return query(root, sql).iloc[0, 0]


def simulate(workspace: Workspace, first: int, last: int, *observers: ProgressObserver) -> SimulationSummary:
    orchestrator = create_orchestrator(workspace.config)
    for observer in observers:
        orchestrator.subscribe(observer)
    return orchestrator.execute_multi_year_simulation(first, last)


# -- 1. the configured rates still hold ------------------------------------------------


def test_point1_growth_and_experienced_termination_rates_hold_every_year(realism_template: Path) -> None:
    plan = query(realism_template, "select * from main.fct_year_plan order by simulation_year")

    growth_pct = (plan.end_active / plan.start_active - 1) * 100
    leavers_pct = (plan.experienced_terminations + plan.retirements) / plan.start_active * 100

    assert list(plan.simulation_year) == list(range(FIRST, LAST + 1))
    assert (growth_pct - 3.0).abs().max() <= 0.5, growth_pct
    assert (plan.end_active == plan.target_end_active).all()
    assert (leavers_pct - TERMINATION_RATE * 100).abs().max() <= 1.5, leavers_pct
    assert (plan.reductions_in_force == 0).all()


def test_point1_new_hire_terminations_match_the_full_year_rate(realism_template: Path) -> None:
    # Constant hazard: leavers / years employed estimates it; 1 - exp(-hazard) is the full-year rate.
    hires = query(
        realism_template,
        """
        select count(*) filter (where termination_reason = 'new_hire') as leavers,
               sum((date_diff('day', hire_date, coalesce(termination_date, make_date(simulation_year, 12, 31))) + 1)
                   / (date_diff('day', make_date(simulation_year, 1, 1), make_date(simulation_year, 12, 31)) + 1))
                   as years_employed
        from main.fct_workforce_snapshot where is_new_hire
        """,
    ).iloc[0]

    full_year_rate = 1 - math.exp(-hires.leavers / hires.years_employed)

    assert abs(full_year_rate - NEW_HIRE_TERMINATION_RATE) <= 0.03, full_year_rate


def test_point1_termination_hazard_is_calibrated_to_the_configured_rate(realism_template: Path) -> None:
    expected = scalar(
        realism_template,
        """
        select avg(retirement_probability + (1 - retirement_probability) * termination_probability)
        from main.int_yearly_experienced_changes
        """,
    )

    assert expected == pytest.approx(TERMINATION_RATE, abs=1e-9)


def test_point1_unreachable_target_without_layoffs_is_reported_by_every_face(
    initialized_workspace: Workspace,
) -> None:
    workspace = edit_config_sections(
        initialized_workspace, simulation={"target_growth_rate": -0.15}, workforce={"allow_layoffs": False}
    )
    terminal = io.StringIO()
    widget = SimulationProgress(2025, 2025)

    summary = simulate(workspace, 2025, 2025, TerminalConsole(terminal), widget)

    year = summary.years[0]
    assert year.reductions_in_force == 0
    assert year.target_missed_by > 0
    assert year.headcount_end == year.headcount_start - year.terminations + year.hires
    warning = year.target_warning
    assert f"growth target missed by {year.target_missed_by:,} employees" in warning
    assert "workforce.allow_layoffs is false" in warning
    assert f"Warning: {warning}" in terminal.getvalue()
    assert f"Warning: {warning}" in str(summary)
    assert f"Warning: {warning}" in widget.snapshot().text


def test_point1_layoffs_bring_headcount_down_to_a_target_attrition_cannot_reach(
    initialized_workspace: Workspace,
) -> None:
    workspace = edit_config_sections(initialized_workspace, simulation={"target_growth_rate": -0.15})

    summary = simulate(workspace, 2025, 2025)

    year = summary.years[0]
    layoffs = query(
        workspace.root,
        "select month(event_date) as month from main.fct_yearly_events where event_type = 'reduction_in_force'",
    )
    assert year.headcount_end == round(year.headcount_start * 0.85) == year.target_headcount
    assert year.target_warning is None
    assert year.hires == 0
    assert len(layoffs) == year.reductions_in_force > 0
    assert layoffs.month.min() == 1
    assert layoffs.month.max() == 12


# -- 2. who leaves ------------------------------------------------------------------------


def test_point2_short_tenure_leaves_faster_and_the_oldest_retire(realism_template: Path) -> None:
    rates = query(
        realism_template,
        """
        with experienced as (
            select *,
                   simulation_year - year(hire_date) - (hire_date > make_date(year(hire_date), 1, 1))::int
                       as tenure_on_jan_1,
                   coalesce(termination_reason in ('termination', 'retirement'), false) as left_by_hazard
            from main.fct_workforce_snapshot where not is_new_hire
        )
        select
            avg(left_by_hazard::int) filter (where tenure_on_jan_1 < 2) as under_2_years,
            avg(left_by_hazard::int) filter (where tenure_on_jan_1 >= 10) as over_10_years,
            avg(left_by_hazard::int) filter (where age >= 65) as age_65_plus,
            avg(left_by_hazard::int) filter (where age between 35 and 54) as age_35_54,
            min(age) filter (where termination_reason = 'retirement') as youngest_retiree,
            max(age) filter (where employment_status = 'active') as oldest_active
        from experienced
        """,
    ).iloc[0]

    assert rates.under_2_years >= 1.5 * rates.over_10_years, rates
    assert rates.age_65_plus >= 2 * rates.age_35_54, rates
    assert rates.youngest_retiree >= 55
    assert rates.oldest_active <= MAX_WORKING_AGE


def test_point2_nobody_stays_active_past_the_maximum_working_age(initialized_workspace: Workspace) -> None:
    workspace = edit_config_sections(initialized_workspace, workforce={"max_working_age": 58})

    simulate(workspace, 2025, 2025)

    ages = query(
        workspace.root,
        """
        select max(age) filter (where employment_status = 'active') as oldest_active,
               count(*) filter (where age > 58 and termination_reason is distinct from 'retirement') as not_retired
        from main.fct_workforce_snapshot where not is_new_hire
        """,
    ).iloc[0]
    assert ages.oldest_active <= 58
    assert ages.not_retired == 0


# -- 3. new-hire timing -----------------------------------------------------------------


def test_point3_q4_hires_leave_within_the_year_far_less_than_q1_hires(realism_template: Path) -> None:
    by_quarter = query(
        realism_template,
        """
        select quarter(hire_date) as quarter,
               avg((termination_reason is not distinct from 'new_hire')::int) as leave_rate
        from main.fct_workforce_snapshot where is_new_hire group by 1 order by 1
        """,
    ).set_index("quarter")["leave_rate"]

    assert by_quarter[4] < by_quarter[1] / 3, by_quarter
    assert list(by_quarter) == sorted(by_quarter, reverse=True)


# -- 4. seeds ---------------------------------------------------------------------------


LEAVERS_2025 = """
    select count(*) from main.fct_yearly_events
    where simulation_year = 2025 and event_type in ('termination', 'retirement')
"""


def test_point4_another_seed_changes_how_many_leave(
    realism_initialized_template: Path, realism_template: Path, tmp_path: Path
) -> None:
    reseeded = edit_config_sections(
        copy_workspace(realism_initialized_template, tmp_path / "seed7"), simulation={"random_seed": 7}
    )

    simulate(reseeded, 2025, 2025)

    assert scalar(reseeded.root, LEAVERS_2025) != scalar(realism_template, LEAVERS_2025)


def test_point4_the_same_seed_gives_identical_tables(
    realism_initialized_template: Path, realism_template: Path, tmp_path: Path
) -> None:
    again = copy_workspace(realism_initialized_template, tmp_path / "again")

    simulate(again, 2025, 2026)

    for table, key in (
        ("fct_workforce_snapshot", "simulation_year, employee_id"),
        ("fct_yearly_events", "simulation_year, employee_id, event_type"),
        ("fct_year_plan", "simulation_year"),
    ):
        sql = f"select * from main.{table} where simulation_year <= 2026 order by {key}"
        pd.testing.assert_frame_equal(query(again.root, sql), query(realism_template, sql))


# -- 5. pay ranges ------------------------------------------------------------------------


def test_point5_almost_nobody_sits_above_the_range_maximum(realism_template: Path) -> None:
    above = scalar(
        realism_template,
        f"""
        select avg((compensation > level_range_max)::int) from main.fct_workforce_snapshot
        where simulation_year = {LAST} and employment_status = 'active'
        """,
    )

    assert above < 0.02


def test_point5_ranges_move_with_cola_and_new_hire_pay_follows_them(realism_template: Path) -> None:
    hires = query(
        realism_template,
        f"""
        select level_id, simulation_year, avg(compensation) as pay, max(level_range_min) as range_min,
               count(*) as hires
        from main.fct_workforce_snapshot
        where is_new_hire and level_id in (1, 2) and simulation_year in ({FIRST}, {LAST})
        group by all
        """,
    ).set_index(["level_id", "simulation_year"])

    cola_2026_on = 1.02 ** (LAST - FIRST)  # comp_levers: 2% COLA a year from 2026
    for level in (1, 2):
        range_growth = hires.range_min[level, LAST] / hires.range_min[level, FIRST]
        pay_growth = hires.pay[level, LAST] / hires.pay[level, FIRST]
        assert range_growth == pytest.approx(cola_2026_on, abs=1e-4)
        assert abs(pay_growth - range_growth) <= 0.02, (level, pay_growth, range_growth)


# -- 6. promotion raises ------------------------------------------------------------------


def test_point6_mean_promotion_raise_is_the_lever(realism_template: Path) -> None:
    raises = query(
        realism_template,
        """
        select p.new_compensation / p.previous_compensation - 1 - l.promotion_raise as lever_gap,
               coalesce(m.new_compensation, p.new_compensation) / p.previous_compensation - 1 - l.promotion_raise
                   as total_gap,
               m.employee_id is not null as raised_to_minimum
        from main.fct_yearly_events as p
        join main.comp_levers as l on l.plan_year = p.simulation_year and l.level_id = p.level_id - 1
        left join main.fct_yearly_events as m
            on m.simulation_year = p.simulation_year and m.employee_id = p.employee_id
           and m.event_type = 'promotion_to_range_minimum'
        where p.event_type = 'promotion'
        """,
    )

    assert len(raises) > 5_000
    assert abs(raises.lever_gap.mean()) <= 0.01
    assert abs(raises.total_gap.mean()) <= 0.01, raises.total_gap.mean()
    assert raises.raised_to_minimum.mean() < 0.2


# -- 7. the match -------------------------------------------------------------------------


def test_point7_match_never_exceeds_the_formula_on_actual_deferrals(realism_template: Path) -> None:
    rows = query(
        realism_template,
        """
        select employer_contribution as paid,
               round(0.5 * least(employee_contribution, 0.06 * plan_compensation), 2) as formula,
               base_deferral + employer_contribution >= limit_415c - 0.005 as at_415c
        from main.fct_workforce_snapshot
        """,
    )

    assert (rows.paid <= rows.formula + 0.01).all()
    assert ((rows.paid - rows.formula).abs() <= 0.01)[~rows.at_415c].all()


def test_point7_a_402g_capped_high_earner_gets_the_match_on_what_was_deferred(crafted_workspace) -> None:
    workspace = crafted_workspace("capped", plan={"match_rate": 0.5, "match_cap": 0.10})

    simulate(workspace, 2025, 2025)

    row = query(workspace.root, "select * from main.fct_workforce_snapshot where employee_id = 'HIGH_EARNER_40'").iloc[
        0
    ]
    assert row.plan_compensation == 350_000  # 401(a)(17) for 2025
    assert row.elective_deferral == 35_000  # 10% elected
    assert row.employee_contribution == 23_500  # 402(g) for 2025
    assert row.employer_contribution == 11_750  # 50% of what was deferred, not 50% of 10% (17,500)


def test_point7_tiered_safe_harbor_match(crafted_workspace) -> None:
    workspace = crafted_workspace(
        "safe_harbor",
        plan={"match_tiers": [{"rate": 1.0, "up_to": 0.03}, {"rate": 0.5, "up_to": 0.05}]},
        drop=("plan.match_rate", "plan.match_cap"),
    )

    simulate(workspace, 2025, 2025)

    rows = query(workspace.root, "select * from main.fct_workforce_snapshot").set_index("employee_id")
    deferred, pay = rows.employee_contribution.astype(float), rows.plan_compensation.astype(float)
    safe_harbor = deferred.clip(upper=0.03 * pay) + 0.5 * (deferred.clip(upper=0.05 * pay) - 0.03 * pay).clip(lower=0)
    assert (rows.employer_contribution.astype(float) - safe_harbor.round(2)).abs().max() <= 0.01
    assert rows.employer_contribution["DEFERS_4"] == pytest.approx(0.035 * pay["DEFERS_4"], abs=0.01)
    assert rows.employer_contribution["DEFERS_2"] == pytest.approx(0.02 * pay["DEFERS_2"], abs=0.01)
    assert rows.employer_contribution["HIGH_EARNER_40"] == 14_000  # 4% of 350,000
    assert rows.employer_contribution["NOT_ENROLLED"] == 0


# -- 8. IRS rules -------------------------------------------------------------------------

PUBLISHED_2026 = {
    "limit_402g": (24_500, 500),
    "catch_up_limit": (8_000, 500),
    "enhanced_catch_up_limit": (11_250, 500),
    "limit_415c": (72_000, 1_000),
    "limit_401a17": (360_000, 5_000),
    "roth_catch_up_wage_threshold": (150_000, 5_000),
    "taxable_wage_base": (184_500, 300),
}


def test_point8_projected_limits_index_and_round_down_and_are_flagged(realism_template: Path) -> None:
    plan = query(realism_template, "select * from main.fct_year_plan order by simulation_year").set_index(
        "simulation_year"
    )

    years = year_summaries(DatabaseConnectionManager(realism_template / "simulation.duckdb"), "baseline", 2025, 2030)
    summary = SimulationSummary(tuple(years[y] for y in plan.index))
    assert summary.notes == [
        "IRS limits for 2027, 2028, 2029, 2030 are estimates, projected from the last published year "
        "at plan.irs_indexing_rate."
    ]
    assert not plan.irs_limits_estimated[[2025, 2026]].any()
    assert plan.irs_limits_estimated[list(range(2027, LAST + 1))].all()
    assert plan.limit_402g[2025] == 23_500
    for column, (published, multiple) in PUBLISHED_2026.items():
        assert plan[column][2026] == published
        for year in range(2027, LAST + 1):
            projected = math.floor(published * 1.025 ** (year - 2026) / multiple) * multiple
            assert plan[column][year] == projected, (column, year)
            assert plan[column][year] % multiple == 0


def test_point8_the_60_to_63_catch_up_applies_at_those_ages_only(realism_template: Path) -> None:
    limits = query(
        realism_template,
        """
        select s.age, s.catch_up_limit, p.catch_up_limit as regular, p.enhanced_catch_up_limit as enhanced
        from main.fct_workforce_snapshot as s join main.fct_year_plan as p using (simulation_year)
        """,
    )

    aged_60_63 = limits.age.between(60, 63)
    assert (limits.catch_up_limit[aged_60_63] == limits.enhanced[aged_60_63]).all()
    assert (
        limits.catch_up_limit[~aged_60_63 & (limits.age >= 50)] == limits.regular[~aged_60_63 & (limits.age >= 50)]
    ).all()
    assert (limits.catch_up_limit[limits.age < 50] == 0).all()
    assert aged_60_63.sum() > 1_000


def test_point8_catch_up_limits_by_age_for_known_people(crafted_template: Path) -> None:
    rows = query(crafted_template, "select * from main.fct_workforce_snapshot where simulation_year = 2025").set_index(
        "employee_id"
    )
    assert rows.catch_up_limit["CATCH_UP_61"] == 11_250  # 61 on Dec 31 2025: the 60-63 limit
    assert rows.catch_up_limit["CATCH_UP_64"] == 7_500  # 64: the regular limit again
    assert rows.catch_up_limit["CATCH_UP_59"] == 7_500
    assert rows.catch_up_limit["HIGH_EARNER_40"] == 0
    catch_up = rows.loc[["CATCH_UP_61", "CATCH_UP_64", "CATCH_UP_59", "CATCH_UP_52_LOW_PAY"]].astype(
        {"elective_deferral": float, "catch_up_contribution": float}
    )
    over_402g = (catch_up.elective_deferral - catch_up.limit_402g).clip(lower=0)
    expected = over_402g.clip(upper=catch_up.catch_up_limit).round(2)
    assert (catch_up.catch_up_contribution == expected).all(), catch_up.catch_up_contribution - expected
    assert (catch_up.catch_up_roth == 0).all()  # the Roth rule starts in 2026


def test_point8_roth_catch_up_from_2026_for_prior_year_wages_over_the_threshold(realism_template: Path) -> None:
    by_year = query(
        realism_template,
        """
        select s.simulation_year,
               sum(s.catch_up_roth) as roth,
               sum(s.catch_up_pre_tax) as pre_tax,
               count(*) filter (where s.catch_up_roth > 0 and s.prior_year_wages <= p.roth_catch_up_wage_threshold)
                   as roth_under_threshold,
               count(*) filter (where s.catch_up_pre_tax > 0 and s.prior_year_wages > p.roth_catch_up_wage_threshold)
                   as pre_tax_over_threshold
        from main.fct_workforce_snapshot as s join main.fct_year_plan as p using (simulation_year)
        group by 1 order by 1
        """,
    ).set_index("simulation_year")

    assert by_year.roth[2025] == 0
    assert by_year.pre_tax[2025] > 0
    assert (by_year.roth[2026:] > 0).all()
    assert by_year.roth_under_threshold.sum() == 0
    assert by_year.pre_tax_over_threshold.sum() == 0


def test_point8_catch_up_under_the_threshold_stays_pre_tax(crafted_template: Path) -> None:
    row = query(
        crafted_template,
        "select * from main.fct_workforce_snapshot "
        "where simulation_year = 2026 and employee_id = 'CATCH_UP_52_LOW_PAY'",
    ).iloc[0]
    assert row.prior_year_wages < 150_000
    assert row.catch_up_contribution > 0
    assert row.catch_up_pre_tax == row.catch_up_contribution
    assert row.catch_up_roth == 0


# -- 9. auto-escalation -------------------------------------------------------------------


def test_point9_participants_escalate_yearly_up_to_the_cap(realism_template: Path) -> None:
    steps = query(
        realism_template,
        """
        select cur.employee_id, cur.simulation_year,
               prev.deferral_rate as before, cur.deferral_rate as after
        from main.fct_workforce_snapshot as cur
        join main.fct_workforce_snapshot as prev
            on prev.employee_id = cur.employee_id and prev.simulation_year = cur.simulation_year - 1
        where prev.employment_status = 'active' and prev.deferral_rate > 0
        """,
    )
    below_cap = steps.before < 0.10
    escalated = (steps.after - steps.before).round(4) == 0.01
    capped = (steps.before < 0.10) & (steps.after == 0.10)

    assert ((steps.after == steps.before) | escalated | capped).all()
    assert (steps.after[~below_cap] == steps.before[~below_cap]).all()
    assert (steps.after[below_cap] <= 0.10).all()
    assert 0.85 <= (steps.after > steps.before)[below_cap].mean() <= 0.95  # 10% opt out for good
    opted_out = steps[below_cap & (steps.after == steps.before)].employee_id
    assert not (steps.employee_id.isin(opted_out) & (steps.after > steps.before)).any()


# -- census -----------------------------------------------------------------------------


def test_census_termination_dates_on_or_after_the_start_are_respected(crafted_template: Path) -> None:
    leavers = query(
        crafted_template,
        """
        select s.simulation_year, s.employee_id, s.employment_status, s.termination_date, s.termination_reason,
               e.event_type, e.event_details, e.event_date
        from main.fct_workforce_snapshot as s
        left join main.fct_yearly_events as e
            on e.simulation_year = s.simulation_year and e.employee_id = s.employee_id and e.event_type = 'termination'
        where s.employee_id like 'LEAVES_%' or s.employee_id like 'LEFT_%'
        order by 1, 2
        """,
    )
    rows = {(r.simulation_year, r.employee_id): r for r in leavers.itertuples()}

    for year, employee, day in (
        (2025, "LEAVES_2025_01_01", "2025-01-01"),
        (2025, "LEAVES_2025_06_30", "2025-06-30"),
        (2026, "LEAVES_2026_03_15", "2026-03-15"),
    ):
        row = rows[year, employee]
        assert row.employment_status == "terminated"
        assert row.termination_reason == "census"
        assert (row.event_type, row.event_details) == ("termination", "census")
        assert str(row.termination_date)[:10] == str(row.event_date)[:10] == day
    assert rows[2025, "LEAVES_2026_03_15"].employment_status == "active"
    assert not leavers.employee_id.eq("LEFT_2024_12_31").any()
    assert len(leavers) == 4


def test_reenrollment_sweep_enrols_non_participants_every_year(crafted_workspace) -> None:
    workspace = crafted_workspace("sweep", plan={"reenrollment_sweep": True, "opt_out_rate": 0.0})

    simulate(workspace, 2025, 2025)

    swept = query(
        workspace.root,
        """
        select s.deferral_rate, e.event_details, e.event_date
        from main.fct_workforce_snapshot as s
        join main.fct_yearly_events as e using (simulation_year, employee_id)
        where s.employee_id = 'NOT_ENROLLED' and e.event_type = 'enrollment'
        """,
    ).iloc[0]
    assert swept.deferral_rate == 0.06
    assert swept.event_details == "re-enrollment sweep at 6.00%"
    assert str(swept.event_date)[:10] == "2025-01-01"
