{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['scenario_id', 'simulation_year'],
    tags=['yearly']
) }}
{#-
  Event log of simulation_year: hire, termination (event_details 'experienced' or
  'new_hire'), promotion, raise (merit + COLA) and enrollment (new hires who are
  auto-enrolled). At most one event per (simulation_year, employee_id, event_type).
  delete+insert on (scenario_id, simulation_year): re-running a year of a scenario replaces its rows.
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
        employee_id,
        'termination' as event_type,
        termination_date as event_date,
        'experienced' as event_details,
        starting_level_id as level_id,
        starting_compensation as previous_compensation,
        starting_compensation as new_compensation
    from experienced
    where is_terminated

    union all

    select
        employee_id,
        'promotion' as event_type,
        {{ year_start }} as event_date,
        'level ' || starting_level_id || ' -> ' || level_id as event_details,
        level_id,
        starting_compensation as previous_compensation,
        promoted_compensation as new_compensation
    from experienced
    where is_promoted

    union all

    select
        employee_id,
        'raise' as event_type,
        {{ year_start }} as event_date,
        printf('merit %.2f%% + cola %.2f%%', cast(merit_rate as double) * 100, cast(cola_rate as double) * 100) as event_details,
        level_id,
        promoted_compensation as previous_compensation,
        compensation as new_compensation
    from experienced
    where
        not is_terminated
        and compensation <> promoted_compensation

    union all

    select
        employee_id,
        'enrollment' as event_type,
        hire_date as event_date,
        printf('auto_enrollment at %.2f%%', cast(deferral_rate as double) * 100) as event_details,
        level_id,
        cast(null as decimal(14, 2)) as previous_compensation,
        cast(null as decimal(14, 2)) as new_compensation
    from hires
    where enrolled
)

select
    {{ scenario_literal() }} as scenario_id,
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
