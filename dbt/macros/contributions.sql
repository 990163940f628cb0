{% macro contribution_ctes(source, name) -%}
{#-
  Retirement-plan contribution math of fct_workforce_snapshot: the year's IRS limits,
  the plan's match and non-elective (core) contributions, applied per employee-year.
  DOMAIN.md: "IRS limits", "Common plan designs", "Employer contributions beyond the match".

  `source` must provide: deferral_compensation (pay for the period eligible to defer),
  employer_compensation (pay for the period eligible for employer money, within the
  former), enrolled, deferral_rate, age (at the end of the plan year), tenure_years
  (whole years from the hire date to Dec 31 or the termination date), birth_date,
  hire_date, termination_date, employed_from, employed_to, eligibility_entry_date,
  employer_entry_date, hours_worked, prior_year_wages, and the columns of
  irs_limits(): limit_402g, catch_up_limit, catch_up_age, enhanced_catch_up_limit,
  enhanced_catch_up_min_age, enhanced_catch_up_max_age, limit_415c, limit_401a17,
  roth_catch_up_wage_threshold, taxable_wage_base. Emits CTEs (no trailing comma); the
  last one is called `name` and adds:
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
    core_contribution       the non-elective contribution (core_amount(): var core_formula,
                            or a safe harbor design's 3%) on employer_plan_compensation,
                            whether or not the employee defers; 0 when its allocation
                            condition (vars core_last_day, core_min_hours) is not met
    match_contribution      the match (match_amount(): the tiers, or the tiers of the
                            employee's band of service or points) on match_deferrals and
                            employer_plan_compensation, at most var match_max_amount a
                            year, including the true-up; 0 when its allocation condition
                            (vars match_last_day, match_min_hours) is not met
    true_up_contribution    the part of match_contribution paid at year end by the true-up
    employer_contribution   match_contribution + core_contribution
  The match is computed on the plan year's totals (var match_period 'plan_year', the
  default), as a plan with a year-end true-up pays it; the band of a banded match is the
  employee's service or points at the end of the year (or on leaving). With 'pay_period'
  it is computed on each paycheck of var pay_frequency (pay_periods()): the year's
  plan compensation and elected deferral are spread over the days of the pay periods
  employed and eligible, deferrals stop once the year's 402(g) + catch-up limit is
  reached, each paycheck's match uses the band on its pay date, and the sum is rounded
  to the cent. An employee who reaches the limit early then gets no match for the rest
  of the year; var true_up pays, at year end, the difference up to the match the same
  paychecks give with the year's deferrals spread evenly over them.
  415(c) (annual additions: base deferrals + employer money, catch-up excluded) never
  cuts deferrals here; the employer money fits in what they leave, the match being cut
  before the core contribution (as plan documents commonly correct an excess: forfeit
  the match before reducing non-elective money) and the true-up before the paycheck
  match; re-allocated forfeitures (account_ctes) fit in what is left.
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set year_end = "make_date(" ~ sim_year ~ ", 12, 31)" -%}
{%- set per_pay_period = choice_var('match_period', ['plan_year', 'pay_period']) == 'pay_period' -%}
{%- set true_up = bool_var('true_up') and per_pay_period -%}
{%- set max_match = none if _is_blank(var('match_max_amount')) else num_var('match_max_amount', 0, 1000000) -%}
{%- set match_condition = allocation_condition('match_last_day', 'match_min_hours', 'em', year_end) -%}
{%- set core_condition = allocation_condition('core_last_day', 'core_min_hours', 'em', year_end) -%}
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
{%- if per_pay_period %}

{{ name }}__pay_periods as (
    {{ pay_periods(sim_year) }}
),

{{ name }}__paychecks as (
    -- the pay periods of the year's employer window (deferrals before it count toward the
    -- limit through `days_before`): days deferring and days eligible for employer money
    select
        ed.random_seed,
        ed.employee_id,
        ed.birth_date,
        ed.hire_date,
        ed.elective_deferral,
        cast(ed.base_deferral + ed.catch_up_contribution as double) as year_deferrals,
        cast(ed.limit_402g + ed.applicable_catch_up_limit as double) as deferral_limit,
        cast(ed.employer_plan_compensation as double) as employer_pay,
        date_diff('day', greatest(ed.eligibility_entry_date, ed.employed_from), ed.employed_to) + 1 as deferral_window,
        date_diff('day', greatest(ed.employer_entry_date, ed.employed_from), ed.employed_to) + 1 as employer_window,
        date_diff('day', greatest(pp.period_start, ed.eligibility_entry_date, ed.employed_from),
                  least(pp.period_end, ed.employed_to)) + 1 as deferral_days,
        date_diff('day', greatest(pp.period_start, ed.employer_entry_date, ed.employed_from),
                  least(pp.period_end, ed.employed_to)) + 1 as employer_days,
        date_diff('day', greatest(ed.eligibility_entry_date, ed.employed_from),
                  greatest(pp.period_start, ed.eligibility_entry_date, ed.employed_from)) as days_before,
        least(pp.period_end, ed.employed_to) as pay_date
    from {{ name }}__eligible_deferrals as ed
    inner join {{ name }}__pay_periods as pp
        on
            pp.period_end >= greatest(ed.employer_entry_date, ed.employed_from)
            and pp.period_start <= ed.employed_to
    where ed.match_deferrals > 0
),

{{ name }}__paycheck_amounts as (
    select
        pc.*,
        -- the paycheck's deferral: the election spread over the days deferring, until the
        -- year's deferrals reach the 402(g) + catch-up limit
        least(pc.elective_deferral * pc.deferral_days / pc.deferral_window,
              greatest(pc.deferral_limit - pc.elective_deferral * pc.days_before / pc.deferral_window, 0))
        * pc.employer_days / pc.deferral_days as matched_deferral,
        -- the same paycheck with the year's deferrals spread evenly (what a true-up restores)
        pc.year_deferrals * pc.employer_days / pc.deferral_window as even_deferral,
        pc.employer_pay * pc.employer_days / pc.employer_window as paycheck_pay,
        {{ years_between('pc.birth_date', 'pc.pay_date') }} as paycheck_age,
        {{ years_between('pc.hire_date', 'pc.pay_date') }} as paycheck_service
    from {{ name }}__paychecks as pc
),

{{ name }}__paycheck_match as (
    select
        random_seed,
        employee_id,
        -- each paycheck's match as an exact decimal, so the sum does not depend on the order
        -- the threads add the paychecks in (a double's would, in its last bits)
        round(sum(cast({{ match_amount('matched_deferral', 'paycheck_pay', 'paycheck_age', 'paycheck_service') }}
                       as decimal(18, 8))), 2) as paycheck_match,
        round(sum(cast({{ match_amount('even_deferral', 'paycheck_pay', 'paycheck_age', 'paycheck_service') }}
                       as decimal(18, 8))), 2) as even_match
    from {{ name }}__paycheck_amounts
    group by random_seed, employee_id
),
{%- endif %}

{{ name }}__matched as (
    select
        ed.*,
        cast(ed.base_deferral + ed.catch_up_contribution as decimal(14, 2)) as employee_contribution,
        {%- if per_pay_period %}
        cast(coalesce(pm.paycheck_match, 0) as decimal(14, 2)) as match_formula_amount,
        cast(coalesce(pm.even_match, 0) as decimal(14, 2)) as even_match_amount,
        {%- else %}
        cast(round({{ match_amount('ed.match_deferrals', 'ed.employer_plan_compensation', 'ed.age', 'ed.tenure_years') }}, 2)
             as decimal(14, 2)) as match_formula_amount,
        {%- endif %}
        cast(round({{ core_amount('ed.employer_plan_compensation', 'ed.age', 'ed.tenure_years', 'ed.taxable_wage_base') }}, 2)
             as decimal(14, 2)) as core_amount
    from {{ name }}__eligible_deferrals as ed
    {%- if per_pay_period %}
    left join {{ name }}__paycheck_match as pm
        on pm.random_seed = ed.random_seed and pm.employee_id = ed.employee_id
    {%- endif %}
),

{{ name }}__due as (
    -- what the formulas pay before 415(c): the match within its dollar cap, the true-up,
    -- each only when its allocation condition is met
    select
        em.*,
        cast({% if match_condition %}case when {{ match_condition }} then {% endif -%}
             {{ _capped('em.match_formula_amount', max_match) }}
             {%- if match_condition %} else 0 end{% endif %} as decimal(14, 2)) as match_due,
        {%- if true_up %}
        -- only deferrals stopped by the limit leave paychecks unmatched: below it the
        -- paychecks are the even spread itself
        cast(case when {{ match_condition or 'true' }}
                       and em.elective_deferral > em.limit_402g + em.applicable_catch_up_limit
                  then greatest({{ _capped('em.even_match_amount', max_match) }}
                                - {{ _capped('em.match_formula_amount', max_match) }}, 0)
                  else 0 end as decimal(14, 2)) as true_up_due,
        {%- else %}
        cast(0 as decimal(14, 2)) as true_up_due,
        {%- endif %}
        cast({% if core_condition %}case when {{ core_condition }} then em.core_amount else 0 end
             {%- else %}em.core_amount{% endif %} as decimal(14, 2)) as core_due
    from {{ name }}__matched as em
),

{{ name }}__within_415c as (
    select
        du.*,
        cast(greatest(least(du.core_due, du.limit_415c - du.base_deferral), 0) as decimal(14, 2)) as core_contribution
    from {{ name }}__due as du
),

{{ name }}__employer as (
    select
        wl.*,
        cast(greatest(least(wl.match_due + wl.true_up_due, wl.limit_415c - wl.base_deferral - wl.core_contribution), 0)
             as decimal(14, 2)) as match_contribution
    from {{ name }}__within_415c as wl
),

{{ name }} as (
    select
        er.*,
        cast(case when er.roth_catch_up_required then er.catch_up_contribution else 0 end as decimal(14, 2))
            as catch_up_roth,
        cast(case when er.roth_catch_up_required then 0 else er.catch_up_contribution end as decimal(14, 2))
            as catch_up_pre_tax,
        cast(greatest(er.match_contribution - er.match_due, 0) as decimal(14, 2)) as true_up_contribution,
        cast(er.match_contribution + er.core_contribution as decimal(14, 2)) as employer_contribution
    from {{ name }}__employer as er
)
{%- endmacro %}


{% macro _capped(amount_expr, cap) -%}
  {#- A yearly match amount within var match_max_amount (none: no dollar cap). -#}
  {%- if cap is none -%}{{ amount_expr }}{%- else -%}least({{ amount_expr }}, {{ cap }}){%- endif -%}
{%- endmacro %}


{% macro allocation_condition(last_day_var, hours_var, alias, year_end) -%}
  {#- The allocation condition of one kind of employer money as a SQL test on `alias`, or
      '' when it has none (DOMAIN.md "Employer contributions beyond the match": employed
      on the last day of the plan year, and/or a minimum of hours in it, at most 1,000;
      never for safe harbor money, which the config refuses). -#}
  {%- set parts = [] -%}
  {%- if bool_var(last_day_var) -%}
    {%- do parts.append("coalesce(" ~ alias ~ ".termination_date >= " ~ year_end ~ ", true)") -%}
  {%- endif -%}
  {%- set hours = int_var(hours_var) -%}
  {%- if hours < 0 or hours > 1000 -%}
    {{- exceptions.raise_compiler_error("var '" ~ hours_var ~ "' must be 0-1000, got: " ~ hours) -}}
  {%- endif -%}
  {%- if hours > 0 -%}
    {%- do parts.append(alias ~ ".hours_worked >= " ~ hours) -%}
  {%- endif -%}
  {{- return(parts | join(' and ')) -}}
{%- endmacro %}


{% macro pay_periods(sim_year) -%}
  {#- The pay periods of plan year `sim_year` (var pay_frequency): period_number,
      period_start, period_end (the pay date). Monthly: calendar months; semimonthly: the
      1st-15th and the 16th-end of each month; biweekly and weekly: 14 or 7 days from
      Jan 1, the last period running to Dec 31 (26 and 52 periods a year). -#}
  {%- set frequency = choice_var('pay_frequency', ['weekly', 'biweekly', 'semimonthly', 'monthly']) -%}
  {%- set count = {'weekly': 52, 'biweekly': 26, 'semimonthly': 24, 'monthly': 12}[frequency] -%}
  {%- set jan_1 = "make_date(" ~ sim_year ~ ", 1, 1)" -%}
  select
      r.n as period_number,
      {%- if frequency == 'monthly' %}
      make_date({{ sim_year }}, cast(r.n as integer), 1) as period_start,
      last_day(make_date({{ sim_year }}, cast(r.n as integer), 1)) as period_end
      {%- elif frequency == 'semimonthly' %}
      make_date({{ sim_year }}, cast((r.n + 1) // 2 as integer), case when r.n % 2 = 1 then 1 else 16 end) as period_start,
      case
          when r.n % 2 = 1 then make_date({{ sim_year }}, cast((r.n + 1) // 2 as integer), 15)
          else last_day(make_date({{ sim_year }}, cast((r.n + 1) // 2 as integer), 1))
      end as period_end
      {%- else %}
      {%- set days = 7 if frequency == 'weekly' else 14 %}
      cast({{ jan_1 }} + cast((r.n - 1) * {{ days }} as integer) as date) as period_start,
      case
          when r.n = {{ count }} then make_date({{ sim_year }}, 12, 31)
          else cast({{ jan_1 }} + cast(r.n * {{ days }} - 1 as integer) as date)
      end as period_end
      {%- endif %}
  from range(1, {{ count + 1 }}) as r (n)
{%- endmacro %}


{% macro match_amount(deferred_expr, compensation_expr, age_expr, service_expr) -%}
  {#- The match on `deferred_expr` dollars out of `compensation_expr` (var match_formula):
      'tiers' applies match_tiers() to everyone; 'service_bands' and 'points_bands' apply
      the tiers of the employee's band (match_bands()): the last band whose at_least is at
      most the years of service (`service_expr`), or the points (age + service). -#}
  {%- set formula = choice_var('match_formula', ['tiers', 'service_bands', 'points_bands']) -%}
  {%- if formula == 'tiers' -%}
    {{ match_formula(deferred_expr, compensation_expr) }}
  {%- else -%}
    {%- set measure = service_expr if formula == 'service_bands' else '(' ~ age_expr ~ ' + ' ~ service_expr ~ ')' -%}
    {%- set bands = match_bands() -%}
    (case
        {%- for band in bands | reverse %}
        when {{ measure }} >= {{ band.at_least }} then {{ match_formula(deferred_expr, compensation_expr, band.tiers) }}
        {%- endfor %}
        else 0
    end)
  {%- endif -%}
{%- endmacro %}


{% macro core_amount(compensation_expr, age_expr, service_expr, wage_base_expr) -%}
  {#- The non-elective (core) contribution on `compensation_expr` (var core_formula;
      DOMAIN.md "Employer contributions beyond the match"): 'flat' var core_rate of pay;
      'age_bands', 'service_bands', 'points_bands' the rate of the employee's band
      (core_bands(): the last band whose at_least is at most the age on Dec 31, the years
      of service, or the points, age + service); 'integrated' with Social Security (IRC
      401(l)): var core_rate on pay up to the integration level (var
      integration_level_share x the year's taxable wage base, `wage_base_expr`) and var
      core_excess_rate on pay above it. A safe harbor non-elective design reaches here as
      'flat' 3% (the config expands it). -#}
  {%- set formula = choice_var('core_formula', ['none', 'flat', 'age_bands', 'service_bands', 'points_bands', 'integrated']) -%}
  {%- if formula == 'none' -%}
    0
  {%- elif formula == 'flat' -%}
    ({{ num_var('core_rate', 0, 0.25) }} * {{ compensation_expr }})
  {%- elif formula == 'integrated' -%}
    {%- set level = "(" ~ num_var('integration_level_share', 0, 1) ~ " * " ~ wage_base_expr ~ ")" -%}
    ({{ num_var('core_rate', 0, 0.25) }} * least({{ compensation_expr }}, {{ level }})
     + {{ num_var('core_excess_rate', 0, 0.25) }} * greatest({{ compensation_expr }} - {{ level }}, 0))
  {%- else -%}
    {%- set measure = {'age_bands': age_expr, 'service_bands': service_expr,
                       'points_bands': '(' ~ age_expr ~ ' + ' ~ service_expr ~ ')'}[formula] -%}
    (case
        {%- for band in core_bands() | reverse %}
        when {{ measure }} >= {{ band.at_least }} then {{ band.rate }}
        {%- endfor %}
        else 0
    end * {{ compensation_expr }})
  {%- endif -%}
{%- endmacro %}


{% macro match_formula(deferred_expr, compensation_expr, tiers=none) -%}
  {#- The employer match on `deferred_expr` dollars deferred out of `compensation_expr`:
      for each tier, rate x the part of the deferral between the tier's lower and upper
      bound (as shares of compensation). 100% of the first 3% plus 50% of the next 2%
      (safe harbor) is [{rate: 1.0, up_to: 0.03}, {rate: 0.5, up_to: 0.05}]. `tiers`
      defaults to match_tiers(). -#}
  {%- set terms = [] -%}
  {%- set lower = namespace(value=0.0) -%}
  {%- for tier in (match_tiers() if tiers is none else tiers) -%}
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
  {{- return(_parsed_tiers(raw, "var 'match_tiers'")) -}}
{%- endmacro %}


{% macro _parsed_tiers(raw, what) -%}
  {#- A list of {rate, up_to} with up_to rising, as floats; a compile error naming `what` otherwise. -#}
  {%- set tiers = [] -%}
  {%- set previous = namespace(up_to=0.0) -%}
  {%- if raw is string or raw is mapping or raw is not iterable -%}
    {{- exceptions.raise_compiler_error(what ~ " must be a list of {rate, up_to}, got: " ~ raw) -}}
  {%- endif -%}
  {%- for tier in raw -%}
    {%- set rate = (tier.rate if tier is mapping else none) | float(default=none) -%}
    {%- set up_to = (tier.up_to if tier is mapping else none) | float(default=none) -%}
    {%- if rate is none or up_to is none or rate < 0 or up_to <= previous.up_to or up_to > 1 -%}
      {{- exceptions.raise_compiler_error(what ~ " entry " ~ loop.index ~ " must be {rate: >= 0, up_to: "
          ~ "above the previous tier's and <= 1}, got: " ~ tier) -}}
    {%- endif -%}
    {%- do tiers.append({'rate': rate, 'up_to': up_to}) -%}
    {%- set previous.up_to = up_to -%}
  {%- endfor -%}
  {{- return(tiers) -}}
{%- endmacro %}


{% macro match_bands() -%}
  {#- var match_bands: a list of {at_least, tiers} with at_least rising from 0, as numbers. -#}
  {%- set bands = [] -%}
  {%- for band in _parsed_bands('match_bands') -%}
    {%- do bands.append({'at_least': band.at_least, 'tiers': _parsed_tiers(band.raw.tiers, "var 'match_bands' band " ~ loop.index)}) -%}
  {%- endfor -%}
  {{- return(bands) -}}
{%- endmacro %}


{% macro core_bands() -%}
  {#- var core_bands: a list of {at_least, rate} with at_least rising from 0, as numbers. -#}
  {%- set bands = [] -%}
  {%- for band in _parsed_bands('core_bands') -%}
    {%- set rate = band.raw.rate | float(default=none) -%}
    {%- if rate is none or rate < 0 or rate > 0.25 -%}
      {{- exceptions.raise_compiler_error("var 'core_bands' band " ~ loop.index ~ " needs a rate of 0-0.25, got: " ~ band.raw) -}}
    {%- endif -%}
    {%- do bands.append({'at_least': band.at_least, 'rate': rate}) -%}
  {%- endfor -%}
  {{- return(bands) -}}
{%- endmacro %}


{% macro _parsed_bands(var_name) -%}
  {#- A band table var: a non-empty list of mappings whose whole-number at_least rises from 0
      (the config validates it first; this keeps a hand-passed var from compiling wrong). -#}
  {%- set raw = var(var_name) -%}
  {%- if raw is string or raw is mapping or raw is not iterable or (raw | length) == 0 -%}
    {{- exceptions.raise_compiler_error("var '" ~ var_name ~ "' must be a list of bands, got: " ~ raw) -}}
  {%- endif -%}
  {%- set bands = [] -%}
  {%- set previous = namespace(at_least=-1) -%}
  {%- for band in raw -%}
    {%- set at_least = (band.at_least if band is mapping else none) | int(default=-1) -%}
    {%- if at_least <= previous.at_least or (loop.first and at_least != 0) -%}
      {{- exceptions.raise_compiler_error("var '" ~ var_name ~ "' band " ~ loop.index
          ~ " must have a whole at_least above the previous band's (the first 0), got: " ~ band) -}}
    {%- endif -%}
    {%- do bands.append({'at_least': at_least, 'raw': band}) -%}
    {%- set previous.at_least = at_least -%}
  {%- endfor -%}
  {{- return(bands) -}}
{%- endmacro %}
