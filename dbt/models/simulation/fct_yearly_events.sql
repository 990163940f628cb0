{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='simulation_year',
    tags=['yearly']
) }}
{#-
  Event log of simulation_year: hire, termination (event_details 'experienced' or
  'new_hire'), promotion, raise (merit + COLA) and enrollment (new hires who are
  auto-enrolled). At most one event per (simulation_year, employee_id, event_type).
  delete+insert on simulation_year: re-running a year replaces its rows.
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
        employee_id,
        'termination',
        termination_date,
        'new_hire',
        level_id,
        compensation,
        compensation
    from hires
    where is_terminated

    union all

    select
        employee_id,
        'termination',
        termination_date,
        'experienced',
        starting_level_id,
        starting_compensation,
        starting_compensation
    from experienced
    where is_terminated

    union all

    select
        employee_id,
        'promotion',
        {{ year_start }},
        'level ' || starting_level_id || ' -> ' || level_id,
        level_id,
        starting_compensation,
        promoted_compensation
    from experienced
    where is_promoted

    union all

    select
        employee_id,
        'raise',
        {{ year_start }},
        printf('merit %.2f%% + cola %.2f%%', cast(merit_rate as double) * 100, cast(cola_rate as double) * 100),
        level_id,
        promoted_compensation,
        compensation
    from experienced
    where not is_terminated
      and compensation <> promoted_compensation

    union all

    select
        employee_id,
        'enrollment',
        hire_date,
        printf('auto_enrollment at %.2f%%', cast(deferral_rate as double) * 100),
        level_id,
        cast(null as decimal(14, 2)),
        cast(null as decimal(14, 2))
    from hires
    where enrolled
)

select
    {{ sim_year }} as simulation_year,
    employee_id,
    event_type,
    event_date,
    event_details,
    level_id,
    previous_compensation,
    new_compensation
from events
order by employee_id, event_type
