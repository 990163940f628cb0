-- A leaver forfeits exactly the non-vested part of the employer money held at
-- termination (IRC 411(a)), to the cent, at each source's vested share of the year: the
-- match (start + the year's match + its earnings) and the non-elective account (start +
-- core contribution + re-allocated forfeitures + its earnings); safe harbor money that
-- is not a QACA's is 100% vested (IRC 401(k)(12)); nobody else forfeits anything; and the
-- forfeitures a year holds are the year before's.
with snapshot as (
    select * from {{ ref('fct_workforce_snapshot') }}
),

plans as (
    select * from {{ ref('fct_year_plan') }}
)

select
    s.scenario_id,
    s.random_seed,
    s.simulation_year,
    s.employee_id,
    s.forfeited_match,
    s.forfeited_nonelective
from snapshot as s
inner join plans as p
    on p.scenario_id = s.scenario_id and p.random_seed = s.random_seed and p.simulation_year = s.simulation_year
where
    (
        s.termination_date is not null
        and (
            s.forfeited_match
            <> round((s.start_match + s.match_contribution + s.earnings_match) * (1 - s.match_vested_percent), 2)
            or s.forfeited_nonelective
            <> round((s.start_nonelective + s.core_contribution + s.forfeiture_allocation + s.earnings_nonelective)
                     * (1 - s.nonelective_vested_percent), 2)
        )
    )
    or (s.termination_date is null and s.forfeited_match + s.forfeited_nonelective <> 0)
    or (p.match_is_safe_harbor and p.safe_harbor_design not like 'qaca%' and s.match_vested_percent <> 1)
    or (p.safe_harbor_design = 'nonelective_3' and s.nonelective_vested_percent <> 1)

union all

select
    p.scenario_id,
    p.random_seed,
    p.simulation_year,
    'forfeitures_available' as employee_id,
    p.forfeitures_available,
    earlier.forfeitures
from plans as p
inner join (
    select scenario_id, random_seed, simulation_year, sum(forfeited_match + forfeited_nonelective) as forfeitures
    from snapshot
    group by scenario_id, random_seed, simulation_year
) as earlier
    on
        earlier.scenario_id = p.scenario_id
        and earlier.random_seed = p.random_seed
        and earlier.simulation_year = p.simulation_year - 1
where p.forfeitures_available <> earlier.forfeitures
