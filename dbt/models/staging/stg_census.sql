{{ config(materialized='ephemeral') }}
{#-
  The census is read straight from disk by DuckDB (not a dbt seed: agate seeding is slow
  for large files). The format follows the file extension; the path goes through
  sql_string_literal so quotes in folder names are safe.
-#}
{%- set raw_path = var('census_path') -%}
{%- set census_path = '' if raw_path is none else (raw_path | string | trim) -%}
{%- if execute and census_path == '' -%}
  {{ exceptions.raise_compiler_error(
      "var 'census_path' is empty: pass the absolute path of the census (.csv or .parquet), "
      ~ "e.g. --vars '{census_path: /path/to/census.csv}'") }}
{%- endif -%}
{%- set lowered = census_path | lower -%}
{%- set is_parquet = lowered.endswith('.parquet') or lowered.endswith('.pq') %}

{% if is_parquet -%}
select
    cast(trim(cast(employee_id as varchar)) as varchar) as employee_id,
    cast(birth_date as date) as birth_date,
    cast(hire_date as date) as hire_date,
    cast(termination_date as date) as termination_date,
    cast(level_id as integer) as level_id,
    cast(annual_compensation as decimal(14, 2)) as annual_compensation,
    cast(coalesce(deferral_rate, 0) as decimal(7, 4)) as deferral_rate
from read_parquet({{ sql_string_literal(census_path) }})
{%- else -%}
select
    trim(employee_id) as employee_id,
    birth_date,
    hire_date,
    termination_date,
    level_id,
    annual_compensation,
    coalesce(deferral_rate, 0) as deferral_rate
from read_csv(
    {{ sql_string_literal(census_path) }},
    header = true,
    columns = {
        'employee_id': 'VARCHAR',
        'birth_date': 'DATE',
        'hire_date': 'DATE',
        'termination_date': 'DATE',
        'level_id': 'INTEGER',
        'annual_compensation': 'DECIMAL(14,2)',
        'deferral_rate': 'DECIMAL(7,4)'
    }
)
{%- endif %}
