-- Every account-year rolls forward to the cent (start + contributions + earnings -
-- distributions - forfeitures = end), no account goes negative,
-- a closed account ends at zero, and every account that stays open starts the next
-- simulated year (of its scenario and seed) with exactly the balance it ended with.
with balances as (
    select * from {{ ref('fct_participant_balances') }}
),

broken_rows as (
    select
        scenario_id,
        random_seed,
        simulation_year,
        employee_id,
        'roll-forward' as problem
    from balances
    where
        start_balance + contributions + earnings - distributions - forfeitures <> end_balance
        or start_balance <> start_deferral + start_roth + start_match + start_nonelective
        or end_balance <> end_deferral + end_roth + end_match + end_nonelective
        or forfeitures <> forfeited_match + forfeited_nonelective
        or contributions < forfeiture_allocation
        or least(start_deferral, start_roth, start_match, start_nonelective,
                 end_deferral, end_roth, end_match, end_nonelective, forfeited_match, forfeited_nonelective,
                 distributions) < 0
        or (account_status in ('cashed_out', 'distributed') and end_balance <> 0)
        or (account_status = 'terminated_vested' and termination_date is null and contributions <> 0)
        or vested_balance > end_balance
),

carried as (
    -- an open account of year N-1 and its row in year N, when year N was simulated
    select
        earlier.scenario_id,
        earlier.random_seed,
        earlier.simulation_year + 1 as simulation_year,
        earlier.employee_id,
        'not carried into the next year' as problem
    from balances as earlier
    left join balances as later
        on
            later.scenario_id = earlier.scenario_id
            and later.random_seed = earlier.random_seed
            and later.simulation_year = earlier.simulation_year + 1
            and later.employee_id = earlier.employee_id
    where
        earlier.account_status in ('active', 'terminated_vested')
        and earlier.end_balance > 0
        and exists (
            select 1 from balances as next_year
            where
                next_year.scenario_id = earlier.scenario_id
                and next_year.random_seed = earlier.random_seed
                and next_year.simulation_year = earlier.simulation_year + 1
        )
        and (
            later.employee_id is null
            or later.start_deferral <> earlier.end_deferral
            or later.start_roth <> earlier.end_roth
            or later.start_match <> earlier.end_match
            or later.start_nonelective <> earlier.end_nonelective
        )
)

select * from broken_rows
union all
select * from carried
