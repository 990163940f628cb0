-- A leaver's vested balance is paid out only when it is under the year's cash-out limit
-- (SECURE 2.0 s.304) and always then; a larger one stays in the plan (terminated_vested).
-- Only terminated-vested participants of earlier years take distributions.
select
    b.scenario_id,
    b.random_seed,
    b.simulation_year,
    b.employee_id,
    b.account_status,
    b.distributions,
    p.cash_out_limit
from {{ ref('fct_participant_balances') }} as b
inner join {{ ref('fct_year_plan') }} as p
    on p.scenario_id = b.scenario_id and p.random_seed = b.random_seed and p.simulation_year = b.simulation_year
where
    (b.account_status = 'cashed_out' and (b.termination_date is null or b.distributions >= p.cash_out_limit))
    or (
        b.termination_date is not null
        and b.account_status = 'terminated_vested'
        and b.start_balance + b.contributions + b.earnings - b.forfeitures < p.cash_out_limit
    )
    or (b.termination_date is not null and b.account_status in ('active', 'distributed'))
    or (b.termination_date is null and b.account_status = 'cashed_out')
    or (b.account_status in ('active', 'terminated_vested') and b.distributions <> 0)
