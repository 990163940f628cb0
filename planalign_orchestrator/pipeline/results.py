"""Reading simulation results back: per-year summaries, snapshots and events.

All result SQL lives here so every face (CLI table, notebook DataFrames and plots)
reports the same numbers.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING

from planalign_orchestrator.config import BASELINE_SCENARIO
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.figures import Metric

if TYPE_CHECKING:  # imported where a DataFrame is built: the year loop itself never needs pandas
    import pandas as pd

_YEAR_SUMMARY_SQL = """
with snap as (
    select * from main.fct_workforce_snapshot where scenario_id = $scenario and simulation_year = $year
), ev as (
    select event_type, event_details from main.fct_yearly_events
    where scenario_id = $scenario and simulation_year = $year
), plan as (
    select * from main.fct_year_plan where scenario_id = $scenario and simulation_year = $year
)
select
    (select count(*) from snap where not is_new_hire) as headcount_start,
    (select count(*) from snap where employment_status = 'active') as headcount_end,
    (select count(*) from ev where event_type = 'hire') as hires,
    (select count(*) from ev where event_type = 'termination' and event_details in ('experienced', 'census'))
        as experienced_terminations,
    (select count(*) from ev where event_type = 'retirement') as retirements,
    (select count(*) from ev where event_type = 'reduction_in_force') as reductions_in_force,
    (select count(*) from ev where event_type = 'termination' and event_details = 'new_hire')
        as new_hire_terminations,
    (select count(*) from ev where event_type = 'promotion') as promotions,
    (select count(*) from ev where event_type = 'promotion_to_range_minimum') as promotions_raised_to_minimum,
    (select count(*) from ev where event_type = 'deferral_escalation') as deferral_escalations,
    (select coalesce(sum(compensation), 0) from snap where employment_status = 'active')
        as total_compensation,
    (select coalesce(sum(employee_contribution), 0) from snap) as employee_contributions,
    (select coalesce(sum(employer_contribution), 0) from snap) as employer_contributions,
    (select coalesce(sum(catch_up_pre_tax), 0) from snap) as catch_up_pre_tax,
    (select coalesce(sum(catch_up_roth), 0) from snap) as catch_up_roth,
    (select target_end_active from plan) as target_headcount,
    (select target_growth_rate from plan) as target_growth_rate,
    (select allow_layoffs from plan) as allow_layoffs,
    (select irs_limits_estimated from plan) as irs_limits_estimated
"""


@dataclass(frozen=True)
class YearSummary:
    """One simulated year, as every face reports it.

    `terminations` counts every leaver: experienced (including census terminations),
    retirements, reductions in force and new-hire terminations.
    """

    year: int
    headcount_start: int
    headcount_end: int
    target_headcount: int
    hires: int
    terminations: int
    experienced_terminations: int
    retirements: int
    reductions_in_force: int
    new_hire_terminations: int
    promotions: int
    promotions_raised_to_minimum: int
    deferral_escalations: int
    growth_pct: float
    target_growth_pct: float
    total_compensation: float
    average_compensation: float
    employee_contributions: float
    employer_contributions: float
    catch_up_pre_tax: float
    catch_up_roth: float
    irs_limits_estimated: bool
    target_warning: str | None = None

    @property
    def target_missed_by(self) -> int:
        """Active employees above (+) or below (-) the growth target at year end."""
        return self.headcount_end - self.target_headcount


@dataclass(frozen=True)
class SimulationSummary:
    """Per-year results of one execute_multi_year_simulation() call."""

    years: tuple[YearSummary, ...]

    @property
    def warnings(self) -> list[str]:
        """What an analyst must not miss: years whose growth target was not reached, and why."""
        return [y.target_warning for y in self.years if y.target_warning]

    @property
    def notes(self) -> list[str]:
        """Caveats on the figures: years whose IRS limits are projections, not published values."""
        estimated = [str(y.year) for y in self.years if y.irs_limits_estimated]
        if not estimated:
            return []
        return [
            f"IRS limits for {', '.join(estimated)} are estimates, projected from the last published year "
            "at plan.irs_indexing_rate."
        ]

    def to_dataframe(self) -> pd.DataFrame:
        import pandas as pd

        columns = [f.name for f in fields(YearSummary)]
        return pd.DataFrame([asdict(y) for y in self.years], columns=columns).set_index("year")

    def __len__(self) -> int:
        return len(self.years)

    def __str__(self) -> str:
        header = (
            f"{'year':>6} {'start':>7} {'end':>7} {'hires':>6} {'terms':>6} {'promos':>6} "
            f"{'growth':>7} {'avg comp':>10} {'ee contrib':>12} {'er contrib':>12}"
        )
        rows = [
            f"{y.year:>6} {y.headcount_start:>7,} {y.headcount_end:>7,} {y.hires:>6,} "
            f"{y.terminations:>6,} {y.promotions:>6,} {y.growth_pct:>6.2f}% "
            f"{y.average_compensation:>10,.0f} {y.employee_contributions:>12,.0f} "
            f"{y.employer_contributions:>12,.0f}"
            for y in self.years
        ]
        return "\n".join(
            [header, *rows, *(f"Warning: {w}" for w in self.warnings), *(f"Note: {n}" for n in self.notes)]
        )

    def _repr_html_(self) -> str:
        """Transposed (a row per figure, a column per year) and formatted, so it fits a notebook."""
        head = "".join(f"<th style='text-align:right'>{y.year}</th>" for y in self.years)
        body = "".join(
            f"<tr class='planalign-metric-{metric.column}'><td style='text-align:left'>{html.escape(metric.label)}</td>"
            + "".join(
                f"<td style='text-align:right'>{html.escape(metric.format(getattr(y, metric.column)))}</td>"
                for y in self.years
            )
            + "</tr>"
            for metric in SUMMARY_FIGURES
        )
        remarks = [("warning", "Warning", w) for w in self.warnings] + [("note", "Note", n) for n in self.notes]
        return (
            f"<div class='planalign-summary'><b>Simulation summary</b><table><tr><th></th>{head}</tr>{body}</table>"
            + "".join(
                f"<p class='planalign-{kind}'><b>{label}:</b> {html.escape(text)}</p>" for kind, label, text in remarks
            )
            + "</div>"
        )


# The rows of the summary's notebook view, in the order an analyst reads a year.
SUMMARY_FIGURES = (
    Metric("headcount_start", "Active on Jan 1", "count"),
    Metric("hires", "Hires", "count"),
    Metric("experienced_terminations", "Experienced terminations", "count"),
    Metric("retirements", "Retirements", "count"),
    Metric("reductions_in_force", "Reductions in force", "count"),
    Metric("new_hire_terminations", "New-hire terminations", "count"),
    Metric("headcount_end", "Active at year end", "count"),
    Metric("target_headcount", "Growth target (active at year end)", "count"),
    Metric("growth_pct", "Growth", "percent"),
    Metric("promotions", "Promotions", "count"),
    Metric("promotions_raised_to_minimum", "Promotions topped up to the range minimum", "count"),
    Metric("deferral_escalations", "Deferral escalations", "count"),
    Metric("total_compensation", "Total pay (active)", "money"),
    Metric("average_compensation", "Average pay (active)", "money"),
    Metric("employee_contributions", "Employee contributions", "money"),
    Metric("employer_contributions", "Employer contributions", "money"),
    Metric("catch_up_pre_tax", "Catch-up, pre-tax", "money"),
    Metric("catch_up_roth", "Catch-up, Roth", "money"),
)


def year_summary(db: DatabaseConnectionManager, year: int, scenario: str = BASELINE_SCENARIO) -> YearSummary:
    with db.connection(read_only=True) as conn:
        row = conn.execute(_YEAR_SUMMARY_SQL, {"scenario": scenario, "year": year}).fetchone()
    assert row is not None  # a select of scalar subqueries always returns one row
    (
        start,
        end,
        hires,
        exp_terms,
        retirements,
        reductions,
        nh_terms,
        promotions,
        raised_to_minimum,
        escalations,
        total_comp,
        ee,
        er,
        catch_up_pre_tax,
        catch_up_roth,
        target,
        target_growth_rate,
        allow_layoffs,
        irs_estimated,
    ) = row
    summary = YearSummary(
        year=year,
        headcount_start=int(start),
        headcount_end=int(end),
        target_headcount=int(target),
        hires=int(hires),
        terminations=int(exp_terms + retirements + reductions + nh_terms),
        experienced_terminations=int(exp_terms),
        retirements=int(retirements),
        reductions_in_force=int(reductions),
        new_hire_terminations=int(nh_terms),
        promotions=int(promotions),
        promotions_raised_to_minimum=int(raised_to_minimum),
        deferral_escalations=int(escalations),
        growth_pct=round((end - start) / start * 100, 4) if start else 0.0,
        target_growth_pct=round(float(target_growth_rate) * 100, 4),
        total_compensation=round(float(total_comp), 2),
        average_compensation=round(float(total_comp) / end, 2) if end else 0.0,
        employee_contributions=round(float(ee), 2),
        employer_contributions=round(float(er), 2),
        catch_up_pre_tax=round(float(catch_up_pre_tax), 2),
        catch_up_roth=round(float(catch_up_roth), 2),
        irs_limits_estimated=bool(irs_estimated),
    )
    return replace(summary, target_warning=_target_warning(summary, bool(allow_layoffs)))


def _target_warning(year: YearSummary, allow_layoffs: bool) -> str | None:
    """Why a year ended off its growth target, in the analyst's terms, or None when it did not."""
    missed = year.target_missed_by
    if missed == 0:
        return None
    reached = (
        f"{year.year}: growth target missed by {abs(missed):,} employees: {year.target_headcount:,} active "
        f"planned ({year.target_growth_pct:+.2f}%), {year.headcount_end:,} reached ({year.growth_pct:+.2f}%)"
    )
    if missed > 0 and not allow_layoffs:
        return (
            f"{reached}. Attrition left more people than the target and workforce.allow_layoffs is false, "
            "so nobody was laid off. Set workforce.allow_layoffs: true for reductions in force, "
            "or choose a growth target attrition can reach."
        )
    return f"{reached}."


def workforce_snapshot(
    db: DatabaseConnectionManager, years: Sequence[int] | None = None, scenario: str = BASELINE_SCENARIO
) -> pd.DataFrame:
    return _by_years(db, "fct_workforce_snapshot", years, scenario, "simulation_year, employee_id")


def yearly_events(
    db: DatabaseConnectionManager, years: Sequence[int] | None = None, scenario: str = BASELINE_SCENARIO
) -> pd.DataFrame:
    return _by_years(db, "fct_yearly_events", years, scenario, "simulation_year, employee_id, event_type")


def _by_years(
    db: DatabaseConnectionManager, table: str, years: Sequence[int] | None, scenario: str, order: str
) -> pd.DataFrame:
    where = "where scenario_id = ?"
    params: list[object] = [scenario]
    if years:
        where += " and simulation_year in (" + ", ".join("?" for _ in years) + ")"
        params += [int(y) for y in years]
    with db.connection(read_only=True) as conn:
        return conn.execute(f"select * from main.{table} {where} order by {order}", params).df()


_SCENARIO_METRICS_SQL = """
with snap as (
    select
        scenario_id,
        simulation_year,
        count(*) filter (where employment_status = 'active') as headcount,
        coalesce(sum(compensation) filter (where employment_status = 'active'), 0) as total_pay,
        count(*) filter (where employment_status = 'active' and enrolled) as participants,
        coalesce(sum(employee_contribution), 0) as employee_contributions,
        coalesce(sum(employer_contribution), 0) as employer_contributions
    from main.fct_workforce_snapshot
    where scenario_id in (select unnest($scenarios)) and simulation_year between $first and $last
    group by all
), ev as (
    select
        scenario_id,
        simulation_year,
        count(*) filter (where event_type = 'hire') as hires,
        count(*) filter (where event_type in ('termination', 'retirement', 'reduction_in_force')) as terminations
    from main.fct_yearly_events
    where scenario_id in (select unnest($scenarios)) and simulation_year between $first and $last
    group by all
)
select
    s.scenario_id as scenario,
    s.simulation_year as year,
    s.headcount,
    coalesce(e.hires, 0) as hires,
    coalesce(e.terminations, 0) as terminations,
    cast(s.total_pay as double) as total_pay,
    s.participants / nullif(s.headcount, 0) as participation_rate,
    cast(s.employee_contributions as double) as employee_contributions,
    cast(s.employer_contributions as double) as employer_contributions,
    cast(s.employer_contributions as double) / nullif(cast(s.total_pay as double), 0) as employer_cost_pct
from snap as s
left join ev as e using (scenario_id, simulation_year)
order by s.scenario_id, s.simulation_year
"""


def scenario_metrics(db: DatabaseConnectionManager, scenarios: Sequence[str], first: int, last: int) -> pd.DataFrame:
    """The key metrics per scenario and year: one row per (scenario, year), in one query.

    participation_rate is the share of year-end active employees enrolled;
    employer_cost_pct is employer contributions over total_pay (the year-end annual pay
    of active employees), so both are fractions.
    """
    with db.connection(read_only=True) as conn:
        return conn.execute(_SCENARIO_METRICS_SQL, {"scenarios": list(scenarios), "first": first, "last": last}).df()
