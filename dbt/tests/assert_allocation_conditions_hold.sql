-- Employer money with an allocation condition (DOMAIN.md "Employer contributions beyond
-- the match"; fct_year_plan records the year's conditions) goes only to employees who
-- meet it: employed on the last day of the plan year (Dec 31), and/or the minimum of
-- hours in the year. The match (its true-up included) and the core contribution are
-- checked each against its own condition; safe harbor money has none (the config
-- refuses one).
select
    s.scenario_id,
    s.random_seed,
    s.simulation_year,
    s.employee_id,
    s.termination_date,
    s.hours_worked,
    s.match_contribution,
    s.core_contribution
from {{ ref('fct_workforce_snapshot') }} as s
inner join {{ ref('fct_year_plan') }} as p
    on p.scenario_id = s.scenario_id and p.random_seed = s.random_seed and p.simulation_year = s.simulation_year
where
    (
        s.match_contribution > 0
        and (
            (p.match_requires_last_day and s.termination_date < make_date(s.simulation_year, 12, 31))
            or s.hours_worked < p.match_min_hours
        )
    )
    or (
        s.core_contribution > 0
        and (
            (p.core_requires_last_day and s.termination_date < make_date(s.simulation_year, 12, 31))
            or s.hours_worked < p.core_min_hours
        )
    )
    or (p.match_is_safe_harbor and p.is_safe_harbor and (p.match_requires_last_day or p.match_min_hours > 0))
    or (p.nonelective_is_safe_harbor and (p.core_requires_last_day or p.core_min_hours > 0))
