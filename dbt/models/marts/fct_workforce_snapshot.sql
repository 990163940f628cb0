{#-
  One row per employee per simulation_year for everyone employed at some point in the
  year. Leavers appear once, in their termination year, with employment_status
  'terminated' and the termination_reason; one row set per random_seed of the run (an
  ensemble's seeds side by side). delete+insert on (scenario_id, simulation_year):
  re-running a year of a scenario replaces its rows, every seed's. Age is taken on Dec 31 (the IRS catch-up rule), tenure on
  Dec 31 or the termination date. gross_compensation is the pay for the part of the year
  employed (next year's prior_year_wages); contributions use the year's IRS limits
  (irs_limits(), projected past the published table) and the match formula
  (contribution_ctes). level_range_min/max are the year's moved salary range of the
  employee's level.
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set year_start = "make_date(" ~ sim_year ~ ", 1, 1)" -%}
{%- set year_end = "make_date(" ~ sim_year ~ ", 12, 31)" -%}

with combined as (
    select
        random_seed,
        employee_id,
        birth_date,
        hire_date,
        termination_date,
        separation_type as termination_reason,
        false as is_new_hire,
        level_id,
        range_min as level_range_min,
        range_max as level_range_max,
        starting_compensation,
        compensation,
        deferral_rate > 0 as enrolled,
        deferral_rate,
        prior_year_wages
    from {{ ref('int_yearly_experienced_changes') }}

    union all

    select
        random_seed,
        employee_id,
        birth_date,
        hire_date,
        termination_date,
        case when is_terminated then 'new_hire' end as termination_reason,
        true as is_new_hire,
        level_id,
        range_min as level_range_min,
        range_max as level_range_max,
        compensation as starting_compensation,
        compensation,
        enrolled,
        deferral_rate,
        cast(0 as decimal(14, 2)) as prior_year_wages
    from {{ ref('int_yearly_new_hires') }}
),

irs as (
    {{ irs_limits(sim_year) }}
),

measured as (
    select
        c.*,
        {{ years_between('c.birth_date', year_end) }} as age,
        {{ years_between('c.hire_date', 'coalesce(c.termination_date, ' ~ year_end ~ ')') }} as tenure_years,
        cast(round(c.compensation
                   * (date_diff('day', greatest(c.hire_date, {{ year_start }}),
                                coalesce(c.termination_date, {{ year_end }})) + 1)
                   / (date_diff('day', {{ year_start }}, {{ year_end }}) + 1), 2) as decimal(14, 2))
            as gross_compensation,
        irs.limit_402g,
        irs.catch_up_limit,
        irs.catch_up_age,
        irs.enhanced_catch_up_limit,
        irs.enhanced_catch_up_min_age,
        irs.enhanced_catch_up_max_age,
        irs.limit_415c,
        irs.limit_401a17,
        irs.roth_catch_up_wage_threshold
    from combined as c
    cross join irs
),

{{ contribution_ctes('measured', 'contributions') }}

select
    {{ scenario_literal() }} as scenario_id,
    x.random_seed,
    {{ sim_year }} as simulation_year,
    x.employee_id,
    x.birth_date,
    x.hire_date,
    x.termination_date,
    case when x.termination_date is null then 'active' else 'terminated' end as employment_status,
    x.termination_reason,
    x.is_new_hire,
    x.level_id,
    cast(x.age as integer) as age,
    cast(x.tenure_years as integer) as tenure_years,
    ab.band_label as age_band,
    tb.band_label as tenure_band,
    x.starting_compensation,
    x.compensation,
    x.level_range_min,
    x.level_range_max,
    x.gross_compensation,
    x.prior_year_wages,
    x.plan_compensation,
    x.enrolled,
    cast(x.deferral_rate as decimal(7, 4)) as deferral_rate,
    x.elective_deferral,
    x.base_deferral,
    x.catch_up_contribution,
    x.catch_up_pre_tax,
    x.catch_up_roth,
    x.employee_contribution,
    x.employer_contribution,
    x.limit_402g,
    cast(x.applicable_catch_up_limit as integer) as catch_up_limit,
    x.limit_415c
from contributions as x
left join {{ band_lookup(ref('config_age_bands')) }} as ab
    on ab.band_value = x.age
left join {{ band_lookup(ref('config_tenure_bands')) }} as tb
    on tb.band_value = x.tenure_years
order by x.random_seed, x.employee_id
