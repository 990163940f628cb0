{{ config(materialized='table', tags=['foundation']) }}
{#- First-year (start_year) compensation, with the plan compensation the IRS lets the plan count. -#}
{%- set start_year = int_var('start_year') -%}
{%- set limits = ref('irs_contribution_limits') -%}

with irs as (
    {{ rows_as_of_plan_year(limits, start_year) }}
)

select
    b.employee_id,
    {{ start_year }} as simulation_year,
    b.level_id,
    b.annual_compensation,
    cast(least(b.annual_compensation, irs.limit_401a17) as decimal(14, 2)) as plan_compensation
from {{ ref('int_baseline_workforce') }} as b
cross join irs
order by b.employee_id
