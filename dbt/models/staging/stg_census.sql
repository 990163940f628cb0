{{ config(materialized='ephemeral') }}
{#-
  The census is read straight from disk by DuckDB (not a dbt seed: agate seeding is slow
  for large files). The path comes from census_path() (an environment variable, never a
  var, see sql_helpers.sql) and reaches the SQL only as a quoted string literal. Columns
  are read as text and cast here by name, so extra columns in the file are ignored; the
  engine validates every value before this model runs. The format follows the extension.

  Optional columns (scheduled hours, account balances by source on the start date, the
  share of the employer owned and whether the employee is an officer) are
  read when the file has them: the file's rows are unioned by name onto an empty row
  that has every optional column, so an absent one reads as null. The engine
  (planalign_orchestrator.census) warns when the balance or ownership columns are absent.
-#}
{%- set census_path = census_path() -%}
{%- set lowered = census_path | lower -%}
{%- set is_parquet = lowered.endswith('.parquet') or lowered.endswith('.pq') %}

with optional_columns as (
    select
        null as annual_hours,
        null as standard_weekly_hours,
        null as deferral_balance,
        null as roth_balance,
        null as match_balance,
        null as nonelective_balance,
        null as ownership_share,
        null as is_officer
    where false
),

census_file as (
    select * from optional_columns
    union all by name
{%- if is_parquet %}
    select * from read_parquet({{ sql_string_literal(census_path) }})
{%- else %}
    select * from read_csv({{ sql_string_literal(census_path) }}, header = true, all_varchar = true)
{%- endif %}
)

select
    trim(cast(employee_id as varchar)) as employee_id,
    cast(birth_date as date) as birth_date,
    cast(hire_date as date) as hire_date,
    cast(nullif(trim(cast(termination_date as varchar)), '') as date) as termination_date,
    cast(level_id as integer) as level_id,
    cast(annual_compensation as decimal(14, 2)) as annual_compensation,
    cast(coalesce(nullif(trim(cast(deferral_rate as varchar)), ''), '0') as decimal(7, 4)) as deferral_rate,
    cast(nullif(trim(cast(annual_hours as varchar)), '') as decimal(8, 2)) as annual_hours,
    cast(nullif(trim(cast(standard_weekly_hours as varchar)), '') as decimal(8, 2)) as standard_weekly_hours,
    cast(coalesce(nullif(trim(cast(deferral_balance as varchar)), ''), '0') as decimal(14, 2)) as deferral_balance,
    cast(coalesce(nullif(trim(cast(roth_balance as varchar)), ''), '0') as decimal(14, 2)) as roth_balance,
    cast(coalesce(nullif(trim(cast(match_balance as varchar)), ''), '0') as decimal(14, 2)) as match_balance,
    cast(coalesce(nullif(trim(cast(nonelective_balance as varchar)), ''), '0') as decimal(14, 2))
        as nonelective_balance,
    cast(coalesce(nullif(trim(cast(ownership_share as varchar)), ''), '0') as decimal(7, 6)) as ownership_share,
    coalesce(cast(nullif(trim(cast(is_officer as varchar)), '') as boolean), false) as is_officer
from census_file
