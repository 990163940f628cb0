{{ config(materialized='year_table', tags=['yearly']) }}
{#-
  Who is employed on Jan 1 of simulation_year. The first year starts from the foundation
  tables; later years from year N-1's active rows of fct_workforce_snapshot, read through
  prior_snapshot_relation() (a ref would be a cycle). All refs stay unconditional so the
  dependencies captured at parse time are the same for every year.
  prior_year_wages (the Roth catch-up rule's test) is last year's pay as simulated, or
  for start_year the census salary for the part of the prior year employed;
  census_termination_date is the census's own termination date, kept every year until
  the employee leaves; scheduled_annual_hours (null: 190 hours a month) is the census's,
  or a hire's, for good. The accounts by source (start_*) are the census balances in
  start_year (0 where it has none), later year N-1's end balances. Every row carries its random_seed: the first year is the
  baseline once per seed of the run (random_seeds()), later years each seed's own
  year N-1.
-#}
{%- set start_year = int_var('start_year') -%}
{%- set sim_year = int_var('simulation_year') -%}
{%- set baseline = ref('int_baseline_workforce') -%}
{%- set compensation = ref('int_employee_compensation_by_year') -%}
{%- set benefits = ref('int_employee_benefits') -%}
{%- if execute and sim_year < start_year -%}
  {{ exceptions.raise_compiler_error("simulation_year " ~ sim_year ~ " is before start_year " ~ start_year) }}
{%- endif -%}

{% if sim_year == start_year %}
with guard as (
    -- fail loudly if the foundation was built for another start_year (stale workspace)
    select case
        when count(*) = 0 then error('int_baseline_workforce is empty: rebuild the foundation (dbt run --select tag:foundation)')
        when min(baseline_year) <> {{ start_year }} or max(baseline_year) <> {{ start_year }}
            then error('foundation tables were built for start_year ' || min(baseline_year)::varchar
                       || ', not {{ start_year }}: rebuild them (dbt run --select tag:foundation)')
        else true
    end as ok
    from {{ baseline }}
)

select
    sv.random_seed,
    {{ sim_year }} as simulation_year,
    b.employee_id,
    b.birth_date,
    b.hire_date,
    c.level_id,
    c.annual_compensation as starting_compensation,
    e.deferral_rate,
    e.prior_year_wages,
    b.census_termination_date,
    b.scheduled_annual_hours,
    b.deferral_balance as start_deferral,
    b.roth_balance as start_roth,
    b.match_balance as start_match,
    b.nonelective_balance as start_nonelective
from {{ baseline }} as b
inner join {{ compensation }} as c on c.employee_id = b.employee_id
inner join {{ benefits }} as e on e.employee_id = b.employee_id
cross join guard
cross join {{ seed_values() }} as sv
where guard.ok
order by sv.random_seed, b.employee_id

{% else %}
{%- set prior = prior_snapshot_relation() -%}
{%- if execute and adapter.get_relation(database=prior.database, schema=prior.schema, identifier=prior.identifier) is none -%}
  {{ exceptions.raise_compiler_error(
      "cannot simulate " ~ sim_year ~ ": fct_workforce_snapshot does not exist yet. "
      ~ "Simulate the years in order starting with start_year " ~ start_year ~ ".") }}
{%- endif %}
with prior_year as (
    select *
    from {{ prior }}
    where
        scenario_id = {{ scenario_literal() }}
        and simulation_year = {{ sim_year - 1 }}
        and random_seed in (select sv.random_seed from {{ seed_values() }} as sv)
),

guard as (
    -- every seed of the run needs its year N-1
    select case
        when count(distinct random_seed) < (select count(*) from {{ seed_values() }})
            then error('cannot simulate {{ sim_year }}: year {{ sim_year - 1 }} of this scenario is not in fct_workforce_snapshot for every seed; simulate the years in order')
        else true
    end as ok
    from prior_year
)

select
    p.random_seed,
    {{ sim_year }} as simulation_year,
    p.employee_id,
    p.birth_date,
    p.hire_date,
    p.level_id,
    p.compensation as starting_compensation,
    p.deferral_rate,
    p.gross_compensation as prior_year_wages,
    b.census_termination_date,
    p.scheduled_annual_hours,
    p.end_deferral as start_deferral,
    p.end_roth as start_roth,
    p.end_match as start_match,
    p.end_nonelective as start_nonelective
from prior_year as p
cross join guard
left join (
    select employee_id, census_termination_date from {{ baseline }} where census_termination_date is not null
) as b on b.employee_id = p.employee_id
where guard.ok
  and p.employment_status = 'active'
order by p.random_seed, p.employee_id
{% endif %}
