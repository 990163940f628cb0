-- Every event belongs to someone who is in the workforce snapshot of the same year
-- (stricter than the relationships test, which ignores the year).
select e.simulation_year, e.employee_id, e.event_type
from {{ ref('fct_yearly_events') }} as e
left join {{ ref('fct_workforce_snapshot') }} as s
    on s.simulation_year = e.simulation_year
   and s.employee_id = e.employee_id
where s.employee_id is null
