{{ config(materialized='table', tags=['foundation']) }}
{#-
  Employees active on Jan 1 of start_year: the population the first simulated year
  starts from. A census termination date on or after that day is kept
  (census_termination_date): the yearly models make the employee leave on it.
  scheduled_annual_hours is the census's annual_hours, else standard_weekly_hours x 52,
  else null (credited 190 hours per month employed, the DOL equivalency of 29 CFR
  2530.200b-3(e)); the account balances by source on the start date are the census's,
  0 where it has none. ownership_share and is_officer (0 and false where the census has
  none) decide who is a 5% or 1% owner or an officer for the nondiscrimination tests
  (IRC 414(q), 416(i); fct_compliance_employees).
-#}
{%- set start_year = int_var('start_year') -%}
{%- set baseline_date = "make_date(" ~ start_year ~ ", 1, 1)" -%}

with census as (
    select * from {{ ref('stg_census') }}
),

active as (
    select *
    from census
    where hire_date < {{ baseline_date }}
      and (termination_date is null or termination_date >= {{ baseline_date }})
),

measured as (
    select
        a.*,
        {{ years_between('a.birth_date', baseline_date) }} as age,
        {{ years_between('a.hire_date', baseline_date) }} as tenure_years
    from active as a
)

select
    m.employee_id,
    m.birth_date,
    m.hire_date,
    m.level_id,
    lvl.level_name,
    m.annual_compensation,
    m.deferral_rate,
    m.termination_date as census_termination_date,
    cast(m.age as integer) as age,
    cast(m.tenure_years as integer) as tenure_years,
    ab.band_label as age_band,
    tb.band_label as tenure_band,
    {{ start_year }} as baseline_year,
    cast(coalesce(m.annual_hours, m.standard_weekly_hours * 52) as decimal(8, 2)) as scheduled_annual_hours,
    m.deferral_balance,
    m.roth_balance,
    m.match_balance,
    m.nonelective_balance,
    m.ownership_share,
    m.is_officer
from measured as m
left join {{ ref('config_job_levels') }} as lvl
    on lvl.level_id = m.level_id
left join {{ band_lookup(ref('config_age_bands')) }} as ab
    on ab.band_value = m.age
left join {{ band_lookup(ref('config_tenure_bands')) }} as tb
    on tb.band_value = m.tenure_years
order by m.employee_id
