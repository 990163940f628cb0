{{ config(materialized='table', tags=['foundation']) }}
{#-
  Start-year retirement-plan position of every baseline employee, for a full year of pay
  (the yearly snapshot prorates). Uses the same contribution_ctes macro as the simulation.
-#}
{%- set start_year = int_var('start_year') -%}
{%- set limits = ref('irs_contribution_limits') -%}

with irs as (
    {{ rows_as_of_plan_year(limits, start_year) }}
),

inputs as (
    select
        b.employee_id,
        {{ start_year }} as simulation_year,
        b.deferral_rate > 0 as enrolled,
        b.deferral_rate,
        {{ years_between('b.birth_date', 'make_date(' ~ start_year ~ ', 12, 31)') }} as age,
        c.annual_compensation as gross_compensation,
        irs.plan_year as irs_plan_year,
        irs.limit_402g,
        irs.catch_up_limit,
        irs.catch_up_age,
        irs.limit_415c,
        irs.limit_401a17
    from {{ ref('int_baseline_workforce') }} as b
    inner join {{ ref('int_employee_compensation_by_year') }} as c
        on c.employee_id = b.employee_id
    cross join irs
),

{{ contribution_ctes('inputs', 'contributions') }}

select
    employee_id,
    simulation_year,
    enrolled,
    deferral_rate,
    cast(age as integer) as age,
    catch_up_eligible,
    irs_plan_year,
    limit_402g,
    catch_up_limit,
    catch_up_age,
    limit_415c,
    limit_401a17,
    plan_compensation,
    elective_deferral,
    base_deferral,
    catch_up_contribution,
    employee_contribution,
    employer_contribution
from contributions
order by employee_id
