{{ config(materialized='year_table', tags=['yearly']) }}
{#-
  New hires of simulation_year, solved from the realised leavers so that active headcount
  on Dec 31 is exactly round(start_active x (1 + target_growth_rate)) whenever that needs
  hires (a target below the survivors is handled by int_yearly_experienced_changes):
    needed = target_end - people still employed at year end among the Jan 1 population
  Candidates are drawn in sequence (NH<year>_000001, ...) with their own hire date and
  new-hire termination draw, and hiring stops at the candidate who brings the number of
  hires still employed on Dec 31 to `needed`; so the new-hire leavers are a real
  binomial outcome while the target is met exactly.

  New-hire terminations are a constant hazard over the time employed: a hire with
  d days left in the year leaves within it with probability
  1 - (1 - new_hire_termination_rate)^(d / days in the year), so the configured rate is
  what a full-year cohort experiences and a Q4 hire has weeks, not a year, to leave.
  The same draw u gives the leaving date: after ln(1 - u) / ln(1 - rate) years.

  Level from config_job_levels.new_hire_mix; salary uniform between the level's range
  minimum and new_hire_max_position of the range (0.5 = the midpoint; hires are placed
  low in the range) of the year's moved ranges, times new_hire_salary_adjustment,
  clamped to the range; age at hire 22-55; hire date uniform in the year. A
  part_time_hire_rate share of hires is part-time, scheduled for part_time_annual_hours
  a year; the others have no schedule (credited 190 hours a month employed). Enrollment
  happens at plan entry (eligibility_ctes), not here.
  Each seed of the run (random_seed on every row) is sized and hired on its own, so
  seeds run side by side exactly as they would alone.
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set growth = num_var('target_growth_rate', -1, 10) -%}
{%- set nh_termination_rate = num_var('new_hire_termination_rate', 0, 0.99) -%}
{%- set part_time_hire_rate = num_var('part_time_hire_rate', 0, 1) -%}
{%- set levers = ref('comp_levers') -%}
{%- set year_start = "make_date(" ~ sim_year ~ ", 1, 1)" -%}
{%- set year_end = "make_date(" ~ sim_year ~ ", 12, 31)" -%}
{%- set days_in_year = "(date_diff('day', " ~ year_start ~ ", " ~ year_end ~ ") + 1)" -%}

with experienced as (
    select * from {{ ref('int_yearly_experienced_changes') }}
),

plan as (
    select
        random_seed,
        count(*) filter (where not is_terminated) as survivors,
        cast(round(count(*) * (1 + {{ growth }})) as integer) as target_end
    from experienced
    group by random_seed
),

sizing as (
    -- enough candidates that running short is practically impossible (the guard below
    -- fails loudly if it ever happens): about 1.25 x what the full-year rate implies
    select
        random_seed,
        greatest(target_end - survivors, 0) as needed,
        case when target_end > survivors
             then cast(ceil((target_end - survivors) / (1 - {{ nh_termination_rate }}) * 1.25) as integer) + 50
             else 0
        end as candidates
    from plan
),

ids as (
    select
        random_seed,
        hire_seq,
        'NH' || '{{ sim_year }}' || '_' || lpad(cast(hire_seq as varchar), 6, '0') as employee_id
    from (select random_seed, unnest(range(1, candidates + 1)) as hire_seq from sizing)
),

draws as (
    select
        i.*,
        {{ random_uniform('i.employee_id', 'hire_level') }} as u_level,
        {{ random_uniform('i.employee_id', 'hire_salary') }} as u_salary,
        {{ random_uniform('i.employee_id', 'hire_date') }} as u_hire_date,
        {{ random_uniform('i.employee_id', 'hire_age') }} as u_age,
        {{ random_uniform('i.employee_id', 'new_hire_termination') }} as u_nh_termination
    from ids as i
),

ranges as (
    {{ level_ranges(sim_year) }}
),

level_mix as (
    -- cumulative share of each level: a hire gets the level whose [lower, upper) holds u_level
    select
        level_id,
        range_min,
        range_max,
        new_hire_max_position,
        coalesce(sum(new_hire_mix) over (order by level_id rows between unbounded preceding and 1 preceding), 0)
            / sum(new_hire_mix) over () as lower_share,
        case when lead(level_id) over (order by level_id) is null then 2.0
             else sum(new_hire_mix) over (order by level_id rows between unbounded preceding and current row)
                  / sum(new_hire_mix) over ()
        end as upper_share
    from ranges
    where new_hire_mix > 0
),

year_levers as (
    {{ rows_as_of_plan_year(levers, sim_year) }}
),

hired as (
    select
        d.*,
        m.level_id,
        m.range_min,
        m.range_max,
        cast(least(greatest(
            round((m.range_min + d.u_salary * coalesce(m.new_hire_max_position, 1) * (m.range_max - m.range_min))
                  * coalesce(lv.new_hire_salary_adjustment, 1), 2),
            m.range_min), m.range_max) as decimal(14, 2)) as compensation,
        {{ year_start }} + cast(floor(d.u_hire_date * {{ days_in_year }}) as integer) as hire_date
    from draws as d
    inner join level_mix as m
        on d.u_level >= m.lower_share and d.u_level < m.upper_share
    left join year_levers as lv on lv.level_id = m.level_id
),

leaving as (
    select
        h.*,
        {%- if nh_termination_rate > 0 %}
        -- years until this hire would leave at the full-year hazard, from the same draw
        ln(1 - h.u_nh_termination) / ln(1 - {{ nh_termination_rate }}) as years_to_leave
        {%- else %}
        cast('infinity' as double) as years_to_leave
        {%- endif %}
    from hired as h
),

decided as (
    select
        l.*,
        l.years_to_leave * {{ days_in_year }} < date_diff('day', l.hire_date, {{ year_end }}) + 1 as is_terminated
    from leaving as l
),

counted as (
    select
        dc.*,
        sum(case when dc.is_terminated then 0 else 1 end)
            over (partition by dc.random_seed order by dc.hire_seq rows between unbounded preceding and current row)
            as stayers_through
    from decided as dc
),

guard as (
    select case
        when count(*) filter (where coalesce(c.reached, 0) < s.needed) > 0
            then error('int_yearly_new_hires: too few hire candidates for year {{ sim_year }}; report this as a bug')
        else true
    end as ok
    from sizing as s
    left join (
        select random_seed, max(stayers_through) as reached from counted group by random_seed
    ) as c on c.random_seed = s.random_seed
)

select
    c.random_seed,
    {{ sim_year }} as simulation_year,
    c.employee_id,
    c.hire_date - cast(floor((22 + c.u_age * 33) * 365.25) as integer) as birth_date,
    c.hire_date,
    c.level_id,
    c.range_min,
    c.range_max,
    c.compensation,
    c.is_terminated,
    case when c.is_terminated
         then c.hire_date + cast(floor(c.years_to_leave * {{ days_in_year }}) as integer)
    end as termination_date,
{%- if part_time_hire_rate > 0 %}
    cast(case when {{ random_uniform('c.employee_id', 'part_time') }} < {{ part_time_hire_rate }}
              then {{ int_var('part_time_annual_hours') }} end as decimal(8, 2)) as scheduled_annual_hours
{%- else %}
    cast(null as decimal(8, 2)) as scheduled_annual_hours
{%- endif %}
from counted as c
inner join sizing as s on s.random_seed = c.random_seed
cross join guard as g
where g.ok
  -- hire candidates up to the one whose stay reaches `needed`
  and c.stayers_through - (case when c.is_terminated then 0 else 1 end) < s.needed
