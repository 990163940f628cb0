{#-
  Event log of simulation_year. At most one event per (scenario_id, random_seed,
  simulation_year, employee_id, event_type); delete+insert on (scenario_id, simulation_year): re-running
  a year of a scenario replaces its rows.
    hire                      new hires (event_details 'new_hire')
    termination               'experienced' (hazard), 'new_hire' or 'census' (the census's date)
    retirement                age-driven separation
    reduction_in_force        layoffs that bring headcount down to the growth target
    promotion                 the promotion raise (the lever, kept under the new range's maximum)
    promotion_to_range_minimum  the extra raise when the lever falls short of the new range's minimum
    raise                     merit + COLA
    enrollment                auto-enrollment of a new hire, or the re-enrollment sweep
    deferral_escalation       the yearly auto-escalation step
  Jan 1 actions (promotion, raises, escalation, sweep) are dated Jan 1.
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set year_start = "make_date(" ~ sim_year ~ ", 1, 1)" -%}

with experienced as (
    select * from {{ ref('int_yearly_experienced_changes') }}
),

hires as (
    select * from {{ ref('int_yearly_new_hires') }}
),

events as (
    select
        random_seed,
        employee_id,
        'hire' as event_type,
        hire_date as event_date,
        'new_hire' as event_details,
        level_id,
        cast(null as decimal(14, 2)) as previous_compensation,
        compensation as new_compensation
    from hires

    union all

    select
        random_seed,
        employee_id,
        'termination' as event_type,
        termination_date as event_date,
        'new_hire' as event_details,
        level_id,
        compensation as previous_compensation,
        compensation as new_compensation
    from hires
    where is_terminated

    union all

    select
        random_seed,
        employee_id,
        case separation_type when 'termination' then 'termination' when 'census' then 'termination'
             else separation_type end as event_type,
        termination_date as event_date,
        case separation_type when 'termination' then 'experienced' when 'census' then 'census'
             when 'retirement' then 'age ' || age else 'below the growth target' end as event_details,
        level_id,
        compensation as previous_compensation,
        compensation as new_compensation
    from experienced
    where is_terminated

    union all

    select
        random_seed,
        employee_id,
        'promotion' as event_type,
        {{ year_start }} as event_date,
        'level ' || starting_level_id || ' -> ' || level_id || ', raise '
        || {{ percent_text('promotion_compensation / starting_compensation - 1') }} as event_details,
        level_id,
        starting_compensation as previous_compensation,
        promotion_compensation as new_compensation
    from experienced
    where is_promoted

    union all

    select
        random_seed,
        employee_id,
        'promotion_to_range_minimum' as event_type,
        {{ year_start }} as event_date,
        'level ' || level_id || ' minimum, +'
        || {{ percent_text('promoted_compensation / promotion_compensation - 1') }} as event_details,
        level_id,
        promotion_compensation as previous_compensation,
        promoted_compensation as new_compensation
    from experienced
    where is_promoted and promoted_compensation > promotion_compensation

    union all

    select
        random_seed,
        employee_id,
        'raise' as event_type,
        {{ year_start }} as event_date,
        'merit ' || {{ percent_text('merit_rate') }} || ' + cola ' || {{ percent_text('cola_rate') }} as event_details,
        level_id,
        promoted_compensation as previous_compensation,
        compensation as new_compensation
    from experienced
    where compensation <> promoted_compensation

    union all

    select
        random_seed,
        employee_id,
        'enrollment' as event_type,
        hire_date as event_date,
        'auto_enrollment at ' || {{ percent_text('deferral_rate') }} as event_details,
        level_id,
        cast(null as decimal(14, 2)) as previous_compensation,
        cast(null as decimal(14, 2)) as new_compensation
    from hires
    where enrolled

    union all

    select
        random_seed,
        employee_id,
        case deferral_change when 'escalation' then 'deferral_escalation' else 'enrollment' end as event_type,
        {{ year_start }} as event_date,
        case deferral_change
            when 'escalation'
                then 'deferral ' || {{ percent_text('starting_deferral_rate') }} || ' -> ' || {{ percent_text('deferral_rate') }}
            else 're-enrollment sweep at ' || {{ percent_text('deferral_rate') }}
        end as event_details,
        level_id,
        cast(null as decimal(14, 2)) as previous_compensation,
        cast(null as decimal(14, 2)) as new_compensation
    from experienced
    where deferral_change is not null
)

select
    {{ scenario_literal() }} as scenario_id,
    random_seed,
    {{ sim_year }} as simulation_year,
    employee_id,
    event_type,
    event_date,
    event_details,
    level_id,
    previous_compensation,
    new_compensation
from events
order by random_seed, employee_id, event_type
