{{ config(materialized='ephemeral') }}
{#-
  The census is read straight from disk by DuckDB (not a dbt seed: agate seeding is slow
  for large files). The path comes from census_path() (an environment variable, never a
  var, see sql_helpers.sql) and reaches the SQL only as a quoted string literal. Columns
  are read as text and cast here by name, so extra columns in the file are ignored; the
  engine validates every value before this model runs. The format follows the extension.
-#}
{%- set census_path = census_path() -%}
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
    cast(birth_date as date) as birth_date,
    cast(hire_date as date) as hire_date,
    cast(nullif(trim(termination_date), '') as date) as termination_date,
    cast(level_id as integer) as level_id,
    cast(annual_compensation as decimal(14, 2)) as annual_compensation,
    cast(coalesce(nullif(trim(deferral_rate), ''), '0') as decimal(7, 4)) as deferral_rate
from read_csv({{ sql_string_literal(census_path) }}, header = true, all_varchar = true)
{%- endif %}
