-- Nobody defers before the entry date or receives employer money before the employer
-- entry date (IRC 410(a)): someone not eligible by the year end (or termination) has no
-- contributions and is not enrolled; the pay contributions are computed on starts at
-- the entry date; long-term part-time employees get no employer money.
{%- set days_in_year = "(date_diff('day', make_date(s.simulation_year, 1, 1), make_date(s.simulation_year, 12, 31)) + 1)" %}
select
    s.scenario_id,
    s.random_seed,
    s.simulation_year,
    s.employee_id,
    s.eligibility_entry_date,
    s.employer_entry_date,
    s.plan_compensation,
    s.employer_plan_compensation
from {{ ref('fct_workforce_snapshot') }} as s
where
    (not s.is_eligible and (s.enrolled or s.employee_contribution <> 0 or s.plan_compensation <> 0))
    or (not s.is_employer_eligible and (s.employer_contribution <> 0 or s.employer_plan_compensation <> 0))
    or (s.is_long_term_part_time and s.is_employer_eligible)
    or (s.employer_entry_date < s.eligibility_entry_date)
    or s.plan_compensation
    > round(s.compensation
            * greatest(date_diff('day', greatest(s.eligibility_entry_date, s.hire_date, make_date(s.simulation_year, 1, 1)),
                                 coalesce(s.termination_date, make_date(s.simulation_year, 12, 31))) + 1, 0)
            / {{ days_in_year }}, 2) + 0.005
    or s.employer_plan_compensation
    > round(s.compensation
            * greatest(date_diff('day', greatest(s.employer_entry_date, s.hire_date, make_date(s.simulation_year, 1, 1)),
                                 coalesce(s.termination_date, make_date(s.simulation_year, 12, 31))) + 1, 0)
            / {{ days_in_year }}, 2) + 0.005
