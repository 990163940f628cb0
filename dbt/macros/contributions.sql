{% macro contribution_ctes(source, name) -%}
{#-
  Retirement-plan contribution math shared by int_employee_benefits (foundation) and
  fct_workforce_snapshot (yearly), so both apply the IRS limits identically.

  `source` must provide: gross_compensation (pay for the period employed), enrolled,
  deferral_rate, age (at the end of the plan year), limit_402g, catch_up_limit,
  catch_up_age, limit_415c, limit_401a17. Emits three CTEs (no trailing comma); the last
  one is called `name` and adds:
    plan_compensation      gross compensation capped at 401(a)(17)
    catch_up_eligible      age >= catch_up_age
    elective_deferral      deferral_rate x plan_compensation (what the participant elected)
    base_deferral          elective deferral capped at 402(g)
    catch_up_contribution  elective above 402(g), up to catch_up_limit, only if eligible
    employee_contribution  base_deferral + catch_up_contribution
    employer_contribution  match_rate x min(deferral_rate, match_cap) x plan_compensation,
                           reduced so base_deferral + employer <= 415(c)
-#}
{%- set match_rate = num_var('match_rate', 0, 10) -%}
{%- set match_cap = num_var('match_cap', 0, 1) -%}
{{ name }}__plan_comp as (
    select
        src.*,
        cast(least(src.gross_compensation, src.limit_401a17) as decimal(14, 2)) as plan_compensation,
        (src.age >= src.catch_up_age) as catch_up_eligible
    from {{ source }} as src
),
{{ name }}__elective as (
    select
        pc.*,
        cast(case when pc.enrolled then round(pc.plan_compensation * pc.deferral_rate, 2) else 0 end
             as decimal(14, 2)) as elective_deferral,
        cast(case when pc.enrolled
                  then round({{ match_rate }} * least(pc.deferral_rate, {{ match_cap }}) * pc.plan_compensation, 2)
                  else 0 end as decimal(14, 2)) as match_before_415c
    from {{ name }}__plan_comp as pc
),
{{ name }}__limited as (
    select
        el.*,
        cast(least(el.elective_deferral, el.limit_402g) as decimal(14, 2)) as base_deferral,
        cast(case when el.catch_up_eligible
                  then least(el.elective_deferral - least(el.elective_deferral, el.limit_402g), el.catch_up_limit)
                  else 0 end as decimal(14, 2)) as catch_up_contribution
    from {{ name }}__elective as el
),
{{ name }} as (
    select
        li.*,
        cast(li.base_deferral + li.catch_up_contribution as decimal(14, 2)) as employee_contribution,
        cast(greatest(least(li.match_before_415c, li.limit_415c - li.base_deferral), 0)
             as decimal(14, 2)) as employer_contribution
    from {{ name }}__limited as li
)
{%- endmacro %}
