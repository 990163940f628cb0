{#-
  The one definition of every yearly figure: one row per (scenario_id, random_seed,
  simulation_year). The run summary, `compare`, the Excel exports and the seed
  ensembles all read this table, so a figure means the same thing everywhere; a new
  plan rule adds its metric here (and its label in planalign_orchestrator/metrics.py).

  Read from the year's own models only (never the event log, which an ensemble skips):
  every hire and every leaver of the year has exactly one snapshot row in it, so the
  counts below equal the event log's. Rates are fractions (0.03 is 3%).
    headcount_start / headcount_end  active on Jan 1 / at year end
    terminations        every leaver: experienced (incl. census dates), retirements,
                        reductions in force and new-hire terminations
    participation_rate  enrolled share of the year-end active employees
    employer_cost_rate  employer contributions over total_compensation (the annual pay
                        of the year-end active employees)
    target_*            the growth target the year was solved with (fct_year_plan)
-#}
{%- set sim_year = int_var('simulation_year') -%}

with snapshot as (
    select *
    from {{ ref('fct_workforce_snapshot') }}
    where scenario_id = {{ scenario_literal() }} and simulation_year = {{ sim_year }}
),

people as (
    select
        random_seed,
        count(*) filter (where not is_new_hire) as headcount_start,
        count(*) filter (where employment_status = 'active') as headcount_end,
        count(*) filter (where is_new_hire) as hires,
        count(*) filter (where employment_status = 'terminated') as terminations,
        count(*) filter (where termination_reason in ('termination', 'census')) as experienced_terminations,
        count(*) filter (where termination_reason = 'retirement') as retirements,
        count(*) filter (where termination_reason = 'reduction_in_force') as reductions_in_force,
        count(*) filter (where termination_reason = 'new_hire') as new_hire_terminations,
        count(*) filter (where employment_status = 'active' and enrolled) as participants,
        coalesce(sum(compensation) filter (where employment_status = 'active'), 0) as total_compensation,
        coalesce(sum(employee_contribution), 0) as employee_contributions,
        coalesce(sum(employer_contribution), 0) as employer_contributions,
        coalesce(sum(catch_up_pre_tax), 0) as catch_up_pre_tax,
        coalesce(sum(catch_up_roth), 0) as catch_up_roth
    from snapshot
    group by random_seed
),

changes as (
    select
        random_seed,
        count(*) filter (where is_promoted) as promotions,
        count(*) filter (where is_promoted and promoted_compensation > promotion_compensation)
            as promotions_raised_to_minimum,
        count(*) filter (where deferral_change = 'escalation') as deferral_escalations
    from {{ ref('int_yearly_experienced_changes') }}
    group by random_seed
),

year_plan as (
    select *
    from {{ ref('fct_year_plan') }}
    where scenario_id = {{ scenario_literal() }} and simulation_year = {{ sim_year }}
)

select
    {{ scenario_literal() }} as scenario_id,
    p.random_seed,
    {{ sim_year }} as simulation_year,
    p.headcount_start,
    p.headcount_end,
    yp.target_end_active as target_headcount,
    cast(round(coalesce((p.headcount_end - p.headcount_start) / nullif(p.headcount_start, 0), 0), 6) as double)
        as growth_rate,
    yp.target_growth_rate,
    p.hires,
    p.terminations,
    p.experienced_terminations,
    p.retirements,
    p.reductions_in_force,
    p.new_hire_terminations,
    coalesce(c.promotions, 0) as promotions,
    coalesce(c.promotions_raised_to_minimum, 0) as promotions_raised_to_minimum,
    coalesce(c.deferral_escalations, 0) as deferral_escalations,
    cast(p.total_compensation as decimal(18, 2)) as total_compensation,
    cast(round(coalesce(p.total_compensation / nullif(p.headcount_end, 0), 0), 2) as decimal(18, 2))
        as average_compensation,
    p.participants,
    cast(p.participants / nullif(p.headcount_end, 0) as double) as participation_rate,
    cast(p.employee_contributions as decimal(18, 2)) as employee_contributions,
    cast(p.employer_contributions as decimal(18, 2)) as employer_contributions,
    cast(p.employer_contributions / nullif(p.total_compensation, 0) as double) as employer_cost_rate,
    cast(p.catch_up_pre_tax as decimal(18, 2)) as catch_up_pre_tax,
    cast(p.catch_up_roth as decimal(18, 2)) as catch_up_roth,
    yp.allow_layoffs,
    yp.irs_limits_estimated
from people as p
left join changes as c on c.random_seed = p.random_seed
left join year_plan as yp on yp.random_seed = p.random_seed
order by p.random_seed
