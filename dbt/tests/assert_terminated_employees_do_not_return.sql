-- Within a scenario, nobody is terminated twice, and nobody appears in a year after
-- their termination year.
with terminations as (
    select
        scenario_id,
        employee_id,
        min(simulation_year) as termination_year,
        count(*) as n_terminations
    from {{ ref('fct_workforce_snapshot') }}
    where employment_status = 'terminated'
    group by scenario_id, employee_id
)

select
    t.scenario_id,
    t.employee_id,
    t.termination_year,
    t.n_terminations,
    s.simulation_year as seen_again_in
from terminations as t
left join {{ ref('fct_workforce_snapshot') }} as s
    on
        s.scenario_id = t.scenario_id
        and s.employee_id = t.employee_id
        and s.simulation_year > t.termination_year
where t.n_terminations > 1 or s.employee_id is not null
