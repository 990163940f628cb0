{% macro account_ctes(source, plan_year, name) -%}
{#-
  The year of every employee's account, by source, in fct_workforce_snapshot: balances
  roll forward where the contributions are computed, so the per-employee rows are
  written once a year, not twice.

  `source` must provide what contribution_ctes() emits (base_deferral, catch_up_pre_tax,
  catch_up_roth, match_contribution, true_up_contribution, core_contribution,
  employer_contribution, employer_plan_compensation, limit_415c) and random_seed,
  hire_date, termination_date, eligibility_entry_date, employer_entry_date,
  is_employer_eligible, vesting_service_years, vested_percent and the Jan 1 accounts
  start_deferral, start_roth, start_match, start_nonelective; `plan_year` one row per
  random_seed with the seed's investment_return and forfeitures_available
  (fct_year_plan). The match account takes match_contribution, the non-elective account
  core_contribution and re-allocated forfeitures. Emits CTEs (no trailing comma); the
  last one is called `name` and adds, per source and in total:

    match_vested_percent, nonelective_vested_percent
                           the vested share of each employer source (IRC 411(a)):
                           vested_percent (var schedule), except safe harbor money
                           (IRC 401(k)(12)), 100% vested: the match under var
                           safe_harbor_match or a safe harbor match design, the
                           non-elective account under a non-elective design; a QACA
                           design's money (IRC 401(k)(13)(D)(iii)) vests on a cliff of
                           var qaca_vesting_years years of vesting service

    forfeiture_allocation  var used_for 'reallocation': the year before's forfeitures
                           allocated on Dec 31 to the active employees eligible for
                           employer money, pro rata to employer_plan_compensation, each
                           within its 415(c) room (limit_415c - base deferral - employer
                           contribution); the cents that rounding or the caps leave pay
                           plan expenses. Paid into the non-elective account.
    earnings_*, earnings   investment_return on the Jan 1 balance for the part of the year
                           until the employee leaves (the termination date, else Dec 31),
                           and on the contributions for half of the period they were paid
                           over (from the entry date); what is credited on Dec 31 earns
                           nothing in the year: re-allocated forfeitures, the true-up, and
                           a match or core contribution with an allocation condition (it
                           is known only at year end).
    forfeited_match, forfeited_nonelective
                           a leaver's non-vested employer money at termination (IRC
                           411(a)), to the cent: the source held then x (1 - its vested
                           share). Deferral and Roth money are always 100% vested.
    account_status         null without money in the plan (none on Jan 1, none paid in);
                           'active' at year end; a leaver's vested balance under var
                           cash_out_limit (SECURE 2.0 s.304, at most $7,000: no consent
                           needed) is paid out, 'cashed_out'; a larger one stays in the
                           plan, 'terminated_vested' (fct_terminated_vested_balances
                           carries it from the next year)
    distributions          the vested balance paid out at a cash-out, else 0
    end_*                  start + contributions + earnings - forfeited - distributions
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set year_start = "make_date(" ~ sim_year ~ ", 1, 1)" -%}
{%- set year_end = "make_date(" ~ sim_year ~ ", 12, 31)" -%}
{%- set days_in_year = "(date_diff('day', " ~ year_start ~ ", " ~ year_end ~ ") + 1)" -%}
{%- set reallocation = choice_var('used_for', ['employer_contributions', 'expenses', 'reallocation']) == 'reallocation' -%}
{%- set design = safe_harbor_design() -%}
{%- set qaca_cliff = "cast(case when src.vesting_service_years >= " ~ int_var('qaca_vesting_years')
                     ~ " then 1 else 0 end as decimal(5, 4))" -%}
{%- set match_at_year_end = bool_var('match_last_day') or int_var('match_min_hours') > 0 -%}
{%- set core_at_year_end = bool_var('core_last_day') or int_var('core_min_hours') > 0 -%}
{{ name }}__paid_in as (
    select
        src.*,
        {%- if design in ('basic_match', 'enhanced_match') or bool_var('safe_harbor_match') %}
        cast(1 as decimal(5, 4)) as match_vested_percent,
        {%- elif design in ('qaca_basic_match', 'qaca_enhanced_match') %}
        {{ qaca_cliff }} as match_vested_percent,
        {%- else %}
        src.vested_percent as match_vested_percent,
        {%- endif %}
        {%- if design == 'nonelective_3' %}
        cast(1 as decimal(5, 4)) as nonelective_vested_percent,
        {%- elif design == 'qaca_nonelective_3' %}
        {{ qaca_cliff }} as nonelective_vested_percent,
        {%- else %}
        src.vested_percent as nonelective_vested_percent,
        {%- endif %}
        py.investment_return,
        -- the share of the year each balance is invested: the Jan 1 balance until the
        -- employee leaves, the contributions over the period they were paid (from entry)
        (date_diff('day', {{ year_start }}, coalesce(src.termination_date, {{ year_end }})) + 1) / {{ days_in_year }}
            as start_share,
        greatest(date_diff('day', greatest(src.eligibility_entry_date, src.hire_date, {{ year_start }}),
                           coalesce(src.termination_date, {{ year_end }})) + 1, 0) / {{ days_in_year }}
            as deferral_share,
        greatest(date_diff('day', greatest(src.employer_entry_date, src.hire_date, {{ year_start }}),
                           coalesce(src.termination_date, {{ year_end }})) + 1, 0) / {{ days_in_year }}
            as employer_share,
        {%- if reallocation %}
        cast(coalesce(least(
            round(py.forfeitures_available
                  * case when src.termination_date is null and src.is_employer_eligible
                         then src.employer_plan_compensation else 0 end
                  / nullif(sum(case when src.termination_date is null and src.is_employer_eligible
                                    then src.employer_plan_compensation else 0 end)
                               over (partition by src.random_seed), 0), 2),
            greatest(src.limit_415c - src.base_deferral - src.employer_contribution, 0)
        ), 0) as decimal(14, 2)) as forfeiture_allocation
        {%- else %}
        cast(0 as decimal(14, 2)) as forfeiture_allocation
        {%- endif %}
    from {{ source }} as src
    inner join {{ plan_year }} as py on py.random_seed = src.random_seed
),

{{ name }}__earned as (
    select
        pi.*,
        cast(round(pi.start_deferral * pi.investment_return * pi.start_share
                   + (pi.base_deferral + pi.catch_up_pre_tax) * pi.investment_return * pi.deferral_share / 2, 2)
             as decimal(14, 2)) as earnings_deferral,
        cast(round(pi.start_roth * pi.investment_return * pi.start_share
                   + pi.catch_up_roth * pi.investment_return * pi.deferral_share / 2, 2)
             as decimal(14, 2)) as earnings_roth,
        cast(round(pi.start_match * pi.investment_return * pi.start_share
                   {%- if not match_at_year_end %}
                   + (pi.match_contribution - pi.true_up_contribution) * pi.investment_return * pi.employer_share / 2
                   {%- endif %}, 2)
             as decimal(14, 2)) as earnings_match,
        cast(round(pi.start_nonelective * pi.investment_return * pi.start_share
                   {%- if not core_at_year_end %}
                   + pi.core_contribution * pi.investment_return * pi.employer_share / 2
                   {%- endif %}, 2)
             as decimal(14, 2)) as earnings_nonelective
    from {{ name }}__paid_in as pi
),

{{ name }}__held as (
    select
        er.*,
        er.start_deferral + er.base_deferral + er.catch_up_pre_tax + er.earnings_deferral as held_deferral,
        er.start_roth + er.catch_up_roth + er.earnings_roth as held_roth,
        er.start_match + er.match_contribution + er.earnings_match as held_match,
        er.start_nonelective + er.core_contribution + er.forfeiture_allocation + er.earnings_nonelective
            as held_nonelective
    from {{ name }}__earned as er
),

{{ name }}__forfeited as (
    select
        he.*,
        cast(case when he.termination_date is not null
                  then round(he.held_match * (1 - he.match_vested_percent), 2) else 0 end
             as decimal(14, 2)) as forfeited_match,
        cast(case when he.termination_date is not null
                  then round(he.held_nonelective * (1 - he.nonelective_vested_percent), 2) else 0 end
             as decimal(14, 2)) as forfeited_nonelective,
        he.start_deferral + he.start_roth + he.start_match + he.start_nonelective
        + he.employee_contribution + he.employer_contribution + he.forfeiture_allocation > 0 as has_account
    from {{ name }}__held as he
),

{{ name }}__decided as (
    select
        fo.*,
        case
            when not fo.has_account then null
            when fo.termination_date is null then 'active'
            when fo.held_deferral + fo.held_roth + fo.held_match + fo.held_nonelective
                 - fo.forfeited_match - fo.forfeited_nonelective < {{ num_var('cash_out_limit', 0, 7000) }}
                then 'cashed_out'
            else 'terminated_vested'
        end as account_status
    from {{ name }}__forfeited as fo
),

{{ name }} as (
    select
        de.*,
        cast(de.earnings_deferral + de.earnings_roth + de.earnings_match + de.earnings_nonelective as decimal(16, 2))
            as earnings,
        cast(case when de.account_status = 'cashed_out'
                  then de.held_deferral + de.held_roth + de.held_match + de.held_nonelective
                       - de.forfeited_match - de.forfeited_nonelective
                  else 0 end as decimal(16, 2)) as distributions,
        cast(case when de.account_status = 'cashed_out' then 0 else de.held_deferral end as decimal(14, 2))
            as end_deferral,
        cast(case when de.account_status = 'cashed_out' then 0 else de.held_roth end as decimal(14, 2)) as end_roth,
        cast(case when de.account_status = 'cashed_out' then 0 else de.held_match - de.forfeited_match end
             as decimal(14, 2)) as end_match,
        cast(case when de.account_status = 'cashed_out' then 0 else de.held_nonelective - de.forfeited_nonelective end
             as decimal(14, 2)) as end_nonelective
    from {{ name }}__decided as de
)
{%- endmacro %}
