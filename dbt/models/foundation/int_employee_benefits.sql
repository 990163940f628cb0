{{ config(materialized='table', tags=['foundation']) }}
{#-
  Start-year retirement-plan position of every baseline employee as the census gives it:
  the election, the age that sets catch-up eligibility, and the prior year's wages that
  decide the Roth catch-up rule in the first simulated year. Reads only the census,
  start_year and seeds: the plan design (match formula, escalation) and the IRS limits,
  which depend on config, are applied by the yearly models.
-#}
{%- set start_year = int_var('start_year') -%}
{%- set prior_start = "make_date(" ~ (start_year - 1) ~ ", 1, 1)" -%}
{%- set prior_end = "make_date(" ~ (start_year - 1) ~ ", 12, 31)" -%}

select
    b.employee_id,
    {{ start_year }} as simulation_year,
    b.deferral_rate > 0 as enrolled,
    b.deferral_rate,
    cast({{ years_between('b.birth_date', 'make_date(' ~ start_year ~ ', 12, 31)') }} as integer) as age,
    b.annual_compensation,
    cast(round(b.annual_compensation * b.deferral_rate, 2) as decimal(14, 2)) as elective_deferral,
    -- the census salary for the part of the prior year employed: the FICA-wage proxy
    cast(round(b.annual_compensation
               * greatest(date_diff('day', greatest(b.hire_date, {{ prior_start }}), {{ prior_end }}) + 1, 0)
               / (date_diff('day', {{ prior_start }}, {{ prior_end }}) + 1), 2) as decimal(14, 2))
        as prior_year_wages
from {{ ref('int_baseline_workforce') }} as b
order by employee_id
