{#-
  One row per simulation_year: the headcount plan the year was solved with (growth
  target, leavers, reductions in force, hires) and whether the target was met, plus the
  IRS limits applied (projected ones flagged is_estimated). The faces read the
  target-missed warning from here. One row per random_seed of the run (each seed meets
  or misses its target on its own). delete+insert on (scenario_id, simulation_year).

  The seed's plan year: investment_return (investment_return(): var return_rate, or a
  draw per seed and year with var return_volatility) and the forfeitures the plan holds
  from the year before, which it must use within 12 months of that plan year's end
  (IRC 411(a); Treas. Reg. 1.401-7): in this year, for var used_for. None in start_year.
  The cash-out limit and whether the match is safe harbor money (always vested) are
  recorded beside them, for the data tests and the analyst.

  The plan's safe harbor status (IRC 401(k)(12), 401(k)(13) for a QACA), which the
  nondiscrimination tests read: safe_harbor_design (var safe_harbor_design, 'none' for a
  tested plan), is_safe_harbor, and which money is the safe harbor contribution
  (match_is_safe_harbor: a safe harbor match design, or var safe_harbor_match, which
  only makes the match vest at once; nonelective_is_safe_harbor: a non-elective design).
  taxable_wage_base is the year's Social Security wage base (irs_limits()), the default
  integration level of a core contribution integrated with Social Security (IRC 401(l)).
  The allocation conditions of the match and the core contribution (employed on Dec 31,
  a minimum of hours) are recorded for the data tests and the analyst.
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set start_year = int_var('start_year') -%}
{%- set growth = num_var('target_growth_rate', -1, 10) -%}
{%- set allow_layoffs = bool_var('allow_layoffs') -%}
{%- set design = safe_harbor_design() -%}
{%- set safe_harbor_match = design.endswith('_match') or bool_var('safe_harbor_match') -%}

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
),

forfeiture_pool as (
    {%- if sim_year == start_year %}
    select sv.random_seed, cast(0 as decimal(18, 2)) as forfeitures_available
    from {{ seed_values() }} as sv
    {%- else %}
    {#- year N-1's leavers, in the snapshot this run appends to (a ref would be a cycle) #}
    {%- set prior = prior_snapshot_relation() %}
    select sv.random_seed, cast(coalesce(sum(ps.forfeited_match + ps.forfeited_nonelective), 0) as decimal(18, 2))
        as forfeitures_available
    from {{ seed_values() }} as sv
    left join {{ prior }} as ps
        on
            ps.random_seed = sv.random_seed
            and ps.scenario_id = {{ scenario_literal() }}
            and ps.simulation_year = {{ sim_year - 1 }}
            and ps.employment_status = 'terminated'
    group by sv.random_seed
    {%- endif %}
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
    irs.roth_catch_up_wage_threshold,
    irs.taxable_wage_base,
    {{ investment_return('e.random_seed') }} as investment_return,
    fp.forfeitures_available,
    {{ sql_string_literal(choice_var('used_for', ['employer_contributions', 'expenses', 'reallocation'])) }}
        as forfeitures_used_for,
    cast({{ num_var('cash_out_limit', 0, 7000) }} as decimal(14, 2)) as cash_out_limit,
    {{ 'true' if safe_harbor_match else 'false' }} as match_is_safe_harbor,
    {{ sql_string_literal(design) }} as safe_harbor_design,
    {{ 'true' if design != 'none' else 'false' }} as is_safe_harbor,
    {{ 'true' if design.endswith('nonelective_3') else 'false' }} as nonelective_is_safe_harbor,
    {{ 'true' if bool_var('match_last_day') else 'false' }} as match_requires_last_day,
    {{ int_var('match_min_hours') }} as match_min_hours,
    {{ 'true' if bool_var('core_last_day') else 'false' }} as core_requires_last_day,
    {{ int_var('core_min_hours') }} as core_min_hours
from experienced as e
left join hires as h on h.random_seed = e.random_seed
left join forfeiture_pool as fp on fp.random_seed = e.random_seed
cross join irs
order by e.random_seed
