{#-
  Plan rules shared by the yearly plan models: validated choice vars, plan entry dates,
  vesting schedules and the year's investment return. The rules themselves are cited
  where each is applied (eligibility_ctes, account_ctes, fct_terminated_vested_balances).
-#}

{% macro choice_var(name, choices) -%}
  {#- A text var that must be one of `choices` (the config validates it first). It is only
      ever compared in Jinja, never written into SQL, so no var value can carry SQL. -#}
  {%- set value = var(name) | string | trim -%}
  {%- if value not in choices -%}
    {{- exceptions.raise_compiler_error("var '" ~ name ~ "' must be one of " ~ (choices | join(', ')) ~ ", got: " ~ value) -}}
  {%- endif -%}
  {{- return(value) -}}
{%- endmacro %}


{% macro safe_harbor_design() -%}
  {#- var safe_harbor_design, validated: 'none' (a tested plan) or the name of a safe harbor
      design (IRC 401(k)(12); qaca_*: 401(k)(13)). The config expands a design into the
      contribution it pays (match_tiers, or core_formula 'flat' at 3%); the models read the
      name for the plan's flag and the vesting of its money. -#}
  {{- return(choice_var('safe_harbor_design', ['none', 'basic_match', 'enhanced_match', 'nonelective_3',
                                               'qaca_basic_match', 'qaca_enhanced_match', 'qaca_nonelective_3'])) -}}
{%- endmacro %}


{% macro next_entry_date(date_expr) -%}
  {#- The plan's first entry date on or after `date_expr` (var entry_dates): the date itself
      (immediate), the 1st of a month (monthly), of Jan/Apr/Jul/Oct (quarterly), or Jan 1 /
      Jul 1 (semiannual). Each is at most six months after the requirements are met, as
      IRC 410(a)(4) requires. Null in, null out. -#}
  {%- set rule = choice_var('entry_dates', ['immediate', 'monthly', 'quarterly', 'semiannual']) -%}
  {%- if rule == 'immediate' -%}
    ({{ date_expr }})
  {%- else -%}
    {%- set unit = {'monthly': 'month', 'quarterly': 'quarter', 'semiannual': 'half'}[rule] -%}
    {%- set period_start = "make_date(year(" ~ date_expr ~ "), case when month(" ~ date_expr ~ ") < 7 then 1 else 7 end, 1)"
        if unit == 'half' else "cast(date_trunc('" ~ unit ~ "', " ~ date_expr ~ ") as date)" -%}
    {%- set months = {'month': 1, 'quarter': 3, 'half': 6}[unit] -%}
    (case when {{ date_expr }} = {{ period_start }} then {{ date_expr }}
          else cast({{ period_start }} + interval {{ months }} month as date) end)
  {%- endif -%}
{%- endmacro %}


{% macro vested_fraction(service_years_expr) -%}
  {#- The vested share of employer money after `service_years_expr` years of vesting
      service (var schedule, IRC 411(a)(2)): immediate 1; cliff N: 1 from N years;
      graded N: (years - 1) / (N - 1) from the second year, 1 from N (the statutory
      6-year graded schedule is 0/20/40/60/80/100% after 1..6 years); custom: the listed
      share after 1, 2, ... years (the last one beyond the list), 0 before a year. -#}
  {%- set schedule = choice_var('schedule', ['immediate', 'cliff', 'graded', 'custom']) -%}
  {%- if schedule == 'immediate' -%}
    cast(1 as decimal(5, 4))
  {%- elif schedule == 'cliff' -%}
    cast(case when {{ service_years_expr }} >= {{ int_var('schedule_years') }} then 1 else 0 end as decimal(5, 4))
  {%- elif schedule == 'graded' -%}
    {%- set years = int_var('schedule_years') -%}
    cast(round(least(greatest(({{ service_years_expr }} - 1) / {{ years - 1 }}, 0), 1), 4) as decimal(5, 4))
  {%- else -%}
    {%- set shares = var('schedule_percentages') -%}
    {%- if shares is string or shares is mapping or shares is not iterable or (shares | length) == 0 -%}
      {{- exceptions.raise_compiler_error("var 'schedule_percentages' must be a list of shares, got: " ~ shares) -}}
    {%- endif -%}
    cast(case
        when {{ service_years_expr }} < 1 then 0
        {%- for share in shares %}
        when {{ service_years_expr }} <= {{ loop.index }} then {{ share | float }}
        {%- endfor %}
        else 1
    end as decimal(5, 4))
  {%- endif -%}
{%- endmacro %}


{% macro investment_return(seed_expr) -%}
  {#- The year's investment return for the seed `seed_expr`: var return_rate when
      var return_volatility is 0; otherwise a lognormal draw with that mean and standard
      deviation (1 + r = exp(mu + sigma z), z standard normal by Box-Muller from two
      uniform draws of the seed and year), so each seed of an ensemble has its own
      market path and no year loses more than everything. -#}
  {%- set mean = num_var('return_rate', -0.5, 0.5) -%}
  {%- set volatility = num_var('return_volatility', 0, 0.5) -%}
  {%- if volatility == 0 -%}
    cast({{ mean }} as double)
  {%- else -%}
    {%- set sigma_squared = "ln(1 + pow(" ~ volatility ~ " / (1 + " ~ mean ~ "), 2))" -%}
    (exp(ln(1 + {{ mean }}) - {{ sigma_squared }} / 2
         + sqrt({{ sigma_squared }})
           * sqrt(-2 * ln(1 - {{ random_uniform("'plan'", 'investment_return_radius', seed_expr=seed_expr) }}))
           * cos(2 * pi() * {{ random_uniform("'plan'", 'investment_return_angle', seed_expr=seed_expr) }}))
     - 1)
  {%- endif -%}
{%- endmacro %}


{% macro prior_terminated_vested_relation() -%}
  {#- fct_terminated_vested_balances addressed without ref(): year N carries year N-1's
      participants from the table it is about to append to (a ref would be a cycle). -#}
  {{- return(api.Relation.create(database=target.database, schema=target.schema, identifier='fct_terminated_vested_balances')) -}}
{%- endmacro %}
