{% macro level_ranges(sim_year) -%}
{#-
  One row per job level: config_job_levels with the salary range in force in plan year
  `sim_year` (an integer). The seed's ranges are those before Jan 1 of the base year (var
  salary_range_base_year, or start_year when it is null); every year from the base year
  moves them on Jan 1 by that year's structure increase (var structure_increase_rate, or
  when it is null the year's COLA: var cola_rate or the comp_levers cola_rate of the
  level), compounded, and a year before the base year has them moved back by the
  increases in between (a backtest from an earlier census keeps the same ranges). Raises
  are also effective Jan 1, so pay and ranges move on the same day.
-#}
{%- set start_year = int_var('start_year') -%}
{%- set base_year = start_year if _is_blank(var('salary_range_base_year')) else int_var('salary_range_base_year') -%}
{%- set forward = base_year <= sim_year -%}
{%- set first_year = base_year if forward else sim_year + 1 -%}
{%- set last_year = sim_year if forward else base_year - 1 -%}
{%- set levers = ref('comp_levers') -%}
with lever_years as (
    -- the comp_levers plan_year that applies to each year (rows_as_of_plan_year's rule)
    select
        y.year,
        coalesce(max(l.plan_year) filter (where l.plan_year <= y.year), min(l.plan_year)) as plan_year
    from (select unnest(range({{ first_year }}, {{ last_year }} + 1)) as year) as y
    cross join (select distinct plan_year from {{ levers }}) as l
    group by y.year
),

structure as (
    select
        lv.level_id,
        exp({{ 1 if forward else -1 }} * sum(ln(1 + {{ lever_value('structure_increase_rate', lever_value('cola_rate', 'lv.cola_rate', -1, 10), -1, 10) }})))
            as range_growth
    from lever_years as ly
    inner join {{ levers }} as lv on lv.plan_year = ly.plan_year
    group by lv.level_id
)

select
    lvl.*,
    coalesce(s.range_growth, 1) as range_growth,
    cast(round(lvl.min_compensation * coalesce(s.range_growth, 1), 2) as decimal(14, 2)) as range_min,
    cast(round(lvl.max_compensation * coalesce(s.range_growth, 1), 2) as decimal(14, 2)) as range_max,
    cast(round((lvl.min_compensation + lvl.max_compensation) / 2 * coalesce(s.range_growth, 1), 2)
         as decimal(14, 2)) as range_midpoint
from {{ ref('config_job_levels') }} as lvl
left join structure as s on s.level_id = lvl.level_id
{%- endmacro %}
