{#-
  Will the plan pass its nondiscrimination tests this year (DOMAIN.md "Nondiscrimination
  testing")? One row per (scenario_id, random_seed, simulation_year, test); delete+insert
  on (scenario_id, simulation_year). Who is counted, and how, is fct_compliance_employees.

    test                adp (IRC 401(k)(3)), acp (401(m)(2)), coverage_deferrals and
                        coverage_employer (the 410(b) ratio percentage test of the
                        deferral and of the employer money), top_heavy (416)
    testing_method      current_year | prior_year (var testing_method; adp and acp)
    hce_count, nhce_count  the HCEs and NHCEs the test counts (top_heavy: key and
                        non-key employees with a balance at the determination date)
    hce_value, nhce_value  adp/acp: each group's average ratio; coverage: each group's
                        share benefiting; top_heavy: the key and the non-key employees'
                        shares of the balances
    nhce_basis          adp/acp: the NHCE average the limit is taken from (last year's
                        under the prior-year method)
    limit_value         adp/acp: the highest passing HCE average; coverage: 0.70 (the
                        ratio of the NHCE share to the HCE share must reach it);
                        top_heavy: 0.60 (key employees must hold no more)
    test_value          the figure held against the limit: the HCE average, the
                        coverage ratio, the key employees' share
    margin              how far the test passes by (negative: fails by), as a fraction
                        (0.005 is half a percentage point)
    passed              the test passes as run
    deemed_passed       the plan's safe harbor design is deemed to pass this test
                        (safe_harbor_deemed(): ADP, ACP when the match qualifies,
                        top-heavy when nothing but deferrals and safe harbor money)
    fails               not passed and not deemed passed: a correction is owed
    excess_amount       adp/acp: the HCEs' excess by the leveling method; refunded
                        (refund_amount, highest dollar amounts first, each to the cent)
    corrective_contribution  adp: the QNEC, acp: the QMAC, as a uniform % of pay to every
                        eligible NHCE, that would raise the NHCE average far enough to
                        pass (under the prior-year method an estimate on this year's
                        NHCE pay); top_heavy: the minimum contribution (IRC 416(c)(2))
                        the non-key participants employed at year end are owed beyond
                        their employer money: the lesser of 3% and the highest key
                        employee's rate (deferrals and employer money) of their pay
  A year's figures reflect the HCE and key-employee determination of that year; the
  top-heavy determination date is Dec 31 of the year before (the start balances of the
  year's employees, and last year's leavers' balances with their distributions added
  back, IRC 416(g)(3); employees who did not work in that year are left out, 416(g)(4)(E)).
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set start_year = int_var('start_year') -%}
{%- set method = choice_var('testing_method', ['current_year', 'prior_year']) -%}
{%- set deemed = safe_harbor_deemed() -%}
{#- refs stay unconditional: the dependencies dbt records at parse time are every year's -#}
{%- set snapshot_model = ref('fct_workforce_snapshot') -%}
{%- set baseline = ref('int_baseline_workforce') -%}
{%- set lookback_limits = irs_limits(sim_year - 1) -%}

with employees as (
    select *
    from {{ ref('fct_compliance_employees') }}
    where scenario_id = {{ scenario_literal() }} and simulation_year = {{ sim_year }}
),

ratios as (
    select
        random_seed,
        'adp' as test,
        is_hce,
        deferral_ratio as ratio,
        adp_compensation as compensation
    from employees
    where is_adp_eligible

    union all

    select
        random_seed,
        'acp' as test,
        is_hce,
        contribution_ratio as ratio,
        acp_compensation as compensation
    from employees
    where is_acp_eligible
),

{{ ratio_test_ctes('ratios', 'tests') }},

corrections as (
    select
        random_seed,
        sum(adp_excess) as adp_excess,
        sum(adp_refund) as adp_refund,
        sum(acp_excess) as acp_excess,
        sum(acp_refund) as acp_refund
    from employees
    group by random_seed
),

ratio_tests as (
    select
        t.random_seed,
        t.test,
        t.hce_count,
        t.nhce_count,
        t.hce_average as hce_value,
        t.nhce_average as nhce_value,
        t.nhce_basis,
        t.limit_value,
        t.hce_average as test_value,
        t.margin,
        t.passed,
        case when t.test = 'adp' then {{ deemed.adp }} else {{ deemed.acp }} end as deemed_passed,
        case when t.test = 'adp' then c.adp_excess else c.acp_excess end as excess_amount,
        case when t.test = 'adp' then c.adp_refund else c.acp_refund end as refund_amount,
        case
            when not t.passed and not (case when t.test = 'adp' then {{ deemed.adp }} else {{ deemed.acp }} end)
                then round(greatest({{ nhce_average_to_pass('t.hce_average') }} - t.nhce_basis, 0)
                           * t.nhce_compensation, 2)
            else 0
        end as corrective_contribution
    from tests as t
    left join corrections as c on c.random_seed = t.random_seed
),

coverage_groups as (
    {%- for test, benefits in [('coverage_deferrals', 'is_adp_eligible'), ('coverage_employer', 'is_acp_eligible')] %}
    select
        random_seed,
        '{{ test }}' as test,
        count(*) filter (where is_hce) as hce_count,
        count(*) filter (where not is_hce) as nhce_count,
        count(*) filter (where is_hce and {{ benefits }}) as hce_benefiting,
        count(*) filter (where not is_hce and {{ benefits }}) as nhce_benefiting
    from employees
    where not is_excludable or {{ benefits }}
    group by random_seed
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

coverage_tests as (
    select
        random_seed,
        test,
        hce_count,
        nhce_count,
        hce_benefiting / nullif(hce_count, 0) as hce_value,
        coalesce(nhce_benefiting / nullif(nhce_count, 0), 0) as nhce_value,
        cast(null as double) as nhce_basis,
        0.70 as limit_value,
        coalesce(nhce_benefiting / nullif(nhce_count, 0), 0) / nullif(hce_benefiting / nullif(hce_count, 0), 0)
            as test_value
    from coverage_groups
),

determination_balances as (
    -- who held what on the determination date (Dec 31 of last year)
    select
        s.random_seed,
        e.is_key_employee,
        s.start_deferral + s.start_roth + s.start_match + s.start_nonelective as balance
    from {{ snapshot_model }} as s
    inner join employees as e on e.random_seed = s.random_seed and e.employee_id = s.employee_id
    where
        s.scenario_id = {{ scenario_literal() }}
        and s.simulation_year = {{ sim_year }}
        and not s.is_new_hire
    {%- if sim_year > start_year %}

    union all

    select
        s.random_seed,
        coalesce(b.ownership_share, 0) > 0.05
        or (coalesce(b.ownership_share, 0) > 0.01 and s.gross_compensation > 150000)
        or (coalesce(b.is_officer, false) and s.gross_compensation > lb.key_employee_officer_pay) as is_key_employee,
        s.end_deferral + s.end_roth + s.end_match + s.end_nonelective + s.distributions as balance
    from {{ snapshot_model }} as s
    left join {{ baseline }} as b on b.employee_id = s.employee_id
    cross join ({{ lookback_limits }}) as lb
    where
        s.scenario_id = {{ scenario_literal() }}
        and s.simulation_year = {{ sim_year - 1 }}
        and s.random_seed in (select sv.random_seed from {{ seed_values() }} as sv)
        and s.employment_status = 'terminated'
    {%- endif %}
),

top_heavy_shares as (
    select
        random_seed,
        count(*) filter (where is_key_employee and balance > 0) as key_count,
        count(*) filter (where not is_key_employee and balance > 0) as non_key_count,
        -- no balances at all: key employees hold none of them
        coalesce(coalesce(sum(balance) filter (where is_key_employee), 0) / nullif(sum(balance), 0), 0) as key_share
    from determination_balances
    group by random_seed
),

key_rates as (
    select
        random_seed,
        max((adp_deferrals + employer_contributions) / nullif(adp_compensation, 0)) filter (where is_key_employee)
            as highest_key_rate
    from employees
    group by random_seed
),

top_heavy_minimums as (
    select
        e.random_seed,
        sum(greatest(least(0.03, coalesce(k.highest_key_rate, 0)) * e.adp_compensation - e.employer_contributions, 0))
            as minimum_owed
    from employees as e
    inner join key_rates as k on k.random_seed = e.random_seed
    where not e.is_key_employee and e.is_adp_eligible and e.employment_status = 'active'
    group by e.random_seed
),

top_heavy_tests as (
    select
        sh.random_seed,
        'top_heavy' as test,
        sh.key_count as hce_count,
        sh.non_key_count as nhce_count,
        sh.key_share as hce_value,
        1 - sh.key_share as nhce_value,
        cast(null as double) as nhce_basis,
        0.60 as limit_value,
        sh.key_share as test_value,
        0.60 - coalesce(sh.key_share, 0) as margin,
        coalesce(sh.key_share, 0) <= 0.60 as passed,
        {{ deemed.top_heavy }} as deemed_passed,
        0 as excess_amount,
        0 as refund_amount,
        case when coalesce(sh.key_share, 0) > 0.60 and not {{ deemed.top_heavy }} then round(coalesce(m.minimum_owed, 0), 2) else 0 end
            as corrective_contribution
    from top_heavy_shares as sh
    left join top_heavy_minimums as m on m.random_seed = sh.random_seed
),

every_test as (
    select * from ratio_tests

    union all

    select
        random_seed,
        test,
        hce_count,
        nhce_count,
        hce_value,
        nhce_value,
        nhce_basis,
        limit_value,
        test_value,
        case when hce_value > 0 then test_value - limit_value end as margin,
        coalesce(hce_value = 0 or test_value >= limit_value - 1e-9, true) as passed,
        false as deemed_passed,
        0 as excess_amount,
        0 as refund_amount,
        0 as corrective_contribution
    from coverage_tests

    union all

    select * from top_heavy_tests
)

select
    {{ scenario_literal() }} as scenario_id,
    random_seed,
    {{ sim_year }} as simulation_year,
    test,
    {{ sql_string_literal(method) }} as testing_method,
    cast(hce_count as integer) as hce_count,
    cast(nhce_count as integer) as nhce_count,
    cast(hce_value as double) as hce_value,
    cast(nhce_value as double) as nhce_value,
    cast(nhce_basis as double) as nhce_basis,
    cast(limit_value as double) as limit_value,
    cast(test_value as double) as test_value,
    cast(margin as double) as margin,
    passed,
    deemed_passed,
    not passed and not deemed_passed as fails,
    cast(coalesce(excess_amount, 0) as decimal(18, 2)) as excess_amount,
    cast(coalesce(refund_amount, 0) as decimal(18, 2)) as refund_amount,
    cast(coalesce(corrective_contribution, 0) as decimal(18, 2)) as corrective_contribution
from every_test
