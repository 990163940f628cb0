{#-
  One row per simulation_year: the headcount plan the year was solved with (growth
  target, leavers, reductions in force, hires) and whether the target was met, plus the
  IRS limits applied (projected ones flagged is_estimated). The faces read the
  target-missed warning from here. One row per random_seed of the run (each seed meets
  or misses its target on its own). delete+insert on (scenario_id, simulation_year).
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set growth = num_var('target_growth_rate', -1, 10) -%}
{%- set allow_layoffs = bool_var('allow_layoffs') -%}

with experienced as (
    select
        random_seed,
        count(*) as start_active,
        count(*) filter (where separation_type in ('termination', 'census')) as experienced_terminations,
        count(*) filter (where separation_type = 'retirement') as retirements,
        count(*) filter (where separation_type = 'reduction_in_force') as reductions_in_force,
        count(*) filter (where not is_terminated) as end_active_experienced,
        cast(round(count(*) * (1 + {{ growth }})) as integer) as target_end_active
    from {{ ref('int_yearly_experienced_changes') }}
    group by random_seed
),

hires as (
    select
        random_seed,
        count(*) as hires,
        count(*) filter (where is_terminated) as new_hire_terminations
    from {{ ref('int_yearly_new_hires') }}
    group by random_seed
),

irs as (
    {{ irs_limits(sim_year) }}
)

select
    {{ scenario_literal() }} as scenario_id,
    e.random_seed,
    {{ sim_year }} as simulation_year,
    e.start_active,
    cast({{ growth }} as double) as target_growth_rate,
    e.target_end_active,
    e.experienced_terminations,
    e.retirements,
    {{ 'true' if allow_layoffs else 'false' }} as allow_layoffs,
    e.reductions_in_force,
    coalesce(h.hires, 0) as hires,
    coalesce(h.new_hire_terminations, 0) as new_hire_terminations,
    e.end_active_experienced + coalesce(h.hires - h.new_hire_terminations, 0) as end_active,
    e.end_active_experienced + coalesce(h.hires - h.new_hire_terminations, 0) - e.target_end_active
        as target_missed_by,
    irs.irs_plan_year,
    irs.is_estimated as irs_limits_estimated,
    irs.limit_402g,
    irs.catch_up_limit,
    irs.enhanced_catch_up_limit,
    irs.limit_415c,
    irs.limit_401a17,
    irs.roth_catch_up_wage_threshold
from experienced as e
left join hires as h on h.random_seed = e.random_seed
cross join irs
order by e.random_seed
