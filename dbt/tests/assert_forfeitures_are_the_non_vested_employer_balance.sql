-- A leaver forfeits exactly the non-vested part of the employer money held at
-- termination (IRC 411(a)), to the cent, at the vested_percent of the snapshot;
-- deferral and Roth money and a safe harbor match are never forfeited; nobody else
-- forfeits anything; the year's forfeitures are what the next year has to use.
with balances as (
    select * from {{ ref('fct_participant_balances') }}
),

plans as (
    select * from {{ ref('fct_year_plan') }}
)

select
    b.scenario_id,
    b.random_seed,
    b.simulation_year,
    b.employee_id,
    b.forfeited_match,
    b.forfeited_nonelective
from balances as b
inner join plans as p
    on p.scenario_id = b.scenario_id and p.random_seed = b.random_seed and p.simulation_year = b.simulation_year
left join {{ ref('fct_workforce_snapshot') }} as s
    on
        s.scenario_id = b.scenario_id
        and s.random_seed = b.random_seed
        and s.simulation_year = b.simulation_year
        and s.employee_id = b.employee_id
where
    (s.employee_id is not null and b.vested_percent <> s.vested_percent)
    or (s.employee_id is not null and (s.employment_status = 'terminated') <> (b.termination_date is not null))
    or (
        b.termination_date is not null
        and (
            b.forfeited_match <> case
                when p.match_is_safe_harbor then 0
                else round((b.start_match + b.contributions_match + b.earnings_match) * (1 - b.vested_percent), 2)
            end
            or b.forfeited_nonelective
            <> round((b.start_nonelective + b.forfeiture_allocation + b.earnings_nonelective) * (1 - b.vested_percent), 2)
        )
    )
    or (b.termination_date is null and b.forfeitures <> 0)

union all

-- the forfeitures a year holds are the year before's, for every seed
select
    p.scenario_id,
    p.random_seed,
    p.simulation_year,
    'forfeitures_available' as employee_id,
    p.forfeitures_available,
    earlier.forfeitures
from plans as p
inner join (
    select scenario_id, random_seed, simulation_year, sum(forfeitures) as forfeitures
    from balances
    group by scenario_id, random_seed, simulation_year
) as earlier
    on
        earlier.scenario_id = p.scenario_id
        and earlier.random_seed = p.random_seed
        and earlier.simulation_year = p.simulation_year - 1
where p.forfeitures_available <> earlier.forfeitures
