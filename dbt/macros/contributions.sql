{% macro contribution_ctes(source, name) -%}
{#-
  Retirement-plan contribution math of fct_workforce_snapshot: the year's IRS limits
  and the plan's match formula, applied per employee-year.

  `source` must provide: deferral_compensation (pay for the period eligible to defer),
  employer_compensation (pay for the period eligible for employer money, within the
  former), enrolled, deferral_rate, age (at the end of the plan year), prior_year_wages,
  and the columns of
  irs_limits(): limit_402g, catch_up_limit, catch_up_age, enhanced_catch_up_limit,
  enhanced_catch_up_min_age, enhanced_catch_up_max_age, limit_415c, limit_401a17,
  roth_catch_up_wage_threshold. Emits CTEs (no trailing comma); the last one is called
  `name` and adds:
    plan_compensation       deferral_compensation capped at 401(a)(17)
    employer_plan_compensation  employer_compensation capped at 401(a)(17)
    applicable_catch_up_limit  0 under catch_up_age; the enhanced (SECURE 2.0 s.109)
                            limit at ages enhanced_catch_up_min_age-max_age when the year
                            has one; the regular catch-up limit otherwise
    elective_deferral       deferral_rate x plan_compensation (what the participant elected)
    base_deferral           elective deferral capped at 402(g)
    catch_up_contribution   elective above 402(g), up to applicable_catch_up_limit
    employee_contribution   base_deferral + catch_up_contribution (the actual deferrals)
    roth_catch_up_required  prior-year wages above the year's Roth catch-up threshold
                            (SECURE 2.0 s.603): the catch-up may only be made as Roth
    catch_up_roth, catch_up_pre_tax  the catch-up split accordingly
    match_deferrals         the actual deferrals made while eligible for employer money
                            (all of them when both periods are the same; else their share
                            of pay, deferrals being spread evenly over the pay)
    employer_contribution   the match formula (match_tiers()) applied to match_deferrals
                            on employer_plan_compensation, reduced so base_deferral +
                            employer <= 415(c)
  The match is computed once on the year's actual deferrals, as a plan with a year-end
  true-up pays it (without a true-up, a per-pay-period match can come out lower).
-#}
{{ name }}__plan_comp as (
    select
        src.*,
        cast(least(src.deferral_compensation, src.limit_401a17) as decimal(14, 2)) as plan_compensation,
        cast(least(src.employer_compensation, src.limit_401a17) as decimal(14, 2)) as employer_plan_compensation,
        case
            when src.age < src.catch_up_age then 0
            when src.enhanced_catch_up_limit is not null
                 and src.age between src.enhanced_catch_up_min_age and src.enhanced_catch_up_max_age
                then src.enhanced_catch_up_limit
            else src.catch_up_limit
        end as applicable_catch_up_limit
    from {{ source }} as src
),

{{ name }}__elective as (
    select
        pc.*,
        cast(case when pc.enrolled then round(pc.plan_compensation * pc.deferral_rate, 2) else 0 end
             as decimal(14, 2)) as elective_deferral
    from {{ name }}__plan_comp as pc
),

{{ name }}__limited as (
    select
        el.*,
        cast(least(el.elective_deferral, el.limit_402g) as decimal(14, 2)) as base_deferral,
        cast(least(el.elective_deferral - least(el.elective_deferral, el.limit_402g), el.applicable_catch_up_limit)
             as decimal(14, 2)) as catch_up_contribution,
        coalesce(el.prior_year_wages > el.roth_catch_up_wage_threshold, false) as roth_catch_up_required
    from {{ name }}__elective as el
),

{{ name }}__eligible_deferrals as (
    select
        li.*,
        cast(case
            when li.employer_compensation = li.deferral_compensation then li.base_deferral + li.catch_up_contribution
            else round((li.base_deferral + li.catch_up_contribution) * li.employer_compensation
                       / li.deferral_compensation, 2)
        end as decimal(15, 2)) as match_deferrals
    from {{ name }}__limited as li
),

{{ name }}__matched as (
    select
        ed.*,
        cast(ed.base_deferral + ed.catch_up_contribution as decimal(14, 2)) as employee_contribution,
        cast(round({{ match_formula('ed.match_deferrals', 'ed.employer_plan_compensation') }}, 2)
             as decimal(14, 2)) as match_before_415c
    from {{ name }}__eligible_deferrals as ed
),

{{ name }} as (
    select
        ma.*,
        cast(case when ma.roth_catch_up_required then ma.catch_up_contribution else 0 end as decimal(14, 2))
            as catch_up_roth,
        cast(case when ma.roth_catch_up_required then 0 else ma.catch_up_contribution end as decimal(14, 2))
            as catch_up_pre_tax,
        cast(greatest(least(ma.match_before_415c, ma.limit_415c - ma.base_deferral), 0) as decimal(14, 2))
            as employer_contribution
    from {{ name }}__matched as ma
)
{%- endmacro %}


{% macro match_formula(deferred_expr, compensation_expr) -%}
  {#- The employer match on `deferred_expr` dollars deferred out of `compensation_expr`:
      for each tier, rate x the part of the deferral between the tier's lower and upper
      bound (as shares of compensation). 100% of the first 3% plus 50% of the next 2%
      (safe harbor) is [{rate: 1.0, up_to: 0.03}, {rate: 0.5, up_to: 0.05}]. -#}
  {%- set terms = [] -%}
  {%- set lower = namespace(value=0.0) -%}
  {%- for tier in match_tiers() -%}
    {%- do terms.append(tier.rate ~ " * greatest(least(" ~ deferred_expr ~ ", " ~ tier.up_to ~ " * "
                        ~ compensation_expr ~ ") - " ~ lower.value ~ " * " ~ compensation_expr ~ ", 0)") -%}
    {%- set lower.value = tier.up_to -%}
  {%- endfor -%}
  ({{ terms | join(' + ') if terms else '0' }})
{%- endmacro %}


{% macro match_tiers() -%}
  {#- The match formula as tiers: var match_tiers (a list of {rate, up_to} with up_to
      rising) when it is set, else the single tier var match_rate up to var match_cap.
      Converting through float keeps SQL out, and a malformed value fails at compile time. -#}
  {%- set raw = var('match_tiers') -%}
  {%- if _is_blank(raw) -%}
    {%- set cap = num_var('match_cap', 0, 1) -%}
    {{- return([{'rate': num_var('match_rate', 0, 10), 'up_to': cap}] if cap > 0 else []) -}}
  {%- endif -%}
  {%- set tiers = [] -%}
  {%- set previous = namespace(up_to=0.0) -%}
  {%- if raw is string or raw is mapping or raw is not iterable -%}
    {{- exceptions.raise_compiler_error("var 'match_tiers' must be a list of {rate, up_to}, got: " ~ raw) -}}
  {%- endif -%}
  {%- for tier in raw -%}
    {%- set rate = (tier.rate if tier is mapping else none) | float(default=none) -%}
    {%- set up_to = (tier.up_to if tier is mapping else none) | float(default=none) -%}
    {%- if rate is none or up_to is none or rate < 0 or up_to <= previous.up_to or up_to > 1 -%}
      {{- exceptions.raise_compiler_error("var 'match_tiers' entry " ~ loop.index ~ " must be {rate: >= 0, up_to: "
          ~ "above the previous tier's and <= 1}, got: " ~ tier) -}}
    {%- endif -%}
    {%- do tiers.append({'rate': rate, 'up_to': up_to}) -%}
    {%- set previous.up_to = up_to -%}
  {%- endfor -%}
  {{- return(tiers) -}}
{%- endmacro %}
