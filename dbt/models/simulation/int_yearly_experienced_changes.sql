{{ config(materialized='year_table', tags=['yearly']) }}
{#-
  What happens in simulation_year to everyone employed on Jan 1.

  Who leaves (at most one separation each, in this order):
  - census: a census termination date inside the year is respected; the employee
    leaves on that date and takes no part in the draws below.
  - retirement: probability config_retirement_rates.retirement_rate at the age reached
    on Dec 31 (ages past the seed's last row use its last rate); above var
    max_working_age it is 1, a sanity bound on the seed, not the mechanism.
  - termination: probability base x tenure multiplier (config_tenure_bands, tenure on
    Jan 1) x age multiplier (config_age_bands, age on Dec 31) x level factor
    (config_job_levels.termination_factor), at most 1. A fitted scenario may replace the
    three tables and the retirement rates row by row (vars tenure_termination_multipliers,
    age_termination_multipliers, level_termination_factors, retirement_rates: lists in
    the seed's id order, null = the seed; seed_override()). The base is calibrated every year
    so that expected retirements plus expected terminations equal var
    termination_rate x the people who are not census leavers.
    Both are drawn per employee (binomial), so the count varies with random_seed.
    Every row carries its random_seed, and everything counted (calibration, the
    headcount plan, reductions, promotion and merit norms) is counted per seed: the
    seeds of an ensemble run side by side, each exactly as if it ran alone.
    A leaver's date is spread uniformly over the year (the draw, rescaled).
  - reduction_in_force: when the survivors outnumber the growth target
    round(start_active x (1 + target_growth_rate)) and var allow_layoffs is true, the
    excess survivors with the lowest 'reduction_in_force' draws, their dates spread
    evenly over the year. With allow_layoffs false nobody is laid off and the target
    is missed (fct_year_plan records by how much).

  Pay, effective Jan 1 (the rule for stayers and leavers alike: every Jan 1 action
  applies to everyone employed on Jan 1, so a leaver's pay at termination includes it):
  - ranges move by the structure increase (level_ranges());
  - promotion one level up with probability promotion_probability (var, every level), else
    the level's value of var promotion_probabilities (a list by level_id), else the
    comp_levers rate of the plan year: raise by the lever
    promotion_raise (kept at or under the new range's maximum, never a cut); only when
    that falls short of the new range's minimum is pay raised to the minimum, reported
    separately (promotion_compensation vs promoted_compensation);
  - merit + COLA: the level's merit budget (merit_base) spread by compa-ratio
    (config_compa_ratio_bands weights, normalised to average 1 within each level), so pay
    low in the range rises faster; merit never lifts pay above the range maximum, COLA
    applies to all.

  The deferral election, the scheduled hours and the accounts are carried through as
  they were on Jan 1; the year's plan elections (escalation, sweep, auto-enrollment at entry) are
  eligibility_ctes's (in the snapshot), which knows who may defer.
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set termination_rate = num_var('termination_rate', 0, 1) -%}
{%- set growth = num_var('target_growth_rate', -1, 10) -%}
{%- set allow_layoffs = bool_var('allow_layoffs') -%}
{%- set max_working_age = int_var('max_working_age') -%}
{%- set levers = ref('comp_levers') -%}
{%- set year_start = "make_date(" ~ sim_year ~ ", 1, 1)" -%}
{%- set year_end = "make_date(" ~ sim_year ~ ", 12, 31)" -%}
{%- set days_in_year = "(date_diff('day', " ~ year_start ~ ", " ~ year_end ~ ") + 1)" -%}

with population as (
    select * from {{ ref('int_yearly_starting_population') }}
),

year_levers as (
    {{ rows_as_of_plan_year(levers, sim_year) }}
),

ranges as (
    {{ level_ranges(sim_year) }}
),

retirement_rates as (
    select * from {{ ref('config_retirement_rates') }}
),

measured as (
    select
        p.*,
        {{ years_between('p.birth_date', year_end) }} as age,
        {{ years_between('p.hire_date', year_start) }} as tenure_at_start,
        coalesce(p.census_termination_date <= {{ year_end }}, false) as leaves_per_census
    from population as p
),

hazards as (
    select
        m.*,
        case
            when m.leaves_per_census then 0
            when m.age > {{ max_working_age }} then 1
            else coalesce(rro.override_value, rr.retirement_rate, 0)
        end as retirement_probability,
        case
            when m.leaves_per_census then 0
            else coalesce(tbo.override_value, tb.termination_multiplier, 1)
                 * coalesce(abo.override_value, ab.termination_multiplier, 1)
                 * coalesce(lfo.override_value, lvl.termination_factor, 1)
        end as termination_weight,
        m.starting_compensation / lvl.range_midpoint as starting_compa_ratio
    from measured as m
    left join {{ band_lookup(ref('config_tenure_bands')) }} as tb
        on tb.band_value = m.tenure_at_start
    left join {{ band_lookup(ref('config_age_bands')) }} as ab
        on ab.band_value = m.age
    left join ranges as lvl
        on lvl.level_id = m.level_id
    left join retirement_rates as rr
        on rr.age = least(m.age, (select max(age) from retirement_rates))
    left join {{ seed_override(ref('config_tenure_bands'), 'band_id', 'tenure_termination_multipliers', 20) }} as tbo
        on tbo.override_id = tb.band_id
    left join {{ seed_override(ref('config_age_bands'), 'band_id', 'age_termination_multipliers', 20) }} as abo
        on abo.override_id = ab.band_id
    left join {{ seed_override(ref('config_job_levels'), 'level_id', 'level_termination_factors', 20) }} as lfo
        on lfo.override_id = m.level_id
    left join {{ seed_override(ref('config_retirement_rates'), 'age', 'retirement_rates', 1) }} as rro
        on rro.override_id = rr.age
),

calibration as (
    -- base rate: expected retirements + expected terminations = termination_rate x eligible
    select
        random_seed,
        greatest({{ termination_rate }} * count(*) filter (where not leaves_per_census)
                 - sum(retirement_probability), 0)
        / nullif(sum((1 - retirement_probability) * termination_weight), 0) as base_rate
    from hazards
    group by random_seed
),

draws as (
    select
        h.*,
        least(coalesce(c.base_rate, 0) * h.termination_weight, 1) as termination_probability,
        case when not h.leaves_per_census then {{ random_uniform('h.employee_id', 'separation') }} end as u_separation
    from hazards as h
    inner join calibration as c on c.random_seed = h.random_seed
),

separations as (
    -- One draw decides both competing risks: [0, p_retire) retires, the next
    -- (1 - p_retire) x p_terminate of [0, 1) terminates; where the draw falls inside its
    -- stretch dates the separation, uniformly over the year.
    select
        d.*,
        case
            when d.leaves_per_census then 'census'
            when d.u_separation < d.retirement_probability then 'retirement'
            when d.u_separation < d.retirement_probability + (1 - d.retirement_probability) * d.termination_probability
                then 'termination'
        end as drawn_separation,
        case
            when d.leaves_per_census then d.census_termination_date
            when d.u_separation < d.retirement_probability
                then {{ year_start }} + cast(floor(d.u_separation / d.retirement_probability * {{ days_in_year }}) as integer)
            when d.u_separation < d.retirement_probability + (1 - d.retirement_probability) * d.termination_probability
                then {{ year_start }} + cast(floor((d.u_separation - d.retirement_probability)
                                                   / ((1 - d.retirement_probability) * d.termination_probability)
                                                   * {{ days_in_year }}) as integer)
        end as drawn_termination_date
    from draws as d
),

headcount_plan as (
    select
        random_seed,
        count(*) as start_active,
        count(*) filter (where drawn_separation is null) as survivors,
        cast(round(count(*) * (1 + {{ growth }})) as integer) as target_end
    from separations
    group by random_seed
),

reductions as (
    select
        random_seed,
        {% if allow_layoffs -%}
        greatest(survivors - target_end, 0)
        {%- else -%}
        0
        {%- endif %} as reductions_in_force
    from headcount_plan
),

laid_off as (
    -- only in a year with reductions in force: the survivors with the lowest draws, their
    -- dates spread evenly over the year
    select
        ranked.random_seed,
        ranked.employee_id,
        {{ year_start }} + cast(floor((ranked.reduction_rank - 0.5) / ranked.reductions_in_force * {{ days_in_year }})
                                as integer) as termination_date
    from (
        select
            s.random_seed,
            s.employee_id,
            r.reductions_in_force,
            row_number() over (
                partition by s.random_seed
                order by {{ random_uniform('s.employee_id', 'reduction_in_force') }}, s.employee_id
            ) as reduction_rank
        from separations as s
        inner join reductions as r on r.random_seed = s.random_seed
        where r.reductions_in_force > 0 and s.drawn_separation is null
    ) as ranked
    where ranked.reduction_rank <= ranked.reductions_in_force
),

separated as (
    select
        s.*,
        coalesce(s.drawn_separation, case when lo.employee_id is not null then 'reduction_in_force' end)
            as separation_type,
        coalesce(s.drawn_termination_date, lo.termination_date) as termination_date
    from separations as s
    left join laid_off as lo on lo.random_seed = s.random_seed and lo.employee_id = s.employee_id
),

promotion_candidates as (
    select
        s.*,
        coalesce(cb.promotion_weight, 1) as promotion_weight,
        case when s.level_id < (select max(level_id) from ranges) and coalesce(cb.promotion_weight, 1) > 0
             then {{ random_uniform('s.employee_id', 'promotion') }} end as u_promotion,
        {{ lever_value('promotion_probability', 'coalesce(ppo.override_value, lv.promotion_probability)') }}
            as promotion_rate,
        {{ lever_value('promotion_raise', 'lv.promotion_raise', 0, 10) }} as promotion_raise
    from separated as s
    left join year_levers as lv on lv.level_id = s.level_id
    left join {{ seed_override(ref('config_job_levels'), 'level_id', 'promotion_probabilities', 1) }} as ppo
        on ppo.override_id = s.level_id
    left join {{ compa_band_lookup() }} as cb
        on cb.compa_pct = {{ compa_pct('s.starting_compa_ratio') }}
),

promotion_norms as (
    select random_seed, level_id, avg(promotion_weight) as mean_promotion_weight
    from promotion_candidates
    group by random_seed, level_id
),

promotions as (
    -- the level's promotion rate, spread by pay position: weights average 1 within the level
    select
        pc.*,
        coalesce(pc.u_promotion < pc.promotion_rate * pc.promotion_weight / pn.mean_promotion_weight, false)
            as is_promoted
    from promotion_candidates as pc
    inner join promotion_norms as pn on pn.random_seed = pc.random_seed and pn.level_id = pc.level_id
),

promoted as (
    select
        p.*,
        case when p.is_promoted then p.level_id + 1 else p.level_id end as end_level_id,
        cast(case
            when p.is_promoted
                then greatest(p.starting_compensation,
                              least(round(p.starting_compensation * (1 + p.promotion_raise), 2), nl.range_max))
            else p.starting_compensation
        end as decimal(14, 2)) as promotion_compensation,
        nl.range_min as next_range_min
    from promotions as p
    left join ranges as nl on nl.level_id = p.level_id + 1
),

positioned as (
    select
        pr.*,
        cast(case when pr.is_promoted then greatest(pr.promotion_compensation, pr.next_range_min)
                  else pr.promotion_compensation end as decimal(14, 2)) as promoted_compensation,
        el.range_min,
        el.range_max,
        el.range_midpoint,
        coalesce({{ lever_value('merit_rate', 'lv.merit_base', -1, 10) }}, 0) as merit_budget,
        coalesce({{ lever_value('cola_rate', 'lv.cola_rate', -1, 10) }}, 0) as cola
    from promoted as pr
    left join ranges as el on el.level_id = pr.end_level_id
    left join year_levers as lv on lv.level_id = pr.end_level_id
),

weighted as (
    select
        po.*,
        coalesce(mm.merit_weight, 1) as merit_weight
    from positioned as po
    left join {{ compa_band_lookup() }} as mm
        on mm.compa_pct = {{ compa_pct('po.promoted_compensation / po.range_midpoint') }}
),

merit_norms as (
    select random_seed, end_level_id, avg(merit_weight) as mean_merit_weight
    from weighted
    group by random_seed, end_level_id
),

raised as (
    select
        w.*,
        cast(round(least(
            w.promoted_compensation * (1 + w.cola + w.merit_budget * w.merit_weight / mn.mean_merit_weight),
            -- COLA alone may keep pay above the maximum only if it was there already (the
            -- cent of slack keeps pay that sat at last year's maximum from rounding past this one)
            case when w.promoted_compensation * (1 + w.cola) > w.range_max + 0.01
                 then w.promoted_compensation * (1 + w.cola) else w.range_max end
        ), 2) as decimal(14, 2)) as compensation
    from weighted as w
    inner join merit_norms as mn on mn.random_seed = w.random_seed and mn.end_level_id = w.end_level_id
)

select
    random_seed,
    {{ sim_year }} as simulation_year,
    employee_id,
    birth_date,
    hire_date,
    cast(age as integer) as age,
    cast(tenure_at_start as integer) as tenure_at_start,
    level_id as starting_level_id,
    end_level_id as level_id,
    range_min,
    range_max,
    starting_compensation,
    promotion_compensation,
    promoted_compensation,
    compensation,
    cast(compensation / promoted_compensation - 1 - cola as decimal(7, 4)) as merit_rate,
    cast(cola as decimal(7, 4)) as cola_rate,
    is_promoted,
    cast(retirement_probability as double) as retirement_probability,
    cast(termination_probability as double) as termination_probability,
    separation_type,
    separation_type is not null as is_terminated,
    termination_date,
    prior_year_wages,
    deferral_rate as starting_deferral_rate,
    scheduled_annual_hours,
    start_deferral,
    start_roth,
    start_match,
    start_nonelective
from raised
