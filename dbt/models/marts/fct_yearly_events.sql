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
    enrollment                auto-enrollment at plan entry, or the re-enrollment sweep
    deferral_escalation       the yearly auto-escalation step
    eligibility               plan entry: the employee may defer from event_date
                              (IRC 410(a); eligibility_ctes)
    forfeiture                a leaver's non-vested employer money (amount), IRC 411(a)
    cash_out                  a leaver's vested balance under the cash-out limit, paid out (amount)
  Jan 1 actions (promotion, raises, escalation, sweep) are dated Jan 1; auto-enrollment
  and eligibility are dated on the entry date; forfeitures and cash-outs on the
  termination date. amount is null except for forfeiture and cash_out.
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set year_start = "make_date(" ~ sim_year ~ ", 1, 1)" -%}
{%- set year_end = "make_date(" ~ sim_year ~ ", 12, 31)" -%}

with experienced as (
    select * from {{ ref('int_yearly_experienced_changes') }}
),

hires as (
    select * from {{ ref('int_yearly_new_hires') }}
),

snapshot as (
    select
        random_seed,
        employee_id,
        level_id,
        hire_date,
        termination_date,
        is_long_term_part_time,
        eligibility_entry_date,
        employer_entry_date,
        starting_deferral_rate,
        deferral_rate,
        deferral_change,
        enrollment_date,
        vested_percent,
        account_status,
        forfeited_match,
        forfeited_nonelective,
        distributions
    from {{ ref('fct_workforce_snapshot') }}
    where scenario_id = {{ scenario_literal() }} and simulation_year = {{ sim_year }}
),

leavers as (
    select
        random_seed,
        employee_id,
        level_id,
        termination_date,
        account_status,
        forfeited_match + forfeited_nonelective as forfeitures,
        distributions,
        vested_percent
    from snapshot
    where termination_date is not null and account_status is not null
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
        compensation as new_compensation,
        cast(null as decimal(14, 2)) as amount
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
        compensation as new_compensation,
        cast(null as decimal(14, 2)) as amount
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
        compensation as new_compensation,
        cast(null as decimal(14, 2)) as amount
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
        promotion_compensation as new_compensation,
        cast(null as decimal(14, 2)) as amount
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
        promoted_compensation as new_compensation,
        cast(null as decimal(14, 2)) as amount
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
        compensation as new_compensation,
        cast(null as decimal(14, 2)) as amount
    from experienced
    where compensation <> promoted_compensation

    union all

    select
        random_seed,
        employee_id,
        case deferral_change when 'escalation' then 'deferral_escalation' else 'enrollment' end as event_type,
        coalesce(enrollment_date, {{ year_start }}) as event_date,
        case deferral_change
            when 'escalation'
                then 'deferral ' || {{ percent_text('starting_deferral_rate') }} || ' -> ' || {{ percent_text('deferral_rate') }}
            when 'auto_enrollment' then 'auto_enrollment at ' || {{ percent_text('deferral_rate') }}
            else 're-enrollment sweep at ' || {{ percent_text('deferral_rate') }}
        end as event_details,
        level_id,
        cast(null as decimal(14, 2)) as previous_compensation,
        cast(null as decimal(14, 2)) as new_compensation,
        cast(null as decimal(14, 2)) as amount
    from snapshot
    where deferral_change is not null

    union all

    select
        random_seed,
        employee_id,
        'eligibility' as event_type,
        eligibility_entry_date as event_date,
        case
            when is_long_term_part_time then 'may defer (long-term part-time; no employer contributions)'
            when employer_entry_date = eligibility_entry_date then 'may defer; employer contributions'
            when employer_entry_date is null then 'may defer; no employer contributions'
            else 'may defer; employer contributions from ' || cast(employer_entry_date as varchar)
        end as event_details,
        level_id,
        cast(null as decimal(14, 2)) as previous_compensation,
        cast(null as decimal(14, 2)) as new_compensation,
        cast(null as decimal(14, 2)) as amount
    from snapshot
    where eligibility_entry_date between greatest(hire_date, {{ year_start }}) and coalesce(termination_date, {{ year_end }})

    union all

    select
        random_seed,
        employee_id,
        'forfeiture' as event_type,
        termination_date as event_date,
        'non-vested employer money at ' || {{ percent_text('vested_percent') }} || ' vested' as event_details,
        level_id,
        cast(null as decimal(14, 2)) as previous_compensation,
        cast(null as decimal(14, 2)) as new_compensation,
        forfeitures as amount
    from leavers
    where forfeitures > 0

    union all

    select
        random_seed,
        employee_id,
        'cash_out' as event_type,
        termination_date as event_date,
        'vested balance under the cash-out limit, paid out' as event_details,
        level_id,
        cast(null as decimal(14, 2)) as previous_compensation,
        cast(null as decimal(14, 2)) as new_compensation,
        distributions as amount
    from leavers
    where account_status = 'cashed_out' and distributions > 0
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
    new_compensation,
    amount
from events
