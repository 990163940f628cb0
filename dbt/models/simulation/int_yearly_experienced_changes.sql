{{ config(materialized='table', tags=['yearly']) }}
{#-
  What happens in simulation_year to everyone employed on Jan 1:
  - experienced terminations: exactly round(termination_rate x headcount) people, those
    with the lowest 'termination' draw (ties by employee_id), on a random day of the year;
  - promotions (continuing employees below the top level): draw < promotion_probability,
    raise by promotion_raise, kept inside the new level's range (never a pay cut);
  - merit + COLA for every continuing employee, on top of any promotion.
  Promotions and raises are effective Jan 1; leavers get neither.
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set termination_rate = num_var('termination_rate', 0, 1) -%}
{%- set levers = ref('comp_levers') -%}
{%- set year_start = "make_date(" ~ sim_year ~ ", 1, 1)" -%}
{%- set days_in_year = "date_diff('day', make_date(" ~ sim_year ~ ", 1, 1), make_date(" ~ sim_year ~ ", 12, 31)) + 1" -%}

with population as (
    select * from {{ ref('int_yearly_starting_population') }}
),

year_levers as (
    {{ rows_as_of_plan_year(levers, sim_year) }}
),

levels as (
    select * from {{ ref('config_job_levels') }}
),

headcount as (
    select
        count(*) as start_active,
        cast(round({{ termination_rate }} * count(*)) as integer) as experienced_terminations
    from population
),

draws as (
    select
        p.*,
        {{ random_uniform('p.employee_id', 'termination') }} as u_termination,
        {{ random_uniform('p.employee_id', 'termination_date') }} as u_termination_date,
        {{ random_uniform('p.employee_id', 'promotion') }} as u_promotion
    from population as p
),

ranked as (
    select
        d.*,
        row_number() over (order by d.u_termination, d.employee_id) as termination_rank
    from draws as d
),

terminations as (
    select
        r.*,
        r.termination_rank <= h.experienced_terminations as is_terminated,
        case when r.termination_rank <= h.experienced_terminations
             then {{ year_start }} + cast(floor(r.u_termination_date * ({{ days_in_year }})) as integer)
        end as termination_date
    from ranked as r
    cross join headcount as h
),

promotions as (
    select
        t.*,
        coalesce(
            not t.is_terminated
            and t.level_id < (select max(level_id) from levels)
            and t.u_promotion < {{ lever_value('promotion_probability', 'lv.promotion_probability') }},
            false
        ) as is_promoted,
        {{ lever_value('promotion_raise', 'lv.promotion_raise', 0, 10) }} as promotion_raise
    from terminations as t
    left join year_levers as lv on lv.level_id = t.level_id
),

promoted as (
    select
        p.*,
        case when p.is_promoted then p.level_id + 1 else p.level_id end as end_level_id,
        cast(case
            when p.is_promoted then greatest(
                p.starting_compensation,
                least(greatest(round(p.starting_compensation * (1 + p.promotion_raise), 2),
                               nl.min_compensation),
                      nl.max_compensation))
            else p.starting_compensation
        end as decimal(14, 2)) as promoted_compensation
    from promotions as p
    left join levels as nl on nl.level_id = p.level_id + 1
),

raised as (
    select
        pr.*,
        cast(case when pr.is_terminated then 0
                  else coalesce({{ lever_value('merit_rate', 'lv.merit_base', -1, 10) }}, 0) end as decimal(7, 4)) as merit_rate,
        cast(case when pr.is_terminated then 0
                  else coalesce({{ lever_value('cola_rate', 'lv.cola_rate', -1, 10) }}, 0) end as decimal(7, 4)) as cola_rate
    from promoted as pr
    left join year_levers as lv on lv.level_id = pr.end_level_id
)

select
    {{ sim_year }} as simulation_year,
    employee_id,
    birth_date,
    hire_date,
    level_id as starting_level_id,
    end_level_id as level_id,
    starting_compensation,
    promoted_compensation,
    cast(round(promoted_compensation * (1 + merit_rate + cola_rate), 2) as decimal(14, 2)) as compensation,
    merit_rate,
    cola_rate,
    is_promoted,
    is_terminated,
    termination_date,
    deferral_rate
from raised
order by employee_id
