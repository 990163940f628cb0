{% macro seed_override(relation, id_column, var_name, max_value) -%}
  {#- A table-valued assumption (config assumptions.<var_name>, a list var) as rows
      (override_id, override_value): the list's i-th value belongs to the seed row with
      the i-th smallest id_column, so a list is aligned with its seed in id order. Null
      (the default) gives no rows, and every use falls back to the seed's own column
      (coalesce(o.override_value, seed.column)). Each value is converted through float
      and bounded by [0, max_value], so no var can carry SQL into a model; the engine
      checks the list's length against the seed before any run (and the query refuses
      a mismatch too, for a config that reached dbt another way). -#}
  {%- set raw = var(var_name) -%}
  {%- if _is_blank(raw) -%}
    (select cast(null as bigint) as override_id, cast(null as double) as override_value where false)
  {%- else -%}
    {%- if raw is string or raw is mapping or raw is not iterable or (raw | length) == 0 -%}
      {{- exceptions.raise_compiler_error("var '" ~ var_name ~ "' must be a non-empty list of numbers or null, got: " ~ raw) -}}
    {%- endif -%}
    {%- set values = [] -%}
    {%- for item in raw -%}
      {%- set value = item | float(default=none) -%}
      {%- if item is boolean or value is none or value < 0 or value > max_value -%}
        {{- exceptions.raise_compiler_error("var '" ~ var_name ~ "' value " ~ loop.index ~ " must be a number in [0, " ~ max_value ~ "], got: " ~ item) -}}
      {%- endif -%}
      {%- do values.append(value) -%}
    {%- endfor -%}
    (select
         seed_rows.override_id,
         listed.override_value
     from (
         select
             {{ id_column }} as override_id,
             row_number() over (order by {{ id_column }}) as position
         from {{ relation }}
     ) as seed_rows
     inner join (
         select
             unnest([{{ values | join(', ') }}]) as override_value,
             unnest(range(1, {{ values | length }} + 1)) as position
     ) as listed on seed_rows.position = listed.position
     where case
         when (select count(*) from {{ relation }}) <> {{ values | length }}
             then error('var {{ var_name }} has {{ values | length }} values, but its seed has '
                        || (select count(*) from {{ relation }})::varchar || ' rows: give one per row')
         else true
     end)
  {%- endif -%}
{%- endmacro %}
