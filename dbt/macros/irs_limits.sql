{% macro irs_limits(sim_year) -%}
{#-
  One row: the IRS limits that apply to plan year `sim_year` (an integer).

  irs_contribution_limits holds published figures only. A year after its last row is
  projected from that row by var irs_indexing_rate a year, rounded DOWN as the
  statute rounds cost-of-living adjustments: 402(g), the catch-up limits to $500,
  415(c) to $1,000, 401(a)(17), the Roth catch-up wage threshold, the HCE threshold
  (414(q)(1)) and the key-employee officer pay (416(i)(1)(A)) to $5,000, the
  Social Security taxable wage base (the integration level of IRC 401(l)) to $300 (SSA
  rounds it to the nearest $300; projected from the IRS rate like the rest).
  (The statute indexes an unrounded base amount; compounding the last published,
  already rounded, figure can land one rounding step low: an estimate, flagged
  is_estimated.) A year before the first row uses the first row, also flagged.
-#}
{%- set indexing = num_var('irs_indexing_rate', 0, 1) -%}
with published as (
    {{ rows_as_of_plan_year(ref('irs_contribution_limits'), sim_year) }}
),

indexed as (
    select
        *,
        greatest({{ sim_year }} - plan_year, 0) as years_projected,
        pow(1 + {{ indexing }}, greatest({{ sim_year }} - plan_year, 0)) as growth
    from published
)

select
    {{ sim_year }} as simulation_year,
    plan_year as irs_plan_year,
    (is_estimated or plan_year <> {{ sim_year }}) as is_estimated,
    {{ _projected('limit_402g', 500) }} as limit_402g,
    {{ _projected('catch_up_limit', 500) }} as catch_up_limit,
    catch_up_age,
    {{ _projected('enhanced_catch_up_limit', 500) }} as enhanced_catch_up_limit,
    enhanced_catch_up_min_age,
    enhanced_catch_up_max_age,
    {{ _projected('limit_415c', 1000) }} as limit_415c,
    {{ _projected('limit_401a17', 5000) }} as limit_401a17,
    {{ _projected('roth_catch_up_wage_threshold', 5000) }} as roth_catch_up_wage_threshold,
    {{ _projected('taxable_wage_base', 300) }} as taxable_wage_base,
    {{ _projected('hce_threshold', 5000) }} as hce_threshold,
    {{ _projected('key_employee_officer_pay', 5000) }} as key_employee_officer_pay
from indexed
{%- endmacro %}


{% macro _projected(column, multiple) -%}
  {#- A published figure as is; a projected one rounded down to `multiple` (the 1e-9
      keeps a figure that lands exactly on a multiple from flooring one step low). -#}
  cast(case when years_projected = 0 then {{ column }}
            else floor({{ column }} * growth / {{ multiple }} + 1e-9) * {{ multiple }} end as integer)
{%- endmacro %}
