{#-
  One row per employee per simulation_year for everyone employed at some point in the
  year. Leavers appear once, in their termination year, with employment_status
  'terminated' and the termination_reason; one row set per random_seed of the run (an
  ensemble's seeds side by side). delete+insert on (scenario_id, simulation_year):
  re-running a year of a scenario replaces its rows, every seed's. Age is taken on Dec 31 (the IRS catch-up rule), tenure on
  Dec 31 or the termination date. gross_compensation is the pay for the part of the year
  employed (next year's prior_year_wages); contributions use the year's IRS limits
  (irs_limits(), projected past the published table), the match and the core
  (non-elective) contribution of the plan's design (contribution_ctes: employer_contribution
  is match_contribution, its true-up included, + core_contribution). level_range_min/max
  are the year's moved salary range of the employee's level.

  Plan eligibility, hours, vesting and the year's elections come from eligibility_ctes
  (macros/eligibility.sql: IRC 410(a), 411(a)); this is where their columns are kept. Only eligible employees defer or receive
  employer money, on pay from their entry date: deferral_compensation is the pay from
  eligibility_entry_date (or the hire date, or Jan 1, whichever is last) to the end of
  employment in the year, employer_compensation the same from employer_entry_date.
  With immediate eligibility both are gross_compensation, to the cent.

  Each employee's account by source (deferral, roth, match, nonelective) rolls forward
  here (account_ctes: earnings, vesting, forfeitures, cash-outs): start_* are the Jan 1
  balances, end_* the Dec 31 ones, and start + contributions (employee_contribution +
  employer_contribution + forfeiture_allocation) + earnings - distributions -
  forfeitures = end, to the cent (tests/assert_balances_roll_forward.sql). A leaver whose
  vested balance stays in the plan is carried on by fct_terminated_vested_balances.
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set year_start = "make_date(" ~ sim_year ~ ", 1, 1)" -%}
{%- set year_end = "make_date(" ~ sim_year ~ ", 12, 31)" -%}
{%- set days_in_year = "(date_diff('day', " ~ year_start ~ ", " ~ year_end ~ ") + 1)" -%}

with
-- the year's workforce with its hours, eligibility, vesting and elections
{{ eligibility_ctes('combined') }},

irs as (
    {{ irs_limits(sim_year) }}
),

plan_year as (
    -- the seed's investment return and the forfeitures it holds from the year before
    select random_seed, investment_return, forfeitures_available
    from {{ ref('fct_year_plan') }}
    where scenario_id = {{ scenario_literal() }} and simulation_year = {{ sim_year }}
),

measured as (
    select
        c.*,
        {{ years_between('c.birth_date', year_end) }} as age,
        {{ years_between('c.hire_date', 'coalesce(c.termination_date, ' ~ year_end ~ ')') }} as tenure_years,
        cast(round(c.compensation * (date_diff('day', c.employed_from, c.employed_to) + 1)
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
        irs.roth_catch_up_wage_threshold,
        irs.taxable_wage_base
    from combined as c
    cross join irs
),

prorated as (
    -- pay while eligible: the whole year's gross pay when eligible all the time employed
    select
        m.*,
        cast(case
            when m.eligibility_entry_date is null or m.eligibility_entry_date > m.employed_to then 0
            when m.eligibility_entry_date <= m.employed_from then m.gross_compensation
            else round(m.compensation * (date_diff('day', m.eligibility_entry_date, m.employed_to) + 1) / {{ days_in_year }}, 2)
        end as decimal(14, 2)) as deferral_compensation,
        cast(case
            when m.employer_entry_date is null or m.employer_entry_date > m.employed_to then 0
            when m.employer_entry_date <= m.employed_from then m.gross_compensation
            else round(m.compensation * (date_diff('day', m.employer_entry_date, m.employed_to) + 1) / {{ days_in_year }}, 2)
        end as decimal(14, 2)) as employer_compensation
    from measured as m
),

{{ contribution_ctes('prorated', 'contributions') }},

{{ account_ctes('contributions', 'plan_year', 'accounts') }}

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
    x.match_contribution,
    x.true_up_contribution,
    x.core_contribution,
    x.limit_402g,
    cast(x.applicable_catch_up_limit as integer) as catch_up_limit,
    x.limit_415c,
    x.scheduled_annual_hours,
    x.hours_worked,
    x.is_eligible,
    x.eligibility_entry_date,
    x.is_long_term_part_time,
    x.employer_entry_date,
    x.is_employer_eligible,
    x.employer_plan_compensation,
    x.vesting_service_years,
    x.vested_percent,
    x.match_vested_percent,
    x.nonelective_vested_percent,
    cast(x.starting_deferral_rate as decimal(7, 4)) as starting_deferral_rate,
    x.deferral_change,
    x.enrollment_date,
    x.account_status,
    x.start_deferral,
    x.start_roth,
    x.start_match,
    x.start_nonelective,
    x.forfeiture_allocation,
    x.earnings,
    x.earnings_match,
    x.earnings_nonelective,
    x.forfeited_match,
    x.forfeited_nonelective,
    x.distributions,
    x.end_deferral,
    x.end_roth,
    x.end_match,
    x.end_nonelective
from accounts as x
left join {{ band_lookup(ref('config_age_bands')) }} as ab
    on ab.band_value = x.age
left join {{ band_lookup(ref('config_tenure_bands')) }} as tb
    on tb.band_value = x.tenure_years
