{#-
  Who the nondiscrimination tests count, and how (DOMAIN.md "Nondiscrimination
  testing"): one row per employee of fct_workforce_snapshot per simulation_year and
  random_seed. delete+insert on (scenario_id, simulation_year).

  HCE (IRC 414(q)(1)): a 5% owner (census ownership_share above 0.05), or paid more than
  the look-back year's threshold (irs_limits() of the year before: $155,000 of 2024
  pay for 2025) in the look-back year: lookback_compensation is last year's simulated
  pay, the census pay for the part of the year before start_year employed. With var
  top_paid_group (IRC 414(q)(3)) the pay test also needs a place in the top 20% by
  look-back pay of the look-back year's employees (rounded to the nearest whole number,
  ties broken by employee_id, as Treas. Reg. 1.414(q)-1T A-3(b) lets the employer choose).

  Key employee (IRC 416(i)(1)), for the top-heavy test at the determination date (the
  last day of the look-back year): a 5% owner; a 1% owner paid more than $150,000 (a
  fixed amount, not indexed); an officer paid more than that year's officer amount
  (irs_limits(): $230,000 for 2025), at most the greater of 3 and 10% of the employees
  (rounded up) and never more than 50 officers, the best paid first.

  ADP and ACP (IRC 401(k)(3), 401(m)(2)): an employee eligible to defer (is_eligible)
  has deferral_ratio = base_deferral (catch-up excluded) / plan_compensation (pay while
  eligible, capped at 401(a)(17)), rounded to 0.01% as Treas. Reg. 1.401(k)-2(a)(3)
  rounds it; 0 for an eligible non-participant. An employee eligible for employer money
  (is_employer_eligible) has contribution_ratio = the match (its true-up included) /
  employer_plan_compensation; core contributions are not in the ACP test.
  When a test fails (and the safe harbor design is not deemed to pass it,
  safe_harbor_deemed()), the HCEs' excess (adp_excess, acp_excess) is what the leveling
  method takes from the highest ratios until the HCE average is at the limit (Treas. Reg.
  1.401(k)-2(b)(2)(ii)), and the refund of that total is taken from the highest dollar
  amounts first (adp_refund, acp_refund; 1.401(k)-2(b)(2)(iv)), each to the cent.

  Coverage (IRC 410(b)): is_excludable marks the employees the ratio percentage test
  leaves out unless they benefit: under 21 or under a year of service at the end of the
  year (410(b)(4)(A)), and leavers with no more than 500 hours (Treas. Reg.
  1.410(b)-6(f)). employer_contributions (all employer money of the year) is what counts
  toward a top-heavy minimum contribution (IRC 416(c)(2)).
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set top_paid_group = bool_var('top_paid_group') -%}
{%- set deemed = safe_harbor_deemed() -%}

with snapshot as (
    select *
    from {{ ref('fct_workforce_snapshot') }}
    where scenario_id = {{ scenario_literal() }} and simulation_year = {{ sim_year }}
),

lookback_limits as (
    {{ irs_limits(sim_year - 1) }}
),

people as (
    select
        s.random_seed,
        s.employee_id,
        s.employment_status,
        s.is_new_hire,
        s.age,
        s.tenure_years,
        s.hours_worked,
        cast(coalesce(s.prior_year_wages, 0) as decimal(14, 2)) as lookback_compensation,
        coalesce(b.ownership_share, 0) as ownership_share,
        coalesce(b.is_officer, false) as is_officer,
        s.is_eligible,
        s.plan_compensation,
        s.base_deferral,
        s.is_employer_eligible,
        s.employer_plan_compensation,
        s.match_contribution,
        s.employer_contribution as employer_contributions,
        lb.hce_threshold,
        lb.key_employee_officer_pay
    from snapshot as s
    left join {{ ref('int_baseline_workforce') }} as b on b.employee_id = s.employee_id
    cross join lookback_limits as lb
),

seed_counts as (
    -- per seed: how many were employed, and how many had look-back pay (the top-paid group's base)
    select
        random_seed,
        count(*) as employees,
        count(*) filter (where lookback_compensation > 0) as lookback_employees
    from people
    group by random_seed
),

officer_ranks as (
    -- only officers can be key employees as officers: rank them alone, the best paid first
    select
        random_seed,
        employee_id,
        row_number() over (partition by random_seed order by lookback_compensation desc, employee_id) as officer_rank
    from people
    where is_officer
),

ranked as (
    select
        p.*,
        {%- if top_paid_group %}
        row_number() over (partition by p.random_seed order by p.lookback_compensation desc, p.employee_id)
            as pay_rank,
        {%- endif %}
        c.lookback_employees,
        o.officer_rank,
        c.employees
    from people as p
    inner join seed_counts as c on c.random_seed = p.random_seed
    left join officer_ranks as o on o.random_seed = p.random_seed and o.employee_id = p.employee_id
),

determined as (
    select
        r.*,
        r.ownership_share > 0.05 as is_five_percent_owner,
        r.ownership_share > 0.01 as is_one_percent_owner,
        r.ownership_share > 0.05
        or (
            r.lookback_compensation > r.hce_threshold
            {%- if top_paid_group %}
            and r.pay_rank <= round(0.2 * r.lookback_employees)
            {%- endif %}
        ) as is_hce,
        r.ownership_share > 0.05
        or (r.ownership_share > 0.01 and r.lookback_compensation > 150000)
        or (
            r.is_officer
            and r.lookback_compensation > r.key_employee_officer_pay
            and r.officer_rank <= least(50, greatest(3, ceil(0.1 * r.employees)))
        ) as is_key_employee,
        -- exact to 0.01% (decimal): group averages then add up the same in every run
        cast(case when r.is_eligible then coalesce(round(r.base_deferral / nullif(r.plan_compensation, 0), 4), 0) end
             as decimal(9, 4)) as deferral_ratio,
        cast(case
            when r.is_employer_eligible
                then coalesce(round(r.match_contribution / nullif(r.employer_plan_compensation, 0), 4), 0)
        end as decimal(9, 4)) as contribution_ratio
    from ranked as r
),

ratios as (
    select
        random_seed,
        employee_id,
        'adp' as test,
        is_hce,
        deferral_ratio as ratio,
        plan_compensation as compensation,
        base_deferral as amount
    from determined
    where is_eligible

    union all

    select
        random_seed,
        employee_id,
        'acp' as test,
        is_hce,
        contribution_ratio as ratio,
        employer_plan_compensation as compensation,
        match_contribution as amount
    from determined
    where is_employer_eligible
),

{{ ratio_test_ctes('ratios', 'tests') }},

{%- for test in ['adp', 'acp'] %}

{{ test }}_ratios as (
    -- the failing test's HCE ratios, leveled down until their average is the limit
    select
        r.random_seed,
        r.employee_id,
        r.ratio as level_value,
        t.hce_count * t.limit_value as level_target
    from ratios as r
    inner join tests as t on t.random_seed = r.random_seed and t.test = r.test
    where r.test = '{{ test }}' and r.is_hce and not t.passed and not {{ deemed[test] }}
),

{{ level_ctes(test ~ '_ratios', test ~ '_ratio_level') }},

{{ test }}_excess as (
    select
        r.random_seed,
        r.employee_id,
        r.amount,
        cast(round(greatest(r.ratio - lv.level, 0) * r.compensation, 2) as decimal(14, 2)) as excess
    from ratios as r
    inner join {{ test }}_ratio_level as lv on lv.random_seed = r.random_seed
    where r.test = '{{ test }}' and r.is_hce
),

{{ test }}_amounts as (
    -- the total excess, refunded from the highest dollar amounts down
    select
        random_seed,
        employee_id,
        amount as level_value,
        sum(amount) over (partition by random_seed) - sum(excess) over (partition by random_seed) as level_target
    from {{ test }}_excess
),

{{ level_ctes(test ~ '_amounts', test ~ '_amount_level') }},

{{ test }}_corrections as (
    select
        e.random_seed,
        e.employee_id,
        e.excess,
        cast(least(greatest(e.amount - greatest(lv.level, 0), 0), e.amount) as decimal(14, 2)) as refund
    from {{ test }}_excess as e
    left join {{ test }}_amount_level as lv on lv.random_seed = e.random_seed
),
{%- endfor %}

final as (
    select
        d.*,
        coalesce(adp.excess, 0) as adp_excess,
        coalesce(round(adp.refund, 2), 0) as adp_refund,
        coalesce(acp.excess, 0) as acp_excess,
        coalesce(round(acp.refund, 2), 0) as acp_refund
    from determined as d
    left join adp_corrections as adp on adp.random_seed = d.random_seed and adp.employee_id = d.employee_id
    left join acp_corrections as acp on acp.random_seed = d.random_seed and acp.employee_id = d.employee_id
)

select
    {{ scenario_literal() }} as scenario_id,
    random_seed,
    {{ sim_year }} as simulation_year,
    employee_id,
    employment_status,
    lookback_compensation,
    cast(ownership_share as decimal(7, 6)) as ownership_share,
    is_five_percent_owner,
    is_one_percent_owner,
    is_officer,
    is_hce,
    is_key_employee,
    is_eligible as is_adp_eligible,
    plan_compensation as adp_compensation,
    base_deferral as adp_deferrals,
    deferral_ratio,
    is_employer_eligible as is_acp_eligible,
    employer_plan_compensation as acp_compensation,
    match_contribution as acp_contributions,
    contribution_ratio,
    employer_contributions,
    (age < 21 or tenure_years < 1 or (employment_status = 'terminated' and coalesce(hours_worked, 0) <= 500))
        as is_excludable,
    cast(adp_excess as decimal(14, 2)) as adp_excess,
    cast(adp_refund as decimal(14, 2)) as adp_refund,
    cast(acp_excess as decimal(14, 2)) as acp_excess,
    cast(acp_refund as decimal(14, 2)) as acp_refund
from final
