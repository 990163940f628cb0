-- Fails on any employee-year whose contributions break that year's IRS limits:
-- 402(g) on base deferrals, catch-up over its limit or paid to someone under the
-- catch-up age, or 415(c) on base deferral + employer contribution. 0.005 absorbs rounding.
with limits as (
    select * from {{ ref('irs_contribution_limits') }}
),

year_limits as (
    -- same "as of" rule as the models: latest plan_year <= simulation_year
    select
        y.simulation_year,
        coalesce(max(l.plan_year) filter (where l.plan_year <= y.simulation_year),
                 (select min(plan_year) from limits)) as plan_year
    from (select distinct simulation_year from {{ ref('fct_workforce_snapshot') }}) as y
    cross join limits as l
    group by y.simulation_year
)

select
    s.simulation_year,
    s.employee_id,
    s.age,
    s.base_deferral,
    s.catch_up_contribution,
    s.employer_contribution,
    s.limit_402g,
    s.catch_up_limit,
    s.limit_415c
from {{ ref('fct_workforce_snapshot') }} as s
inner join year_limits as yl on yl.simulation_year = s.simulation_year
inner join limits as l on l.plan_year = yl.plan_year
where s.base_deferral > s.limit_402g + 0.005
   or s.catch_up_contribution > s.catch_up_limit + 0.005
   or (s.catch_up_contribution > 0 and s.age < l.catch_up_age)
   or s.base_deferral + s.employer_contribution > s.limit_415c + 0.005
   or s.base_deferral < 0
   or s.catch_up_contribution < 0
   or s.employer_contribution < 0
