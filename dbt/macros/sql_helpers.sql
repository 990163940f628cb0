{#-
  Small, dependency-free helpers shared by every model (the project cannot use dbt deps).
  Vars are only ever read inside model bodies (never in config()) because the engine
  parses the project once and reuses the manifest with different --vars.
-#}

{% macro sql_string_literal(value) -%}
  {#- Emit a SQL string literal; doubling single quotes keeps paths such as
      "/data/it's here/census.csv" from breaking (or injecting into) the SQL. -#}
  {{- "'" ~ (value | string | replace("'", "''")) ~ "'" -}}
{%- endmacro %}


{% macro census_path() -%}
  {#- The census file's absolute path, from the environment variable PLANALIGN_CENSUS_PATH that
      the engine (DbtRunner) sets for each invocation. Never a var: dbt renders every string
      var as Jinja, so a folder named "Q3 {{ draft }}" would be executed as template code;
      an environment variable's value is used exactly as it is. Quote it for SQL with
      sql_string_literal. -#}
  {%- set path = env_var('PLANALIGN_CENSUS_PATH', '') -%}
  {%- if execute and (path | trim) == '' -%}
    {{- exceptions.raise_compiler_error(
        "environment variable PLANALIGN_CENSUS_PATH is empty: set it to the absolute path of the "
        ~ "census (.csv or .parquet); the engine sets it for every dbt invocation") -}}
  {%- endif -%}
  {{- return(path) -}}
{%- endmacro %}


{% macro _is_blank(raw) -%}
  {{- return(raw is none or (raw is string and (raw | trim | lower) in ('', 'null', 'none'))) -}}
{%- endmacro %}


{% macro num_var(name, min_value=none, max_value=none) -%}
  {#- A numeric var rendered as a SQL literal. Converting through float means a var can
      never smuggle SQL into a model, and bad values fail at compile time with a clear
      message instead of deep inside DuckDB. -#}
  {%- set raw = var(name) -%}
  {%- if _is_blank(raw) or raw is boolean -%}
    {{- exceptions.raise_compiler_error("var '" ~ name ~ "' must be a number, got: " ~ raw) -}}
  {%- endif -%}
  {%- set value = raw | float(default=none) -%}
  {%- if value is none -%}
    {{- exceptions.raise_compiler_error("var '" ~ name ~ "' must be a number, got: " ~ raw) -}}
  {%- endif -%}
  {%- if (min_value is not none and value < min_value) or (max_value is not none and value > max_value) -%}
    {{- exceptions.raise_compiler_error("var '" ~ name ~ "' = " ~ raw ~ " is outside [" ~ min_value ~ ", " ~ max_value ~ "]") -}}
  {%- endif -%}
  {{- return(value) -}}
{%- endmacro %}


{% macro int_var(name) -%}
  {%- set value = num_var(name) -%}
  {%- if value != (value | int) -%}
    {{- exceptions.raise_compiler_error("var '" ~ name ~ "' must be a whole number, got: " ~ var(name)) -}}
  {%- endif -%}
  {{- return(value | int) -}}
{%- endmacro %}


{% macro bool_var(name) -%}
  {%- set raw = var(name) -%}
  {%- if raw is boolean -%}
    {{- return(raw) -}}
  {%- elif raw is number and raw in (0, 1) -%}
    {{- return(raw == 1) -}}
  {%- elif raw is string and (raw | trim | lower) in ('true', 'yes', '1', 'on') -%}
    {{- return(true) -}}
  {%- elif raw is string and (raw | trim | lower) in ('false', 'no', '0', 'off') -%}
    {{- return(false) -}}
  {%- endif -%}
  {{- exceptions.raise_compiler_error("var '" ~ name ~ "' must be true or false, got: " ~ raw) -}}
{%- endmacro %}


{% macro lever_value(var_name, lever_column, min_value=0, max_value=1) -%}
  {#- comp_levers column unless the var overrides it (null = use the seed). -#}
  {%- if _is_blank(var(var_name)) -%}
    {{- lever_column -}}
  {%- else -%}
    {{- num_var(var_name, min_value, max_value) -}}
  {%- endif -%}
{%- endmacro %}


{% macro years_between(start_date, end_date) -%}
  {#- Completed whole years from start_date to end_date (age / service convention). -#}
  (year({{ end_date }}) - year({{ start_date }})
   - case when month({{ end_date }}) * 100 + day({{ end_date }})
               < month({{ start_date }}) * 100 + day({{ start_date }})
          then 1 else 0 end)
{%- endmacro %}


{% macro rows_as_of_plan_year(relation, year_expr) -%}
  {#- The rows of a per-plan-year seed that apply to a year: its latest plan_year <= the
      year, so years beyond the seed's range reuse its last rows (years before the range
      use the first). -#}
  select *
  from {{ relation }}
  where plan_year = (
      select coalesce(max(plan_year) filter (where plan_year <= {{ year_expr }}), min(plan_year))
      from {{ relation }}
  )
{%- endmacro %}


{% macro random_uniform(employee_id_expr, event_type, year=none, seed_expr=none) -%}
  {#- Deterministic uniform in [0, 1): the first 15 hex digits (60 bits) of
      md5(random_seed | employee_id | year | event_type) divided by 2^60.
      Independent of row order, threads and DuckDB version, so equal vars give
      byte-identical tables. The seed is a column (every yearly row carries its
      random_seed: one run simulates every seed of an ensemble), by default the
      random_seed of the relation employee_id_expr is qualified with ('h.employee_id'
      -> h.random_seed). It is written as the same decimal text as a single seed, so a
      seed's draws are the same whether it runs alone or among others. `year` defaults to simulation_year (a new
      draw every year); a fixed label such as 'standing' gives a draw that stays with
      the employee for good (a standing decision, e.g. opting out of auto-escalation). -#}
  {%- set draw_year = int_var('simulation_year') if year is none else year -%}
  {%- set seed_column = seed_expr if seed_expr is not none
      else (employee_id_expr.rsplit('.', 1)[0] ~ '.random_seed' if '.' in employee_id_expr else 'random_seed') -%}
  (cast(cast('0x' || substr(md5(concat_ws('|',
        cast({{ seed_column }} as varchar),
        {{ employee_id_expr }},
        {{ sql_string_literal(draw_year | string) }},
        {{ sql_string_literal(event_type) }})), 1, 15) as ubigint) as double)
   / 1152921504606846976.0)
{%- endmacro %}


{% macro random_seeds() -%}
  {#- The seeds one yearly run simulates: var random_seeds (a list of whole numbers >= 0,
      an ensemble) when it is set, else the single var random_seed. Converting through
      int means no var value can carry SQL into a model. -#}
  {%- set raw = var('random_seeds') -%}
  {%- if _is_blank(raw) -%}
    {{- return([int_var('random_seed')]) -}}
  {%- endif -%}
  {%- if raw is string or raw is mapping or raw is not iterable or (raw | length) == 0 -%}
    {{- exceptions.raise_compiler_error("var 'random_seeds' must be a non-empty list of whole numbers, got: " ~ raw) -}}
  {%- endif -%}
  {%- set seeds = [] -%}
  {%- for value in raw -%}
    {%- set seed = value | int(default=-1) -%}
    {%- if value is boolean or seed < 0 or seed != (value | float(default=-1)) -%}
      {{- exceptions.raise_compiler_error("var 'random_seeds' entry " ~ loop.index ~ " must be a whole number >= 0, got: " ~ value) -}}
    {%- endif -%}
    {%- do seeds.append(seed) -%}
  {%- endfor -%}
  {{- return(seeds) -}}
{%- endmacro %}


{% macro seed_values() -%}
  {#- The seeds of this run as a one-column relation (random_seed bigint). -#}
  (select cast(unnest([{{ random_seeds() | join(', ') }}]) as bigint) as random_seed)
{%- endmacro %}


{% macro prior_snapshot_relation() -%}
  {#- fct_workforce_snapshot addressed without ref(): year N reads year N-1 from the
      table it is about to append to, which would be a cycle as a ref. -#}
  {{- return(api.Relation.create(database=target.database, schema=target.schema, identifier='fct_workforce_snapshot')) -}}
{%- endmacro %}


{% macro band_lookup(bands_relation) -%}
  {#- A band table expanded to one row per whole value, so assigning bands is a hash
      equality join instead of a range join (noticeably faster at 100k+ rows). Every
      column of the band table comes along (label, multipliers). -#}
  (select unnest(range(bands.min_value, bands.max_value)) as band_value, bands.* from {{ bands_relation }} as bands)
{%- endmacro %}


{% macro compa_band_lookup() -%}
  {#- config_compa_ratio_bands expanded to one row per whole percent of compa-ratio
      (0-299%; a ratio of 300% or more uses the 299% row), so assigning a band is a hash
      equality join on compa_pct() instead of a range join. Band bounds are therefore
      read in whole percent. -#}
  (select
       unnest(range(cast(round(bands.min_compa_ratio * 100) as integer),
                    cast(round(least(bands.max_compa_ratio, 3) * 100) as integer))) as compa_pct,
       bands.*
   from {{ ref('config_compa_ratio_bands') }} as bands)
{%- endmacro %}


{% macro compa_pct(ratio_expr) -%}
  least(cast(floor({{ ratio_expr }} * 100) as integer), 299)
{%- endmacro %}


{% macro percent_text(fraction_expr) -%}
  {#- A fraction as text with two decimals and a percent sign (0.035 -> '3.50%'); a
      decimal cast is about three times cheaper than printf over 100k+ event rows. -#}
  (cast(cast(({{ fraction_expr }}) * 100 as decimal(12, 2)) as varchar) || '%')
{%- endmacro %}
