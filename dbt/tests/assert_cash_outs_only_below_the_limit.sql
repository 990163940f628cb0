-- A leaver's vested balance is paid out only when it is under the year's cash-out limit
-- (SECURE 2.0 s.304) and always then; a larger one stays in the plan (terminated_vested).
-- Employees still employed are never paid out; only terminated-vested participants of
-- earlier years take distributions (fct_terminated_vested_balances).
select
    s.scenario_id,
    s.random_seed,
    s.simulation_year,
    s.employee_id,
    s.account_status,
    s.distributions,
    p.cash_out_limit
from {{ ref('fct_workforce_snapshot') }} as s
inner join {{ ref('fct_year_plan') }} as p
    on p.scenario_id = s.scenario_id and p.random_seed = s.random_seed and p.simulation_year = s.simulation_year
where
    (s.account_status = 'cashed_out' and (s.termination_date is null or s.distributions >= p.cash_out_limit))
    or (
        s.account_status = 'terminated_vested'
        and (s.termination_date is null or s.end_deferral + s.end_roth + s.end_match + s.end_nonelective < p.cash_out_limit)
    )
    or (s.termination_date is not null and s.account_status = 'active')
    or (s.termination_date is null and s.account_status not in ('active'))
    or (s.account_status is distinct from 'cashed_out' and s.distributions <> 0)
