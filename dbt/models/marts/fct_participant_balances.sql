{#-
  Account balances by source, one row per account holder per simulation_year: everyone
  employed in the year (fct_workforce_snapshot) who has money in the plan, at the start
  of the year or paid in during it, and the terminated-vested participants still in the
  plan. Each source is rolled forward here; the table keeps the balances by source, the
  year's flows in total, and the employer sources' flows (the snapshot has the
  contributions by source). Year N starts from year N-1's end balances in this table (read
  through prior_balances_relation(); a ref would be a cycle), start_year from the census
  (int_baseline_workforce, 0 where the census has none). delete+insert on (scenario_id,
  simulation_year), one row set per random_seed.

  Sources: deferral (pre-tax deferrals, catch-up included unless Roth), roth (Roth
  catch-up, SECURE 2.0 s.603), match (the employer match), nonelective (forfeitures
  re-allocated to participants; the plan has no non-elective formula yet).

  The year, per source and in total: start + contributions + earnings - distributions -
  forfeitures = end, to the cent (tests/assert_balances_roll_forward.sql holds the total
  for every row, and each source's end as the next year's start).
  - earnings: the seed's investment_return (fct_year_plan) on the start balance for the
    part of the year until the account leaves (the termination date, else Dec 31), and
    on the contributions for half of the period they were paid over (from the entry
    date); re-allocated forfeitures are credited on Dec 31 and earn nothing that year.
  - vesting (IRC 411(a)): deferral and Roth money, and a safe harbor match
    (var safe_harbor_match), are always 100% vested; match and non-elective money vest
    at the year's vested_percent (fct_workforce_snapshot).
  - a leaver forfeits the non-vested part of the employer sources at termination
    (forfeited_match, forfeited_nonelective), to the cent. The vested balance left is
    paid out when it is under var cash_out_limit (SECURE 2.0 s.304, $7,000: no consent
    needed; account_status 'cashed_out'); otherwise it stays in the plan
    ('terminated_vested') and earns the return every year until the participant takes
    it: each year a var distribution_rate share of them does, the whole balance on
    Dec 31 ('distributed'), drawn per participant and year.
  - forfeitures of the year before (fct_year_plan.forfeitures_available) with var
    used_for 'reallocation' are allocated on Dec 31 to the active employees eligible
    for employer money, pro rata to employer_plan_compensation, each capped at their
    415(c) room (limit_415c - base deferral - employer contribution); the cents that
    rounding or the caps leave pay plan expenses (fct_year_metrics.forfeitures_used).
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set start_year = int_var('start_year') -%}
{%- set year_start = "make_date(" ~ sim_year ~ ", 1, 1)" -%}
{%- set year_end = "make_date(" ~ sim_year ~ ", 12, 31)" -%}
{%- set days_in_year = "(date_diff('day', " ~ year_start ~ ", " ~ year_end ~ ") + 1)" -%}
{%- set reallocation = choice_var('used_for', ['employer_contributions', 'expenses', 'reallocation']) == 'reallocation' -%}
{%- set safe_harbor_match = bool_var('safe_harbor_match') -%}
{%- set sources = ['deferral', 'roth', 'match', 'nonelective'] -%}

with snapshot as (
    select *
    from {{ ref('fct_workforce_snapshot') }}
    where scenario_id = {{ scenario_literal() }} and simulation_year = {{ sim_year }}
),

plan_year as (
    select random_seed, investment_return, forfeitures_available
    from {{ ref('fct_year_plan') }}
    where scenario_id = {{ scenario_literal() }} and simulation_year = {{ sim_year }}
),

opening as (
    {%- if sim_year == start_year %}
    select
        sv.random_seed,
        b.employee_id,
        'active' as prior_status,
        b.deferral_balance,
        b.roth_balance,
        b.match_balance,
        b.nonelective_balance
    from {{ ref('int_baseline_workforce') }} as b
    cross join {{ seed_values() }} as sv
    {%- else %}
    {%- set prior = prior_balances_relation() %}
    {%- if execute and adapter.get_relation(database=prior.database, schema=prior.schema, identifier=prior.identifier) is none %}
      {{ exceptions.raise_compiler_error(
          "cannot simulate " ~ sim_year ~ ": fct_participant_balances does not exist yet. "
          ~ "Simulate the years in order starting with start_year " ~ start_year ~ ".") }}
    {%- endif %}
    select
        random_seed,
        employee_id,
        account_status as prior_status,
        end_deferral as deferral_balance,
        end_roth as roth_balance,
        end_match as match_balance,
        end_nonelective as nonelective_balance
    from {{ prior }}
    where
        scenario_id = {{ scenario_literal() }}
        and simulation_year = {{ sim_year - 1 }}
        and random_seed in (select sv.random_seed from {{ seed_values() }} as sv)
        and account_status in ('active', 'terminated_vested')
        and end_balance > 0
    {%- endif %}
),

employed as (
    select
        s.random_seed,
        s.employee_id,
        s.employment_status,
        s.termination_date,
        s.vested_percent,
        coalesce(o.deferral_balance, 0) as start_deferral,
        coalesce(o.roth_balance, 0) as start_roth,
        coalesce(o.match_balance, 0) as start_match,
        coalesce(o.nonelective_balance, 0) as start_nonelective,
        s.base_deferral + s.catch_up_pre_tax as contributions_deferral,
        s.catch_up_roth as contributions_roth,
        s.employer_contribution as contributions_match,
        -- the share of the year each balance is invested: the start balance until the account
        -- leaves, the contributions over the period they were paid (from the entry date)
        (date_diff('day', {{ year_start }}, coalesce(s.termination_date, {{ year_end }})) + 1) / {{ days_in_year }}
            as start_share,
        greatest(date_diff('day', greatest(s.eligibility_entry_date, s.hire_date, {{ year_start }}),
                           coalesce(s.termination_date, {{ year_end }})) + 1, 0) / {{ days_in_year }}
            as deferral_share,
        greatest(date_diff('day', greatest(s.employer_entry_date, s.hire_date, {{ year_start }}),
                           coalesce(s.termination_date, {{ year_end }})) + 1, 0) / {{ days_in_year }}
            as employer_share,
        {%- if reallocation %}
        case when s.employment_status = 'active' and s.is_employer_eligible then s.employer_plan_compensation else 0 end
            as allocation_pay,
        greatest(s.limit_415c - s.base_deferral - s.employer_contribution, 0) as allocation_room
        {%- else %}
        0 as allocation_pay,
        0 as allocation_room
        {%- endif %}
    from snapshot as s
    left join opening as o on o.random_seed = s.random_seed and o.employee_id = s.employee_id
),

allocated as (
    select
        e.*,
        {%- if reallocation %}
        cast(coalesce(least(round(py.forfeitures_available * e.allocation_pay
                                  / nullif(sum(e.allocation_pay) over (partition by e.random_seed), 0), 2),
                            e.allocation_room), 0) as decimal(14, 2)) as forfeiture_allocation
    from employed as e
    inner join plan_year as py on py.random_seed = e.random_seed
        {%- else %}
        cast(0 as decimal(14, 2)) as forfeiture_allocation
    from employed as e
        {%- endif %}
),

accounts as (
    select
        random_seed,
        employee_id,
        case when employment_status = 'active' then 'active' else 'leaver' end as holder,
        termination_date,
        vested_percent,
        start_deferral,
        start_roth,
        start_match,
        start_nonelective,
        contributions_deferral,
        contributions_roth,
        contributions_match,
        forfeiture_allocation as contributions_nonelective,
        forfeiture_allocation,
        start_share,
        deferral_share,
        employer_share
    from allocated
    -- an employee without money in the plan, before or during the year, has no account
    where start_deferral + start_roth + start_match + start_nonelective
          + contributions_deferral + contributions_roth + contributions_match + forfeiture_allocation > 0

    union all

    -- terminated-vested participants still in the plan: all of it vested, nothing paid in
    select
        o.random_seed,
        o.employee_id,
        'terminated_vested' as holder,
        cast(null as date) as termination_date,
        cast(1 as decimal(5, 4)) as vested_percent,
        o.deferral_balance,
        o.roth_balance,
        o.match_balance,
        o.nonelective_balance,
        0 as contributions_deferral,
        0 as contributions_roth,
        0 as contributions_match,
        0 as contributions_nonelective,
        0 as forfeiture_allocation,
        1.0 as start_share,
        0.0 as deferral_share,
        0.0 as employer_share
    from opening as o
    where o.prior_status = 'terminated_vested'
),

earned as (
    select
        a.*,
        {%- for source in sources %}
        {%- set share = 'a.employer_share' if source == 'match' else ('0' if source == 'nonelective' else 'a.deferral_share') %}
        cast(round(a.start_{{ source }} * py.investment_return * a.start_share
                   + a.contributions_{{ source }} * py.investment_return * {{ share }} / 2, 2) as decimal(14, 2))
            as earnings_{{ source }},
        {%- endfor %}
        py.investment_return
    from accounts as a
    inner join plan_year as py on py.random_seed = a.random_seed
),

before_exit as (
    select
        er.*,
        {%- for source in sources %}
        er.start_{{ source }} + er.contributions_{{ source }} + er.earnings_{{ source }} as held_{{ source }},
        {%- endfor %}
        -- the non-vested employer money a leaver forfeits at termination
        {%- if safe_harbor_match %}
        cast(0 as decimal(14, 2)) as forfeited_match,
        {%- else %}
        cast(case when er.holder = 'leaver'
                  then round((er.start_match + er.contributions_match + er.earnings_match) * (1 - er.vested_percent), 2)
                  else 0 end as decimal(14, 2)) as forfeited_match,
        {%- endif %}
        cast(case when er.holder = 'leaver'
                  then round((er.start_nonelective + er.contributions_nonelective + er.earnings_nonelective)
                             * (1 - er.vested_percent), 2)
                  else 0 end as decimal(14, 2)) as forfeited_nonelective
    from earned as er
),

decided as (
    select
        be.*,
        case
            when be.holder = 'active' then 'active'
            when be.holder = 'leaver'
                 and be.held_deferral + be.held_roth + be.held_match + be.held_nonelective
                     - be.forfeited_match - be.forfeited_nonelective < {{ num_var('cash_out_limit', 0, 7000) }}
                then 'cashed_out'
            when be.holder = 'terminated_vested'
                 and {{ random_uniform('be.employee_id', 'distribution') }} < {{ num_var('distribution_rate', 0, 1) }}
                then 'distributed'
            else 'terminated_vested'
        end as account_status
    from before_exit as be
),

closed as (
    select
        d.*,
        {%- for source in sources %}
        {%- set forfeited = 'd.forfeited_' ~ source if source in ('match', 'nonelective') else '0' %}
        cast(case when d.account_status in ('cashed_out', 'distributed') then d.held_{{ source }} - {{ forfeited }} else 0 end
             as decimal(14, 2)) as distributions_{{ source }},
        {%- endfor %}
        d.forfeited_match + d.forfeited_nonelective as forfeitures
    from decided as d
),

ended as (
    select
        c.*,
        {%- for source in sources %}
        {%- set forfeited = 'c.forfeited_' ~ source if source in ('match', 'nonelective') else '0' %}
        cast(c.held_{{ source }} - {{ forfeited }} - c.distributions_{{ source }} as decimal(14, 2)) as end_{{ source }}
        {{- ',' if not loop.last }}
        {%- endfor %}
    from closed as c
)

select
    {{ scenario_literal() }} as scenario_id,
    random_seed,
    {{ sim_year }} as simulation_year,
    employee_id,
    account_status,
    termination_date,
    vested_percent,
    {%- for source in sources %}
    cast(start_{{ source }} as decimal(14, 2)) as start_{{ source }},
    {%- endfor %}
    cast(start_deferral + start_roth + start_match + start_nonelective as decimal(16, 2)) as start_balance,
    {%- for stage in ['contributions', 'earnings', 'distributions'] %}
    cast({{ stage }}_deferral + {{ stage }}_roth + {{ stage }}_match + {{ stage }}_nonelective as decimal(16, 2))
        as {{ stage }},
    {%- endfor %}
    -- the employer sources' flows: what a leaver's forfeiture is taken from
    contributions_match,
    earnings_match,
    forfeiture_allocation,
    earnings_nonelective,
    forfeited_match,
    forfeited_nonelective,
    cast(forfeitures as decimal(14, 2)) as forfeitures,
    {%- for source in sources %}
    end_{{ source }},
    {%- endfor %}
    cast(end_deferral + end_roth + end_match + end_nonelective as decimal(16, 2)) as end_balance,
    -- an active employee's employer money vests on the schedule; what a leaver keeps is vested
    cast(case
        when account_status <> 'active' then end_deferral + end_roth + end_match + end_nonelective
        else end_deferral + end_roth
             {%- if safe_harbor_match %} + end_match{% else %} + round(end_match * vested_percent, 2){% endif %}
             + round(end_nonelective * vested_percent, 2)
    end as decimal(16, 2)) as vested_balance
from ended
