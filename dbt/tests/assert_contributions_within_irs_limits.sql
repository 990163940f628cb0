-- Fails on any employee-year whose contributions break that year's IRS limits, or
-- whose limits are not the year's (fct_year_plan records the limits irs_limits() gave
-- the year): 402(g) on base deferrals, catch-up over the limit that applies at the
-- employee's age (0 under the catch-up age), 415(c) on base deferral + employer
-- contribution (match + core) + re-allocated forfeitures, and the Roth/pre-tax
-- split of the catch-up; the employer money adds up by source (the true-up is part of
-- the match). 0.005 absorbs rounding.
select
    s.scenario_id,
    s.simulation_year,
    s.employee_id,
    s.age,
    s.base_deferral,
    s.catch_up_contribution,
    s.catch_up_roth,
    s.employer_contribution,
    s.limit_402g,
    s.catch_up_limit,
    s.limit_415c
from {{ ref('fct_workforce_snapshot') }} as s
inner join {{ ref('fct_year_plan') }} as p
    on p.scenario_id = s.scenario_id and p.random_seed = s.random_seed and p.simulation_year = s.simulation_year
where s.limit_402g <> p.limit_402g
   or s.limit_415c <> p.limit_415c
   or s.catch_up_limit not in (0, p.catch_up_limit, coalesce(p.enhanced_catch_up_limit, p.catch_up_limit))
   or s.base_deferral > s.limit_402g + 0.005
   or s.catch_up_contribution > s.catch_up_limit + 0.005
   or s.base_deferral + s.employer_contribution + s.forfeiture_allocation > s.limit_415c + 0.005
   or s.plan_compensation > p.limit_401a17 + 0.005
   or s.catch_up_roth + s.catch_up_pre_tax <> s.catch_up_contribution
   or (s.catch_up_roth > 0 and not coalesce(s.prior_year_wages > p.roth_catch_up_wage_threshold, false))
   or (s.catch_up_pre_tax > 0 and coalesce(s.prior_year_wages > p.roth_catch_up_wage_threshold, false))
   or s.base_deferral < 0
   or s.catch_up_contribution < 0
   or s.employer_contribution < 0
   or s.employer_contribution <> s.match_contribution + s.core_contribution
   or least(s.match_contribution, s.core_contribution, s.true_up_contribution) < 0
   or s.true_up_contribution > s.match_contribution
