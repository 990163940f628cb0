{{ config(materialized='table', tags=['foundation']) }}
{#-
  First-year (start_year) compensation of every baseline employee, with its position in
  the level's salary range as the census has it (config_job_levels, before start_year's
  structure increase). Reads only the census, start_year and seeds, so scenarios that
  differ in config levers share it; IRS limits are applied by the yearly models.
-#}
{%- set start_year = int_var('start_year') -%}

select
    b.employee_id,
    {{ start_year }} as simulation_year,
    b.level_id,
    b.annual_compensation,
    cast(b.annual_compensation / ((lvl.min_compensation + lvl.max_compensation) / 2) as decimal(9, 4)) as compa_ratio
from {{ ref('int_baseline_workforce') }} as b
left join {{ ref('config_job_levels') }} as lvl on lvl.level_id = b.level_id
order by b.employee_id
