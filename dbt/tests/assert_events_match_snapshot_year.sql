-- Every event belongs to someone who is in the workforce snapshot of the same scenario
-- and year (stricter than the relationships test, which ignores both).
select
    e.scenario_id,
    e.simulation_year,
    e.employee_id,
    e.event_type
from {{ ref('fct_yearly_events') }} as e
left join {{ ref('fct_workforce_snapshot') }} as s
    on
        s.scenario_id = e.scenario_id
        and s.simulation_year = e.simulation_year
        and s.employee_id = e.employee_id
where s.employee_id is null
