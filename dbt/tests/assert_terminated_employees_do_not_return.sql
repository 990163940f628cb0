-- Nobody is terminated twice, and nobody appears in a year after their termination year.
with terminations as (
    select employee_id, min(simulation_year) as termination_year, count(*) as n_terminations
    from {{ ref('fct_workforce_snapshot') }}
    where employment_status = 'terminated'
    group by employee_id
)
select t.employee_id, t.termination_year, t.n_terminations, s.simulation_year as seen_again_in
from terminations as t
left join {{ ref('fct_workforce_snapshot') }} as s
    on s.employee_id = t.employee_id
   and s.simulation_year > t.termination_year
where t.n_terminations > 1 or s.employee_id is not null
