-- Every account-year rolls forward to the cent: start + contributions + earnings -
-- distributions - forfeitures = end, for every employee (fct_workforce_snapshot) and
-- every terminated-vested participant of an earlier year (fct_terminated_vested_balances).
-- No account goes negative, a paid-out one ends at zero, and every account that stays
-- open starts the next simulated year (of its scenario and seed) with exactly the
-- balance of each source it ended with.
with snapshot as (
    select * from {{ ref('fct_workforce_snapshot') }}
),

terminated_vested as (
    select * from {{ ref('fct_terminated_vested_balances') }}
),

accounts as (
    select
        scenario_id,
        random_seed,
        simulation_year,
        employee_id,
        account_status,
        start_deferral,
        start_roth,
        start_match,
        start_nonelective,
        employee_contribution + employer_contribution + forfeiture_allocation as contributions,
        earnings,
        distributions,
        forfeited_match,
        forfeited_nonelective,
        end_deferral,
        end_roth,
        end_match,
        end_nonelective
    from snapshot

    union all

    select
        scenario_id,
        random_seed,
        simulation_year,
        employee_id,
        account_status,
        start_deferral,
        start_roth,
        start_match,
        start_nonelective,
        0 as contributions,
        earnings,
        distributions,
        0 as forfeited_match,
        0 as forfeited_nonelective,
        end_deferral,
        end_roth,
        end_match,
        end_nonelective
    from terminated_vested
),

broken_rows as (
    select
        scenario_id,
        random_seed,
        simulation_year,
        employee_id,
        'roll-forward' as problem
    from accounts
    where
        start_deferral + start_roth + start_match + start_nonelective + contributions + earnings
        - distributions - forfeited_match - forfeited_nonelective
        <> end_deferral + end_roth + end_match + end_nonelective
        or least(start_deferral, start_roth, start_match, start_nonelective,
                 end_deferral, end_roth, end_match, end_nonelective, forfeited_match, forfeited_nonelective,
                 distributions) < 0
        or (account_status in ('cashed_out', 'distributed') and end_deferral + end_roth + end_match + end_nonelective <> 0)
        or (account_status is null and end_deferral + end_roth + end_match + end_nonelective <> 0)
),

open_accounts as (
    -- every account open at a year end, and where it must be the next year
    select
        scenario_id,
        random_seed,
        simulation_year,
        employee_id,
        account_status = 'active' as employed,
        end_deferral,
        end_roth,
        end_match,
        end_nonelective
    from accounts
    where account_status in ('active', 'terminated_vested') and end_deferral + end_roth + end_match + end_nonelective > 0
),

next_years as (
    select distinct scenario_id, random_seed, simulation_year from snapshot
),

carried as (
    select
        earlier.scenario_id,
        earlier.random_seed,
        earlier.simulation_year + 1 as simulation_year,
        earlier.employee_id,
        'not carried into the next year' as problem
    from open_accounts as earlier
    inner join next_years as ny
        on
            ny.scenario_id = earlier.scenario_id
            and ny.random_seed = earlier.random_seed
            and ny.simulation_year = earlier.simulation_year + 1
    left join snapshot as employed_later
        on
            earlier.employed
            and employed_later.scenario_id = earlier.scenario_id
            and employed_later.random_seed = earlier.random_seed
            and employed_later.simulation_year = earlier.simulation_year + 1
            and employed_later.employee_id = earlier.employee_id
    left join terminated_vested as vested_later
        on
            not earlier.employed
            and vested_later.scenario_id = earlier.scenario_id
            and vested_later.random_seed = earlier.random_seed
            and vested_later.simulation_year = earlier.simulation_year + 1
            and vested_later.employee_id = earlier.employee_id
    where
        coalesce(employed_later.start_deferral, vested_later.start_deferral) is distinct from earlier.end_deferral
        or coalesce(employed_later.start_roth, vested_later.start_roth) is distinct from earlier.end_roth
        or coalesce(employed_later.start_match, vested_later.start_match) is distinct from earlier.end_match
        or coalesce(employed_later.start_nonelective, vested_later.start_nonelective)
        is distinct from earlier.end_nonelective
)

select * from broken_rows
union all
select * from carried
