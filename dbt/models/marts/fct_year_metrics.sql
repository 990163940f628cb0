{#-
  The one definition of every yearly figure: one row per (scenario_id, random_seed,
  simulation_year). The run summary, `compare`, the Excel exports and the seed
  ensembles all read this table, so a figure means the same thing everywhere; a new
  plan rule adds its metric here (and its label in planalign_orchestrator/metrics.py).

  Read from the year's own models only (never the event log, which an ensemble skips):
  every hire and every leaver of the year has exactly one snapshot row in it, so the
  counts below equal the event log's. Rates are fractions (0.03 is 3%).
    headcount_start / headcount_end  active on Jan 1 / at year end
    terminations        every leaver: experienced (incl. census dates), retirements,
                        reductions in force and new-hire terminations
    participation_rate  enrolled share of the year-end active employees
    employer_cost_rate  employer contributions over total_compensation (the annual pay
                        of the year-end active employees)
    target_*            the growth target the year was solved with (fct_year_plan)
    eligible_headcount  year-end active employees eligible to defer (IRC 410(a) rules,
                        eligibility_ctes); eligible_participation_rate is
                        participants among them
    forfeitures         non-vested employer money forfeited by the year's leavers
                        (IRC 411(a)), used in the next plan year
    forfeitures_used    last year's forfeitures, used this year (within 12 months of
                        that plan year's end) for var used_for: employer_contributions_net
                        is employer_contributions less the forfeitures that fund them
                        (used_for 'employer_contributions'); otherwise they pay expenses
                        or are re-allocated, and the employer pays its contributions in full
    total_plan_assets   end balances of every account (the employees' in the snapshot,
                        and the terminated-vested participants' of earlier years,
                        fct_terminated_vested_balances); average_balance over the
                        accounts with a balance
    match_contributions, core_contributions  the employer money by source
                        (employer_contributions is their sum, contribution_ctes); the
                        match includes true_up_contributions, what a year-end true-up
                        of a per-pay-period match paid
    eligible_compensation  pay while eligible for employer money, capped at 401(a)(17)
                        (employer_plan_compensation, everyone employed in the year)
    net_employer_cost_rate  employer_contributions_net (the net employer cost: contributions
                        less the forfeitures used to fund them, DOMAIN.md "Vesting and
                        forfeitures") over eligible_compensation
    credited_participants  employees credited with a deferral or employer money in the
                        year; cost_per_participant is the net employer cost over them
    is_safe_harbor      the plan is safe harbor (safe_harbor.safe_harbor_design, fct_year_plan)
    hce_count, key_employee_count  highly compensated (IRC 414(q)) and key (416(i))
                        employees among everyone employed in the year (fct_compliance_employees)
    adp_* / acp_*       the ADP (401(k)(3)) and ACP (401(m)(2)) tests (fct_compliance):
                        the HCE and NHCE averages, the limit, the margin (limit - HCE
                        average; negative fails), *_fail (fails and the safe harbor design
                        is not deemed to pass it), the HCEs' excess (refunded), and the
                        QNEC / QMAC that would pass instead
    coverage_ratio      the lower of the two 410(b) ratio percentage tests (deferrals,
                        employer money); coverage_margin = coverage_ratio - 0.70;
                        coverage_fail when either fails
    key_employee_share  key employees' share of the balances at the determination date;
                        top_heavy when above 60% (IRC 416(g)) and not exempt;
                        top_heavy_minimum_cost the minimum contribution it owes
-#}
{%- set sim_year = int_var('simulation_year') -%}
{#- the forfeitures that fund this year's employer contributions (used_for 'employer_contributions') -#}
{%- set forfeitures_offset = "case when yp.forfeitures_used_for = 'employer_contributions' "
    ~ "then least(yp.forfeitures_available, p.employer_contributions) else 0 end" -%}

with snapshot as (
    select *
    from {{ ref('fct_workforce_snapshot') }}
    where scenario_id = {{ scenario_literal() }} and simulation_year = {{ sim_year }}
),

people as (
    select
        random_seed,
        count(*) filter (where not is_new_hire) as headcount_start,
        count(*) filter (where employment_status = 'active') as headcount_end,
        count(*) filter (where is_new_hire) as hires,
        count(*) filter (where employment_status = 'terminated') as terminations,
        count(*) filter (where termination_reason in ('termination', 'census')) as experienced_terminations,
        count(*) filter (where termination_reason = 'retirement') as retirements,
        count(*) filter (where termination_reason = 'reduction_in_force') as reductions_in_force,
        count(*) filter (where termination_reason = 'new_hire') as new_hire_terminations,
        count(*) filter (where employment_status = 'active' and enrolled) as participants,
        count(*) filter (where employment_status = 'active' and is_eligible) as eligible_headcount,
        count(*) filter (where deferral_change = 'escalation') as deferral_escalations,
        coalesce(sum(compensation) filter (where employment_status = 'active'), 0) as total_compensation,
        coalesce(sum(employee_contribution), 0) as employee_contributions,
        coalesce(sum(employer_contribution), 0) as employer_contributions,
        coalesce(sum(match_contribution), 0) as match_contributions,
        coalesce(sum(true_up_contribution), 0) as true_up_contributions,
        coalesce(sum(core_contribution), 0) as core_contributions,
        coalesce(sum(employer_plan_compensation), 0) as eligible_compensation,
        count(*) filter (where employee_contribution + employer_contribution > 0) as credited_participants,
        coalesce(sum(catch_up_pre_tax), 0) as catch_up_pre_tax,
        coalesce(sum(catch_up_roth), 0) as catch_up_roth
    from snapshot
    group by random_seed
),

changes as (
    select
        random_seed,
        count(*) filter (where is_promoted) as promotions,
        count(*) filter (where is_promoted and promoted_compensation > promotion_compensation)
            as promotions_raised_to_minimum
    from {{ ref('int_yearly_experienced_changes') }}
    group by random_seed
),

year_plan as (
    select *
    from {{ ref('fct_year_plan') }}
    where scenario_id = {{ scenario_literal() }} and simulation_year = {{ sim_year }}
),

accounts as (
    -- every account's year: the employees' (the snapshot) and the terminated-vested
    -- participants' who left in earlier years
    select
        random_seed,
        forfeited_match + forfeited_nonelective as forfeitures,
        earnings,
        distributions,
        end_deferral + end_roth + end_match + end_nonelective as end_balance
    from snapshot
    where account_status is not null

    union all

    select
        random_seed,
        0 as forfeitures,
        earnings,
        distributions,
        end_deferral + end_roth + end_match + end_nonelective as end_balance
    from {{ ref('fct_terminated_vested_balances') }}
    where scenario_id = {{ scenario_literal() }} and simulation_year = {{ sim_year }}
),

account_totals as (
    select
        random_seed,
        coalesce(sum(forfeitures), 0) as forfeitures,
        coalesce(sum(earnings), 0) as investment_earnings,
        coalesce(sum(distributions), 0) as distributions,
        coalesce(sum(end_balance), 0) as total_plan_assets,
        count(*) filter (where end_balance > 0) as accounts_with_balance
    from accounts
    group by random_seed
),

compliance as (
    select
        random_seed,
        {%- for test in ['adp', 'acp'] %}
        any_value(hce_value) filter (where test = '{{ test }}') as {{ test }}_hce_average,
        any_value(nhce_value) filter (where test = '{{ test }}') as {{ test }}_nhce_average,
        any_value(limit_value) filter (where test = '{{ test }}') as {{ test }}_limit,
        any_value(margin) filter (where test = '{{ test }}') as {{ test }}_margin,
        coalesce(bool_or(fails) filter (where test = '{{ test }}'), false) as {{ test }}_fail,
        coalesce(sum(excess_amount) filter (where test = '{{ test }}'), 0) as {{ test }}_excess,
        coalesce(sum(corrective_contribution) filter (where test = '{{ test }}'), 0) as {{ test }}_correction,
        {%- endfor %}
        min(test_value) filter (where test like 'coverage%') as coverage_ratio,
        min(margin) filter (where test like 'coverage%') as coverage_margin,
        coalesce(bool_or(fails) filter (where test like 'coverage%'), false) as coverage_fail,
        any_value(test_value) filter (where test = 'top_heavy') as key_employee_share,
        coalesce(bool_or(fails) filter (where test = 'top_heavy'), false) as top_heavy,
        coalesce(sum(corrective_contribution) filter (where test = 'top_heavy'), 0) as top_heavy_minimum_cost
    from {{ ref('fct_compliance') }}
    where scenario_id = {{ scenario_literal() }} and simulation_year = {{ sim_year }}
    group by random_seed
),

compliance_people as (
    select
        random_seed,
        count(*) filter (where is_hce) as hce_count,
        count(*) filter (where is_key_employee) as key_employee_count
    from {{ ref('fct_compliance_employees') }}
    where scenario_id = {{ scenario_literal() }} and simulation_year = {{ sim_year }}
    group by random_seed
)

select
    {{ scenario_literal() }} as scenario_id,
    p.random_seed,
    {{ sim_year }} as simulation_year,
    p.headcount_start,
    p.headcount_end,
    yp.target_end_active as target_headcount,
    cast(round(coalesce((p.headcount_end - p.headcount_start) / nullif(p.headcount_start, 0), 0), 6) as double)
        as growth_rate,
    yp.target_growth_rate,
    p.hires,
    p.terminations,
    p.experienced_terminations,
    p.retirements,
    p.reductions_in_force,
    p.new_hire_terminations,
    coalesce(c.promotions, 0) as promotions,
    coalesce(c.promotions_raised_to_minimum, 0) as promotions_raised_to_minimum,
    p.deferral_escalations,
    cast(p.total_compensation as decimal(18, 2)) as total_compensation,
    cast(round(coalesce(p.total_compensation / nullif(p.headcount_end, 0), 0), 2) as decimal(18, 2))
        as average_compensation,
    p.participants,
    cast(p.participants / nullif(p.headcount_end, 0) as double) as participation_rate,
    cast(p.employee_contributions as decimal(18, 2)) as employee_contributions,
    cast(p.employer_contributions as decimal(18, 2)) as employer_contributions,
    cast(p.employer_contributions / nullif(p.total_compensation, 0) as double) as employer_cost_rate,
    cast(p.catch_up_pre_tax as decimal(18, 2)) as catch_up_pre_tax,
    cast(p.catch_up_roth as decimal(18, 2)) as catch_up_roth,
    yp.allow_layoffs,
    yp.irs_limits_estimated,
    p.eligible_headcount,
    cast(p.participants / nullif(p.eligible_headcount, 0) as double) as eligible_participation_rate,
    cast(a.forfeitures as decimal(18, 2)) as forfeitures,
    yp.forfeitures_available as forfeitures_used,
    cast(p.employer_contributions - {{ forfeitures_offset }} as decimal(18, 2)) as employer_contributions_net,
    yp.investment_return,
    cast(a.investment_earnings as decimal(18, 2)) as investment_earnings,
    cast(a.distributions as decimal(18, 2)) as distributions,
    cast(a.total_plan_assets as decimal(18, 2)) as total_plan_assets,
    cast(round(coalesce(a.total_plan_assets / nullif(a.accounts_with_balance, 0), 0), 2) as decimal(18, 2))
        as average_balance,
    cast(p.match_contributions as decimal(18, 2)) as match_contributions,
    cast(p.true_up_contributions as decimal(18, 2)) as true_up_contributions,
    cast(p.core_contributions as decimal(18, 2)) as core_contributions,
    cast(p.eligible_compensation as decimal(18, 2)) as eligible_compensation,
    cast(p.employer_contributions - {{ forfeitures_offset }} as double)
    / nullif(cast(p.eligible_compensation as double), 0) as net_employer_cost_rate,
    p.credited_participants,
    cast(round(coalesce((p.employer_contributions - {{ forfeitures_offset }}) / nullif(p.credited_participants, 0), 0), 2)
         as decimal(18, 2)) as cost_per_participant,
    yp.is_safe_harbor,
    coalesce(cp.hce_count, 0) as hce_count,
    coalesce(cp.key_employee_count, 0) as key_employee_count,
    {%- for test in ['adp', 'acp'] %}
    cast(ct.{{ test }}_hce_average as double) as {{ test }}_hce_average,
    cast(ct.{{ test }}_nhce_average as double) as {{ test }}_nhce_average,
    cast(ct.{{ test }}_limit as double) as {{ test }}_limit,
    cast(ct.{{ test }}_margin as double) as {{ test }}_margin,
    coalesce(ct.{{ test }}_fail, false) as {{ test }}_fail,
    cast(coalesce(ct.{{ test }}_excess, 0) as decimal(18, 2)) as {{ test }}_excess,
    cast(coalesce(ct.{{ test }}_correction, 0) as decimal(18, 2))
        as {{ 'adp_qnec_cost' if test == 'adp' else 'acp_qmac_cost' }},
    {%- endfor %}
    cast(ct.coverage_ratio as double) as coverage_ratio,
    cast(ct.coverage_margin as double) as coverage_margin,
    coalesce(ct.coverage_fail, false) as coverage_fail,
    cast(ct.key_employee_share as double) as key_employee_share,
    coalesce(ct.top_heavy, false) as top_heavy,
    cast(coalesce(ct.top_heavy_minimum_cost, 0) as decimal(18, 2)) as top_heavy_minimum_cost
from people as p
left join changes as c on c.random_seed = p.random_seed
left join year_plan as yp on yp.random_seed = p.random_seed
left join account_totals as a on a.random_seed = p.random_seed
left join compliance as ct on ct.random_seed = p.random_seed
left join compliance_people as cp on cp.random_seed = p.random_seed
order by p.random_seed
