{{ config(materialized='table', tags=['yearly']) }}
{#-
  New hires of simulation_year, sized so that active headcount on Dec 31 is exactly
  round(start_active x (1 + target_growth_rate)):
    needed = target_end - (start_active - experienced_terminations)
    hires  = round(needed / (1 - new_hire_termination_rate))
    new-hire terminations = hires - needed (lowest 'new_hire_termination' draws)
  Level from config_job_levels.new_hire_mix, salary uniform in the level's range times
  new_hire_salary_adjustment and clamped to the range, age at hire 22-55, hire date
  uniform in the year. With auto_enrollment, hires are enrolled at default_deferral_rate
  unless they opt out.
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set growth = num_var('target_growth_rate', -1, 10) -%}
{%- set nh_termination_rate = num_var('new_hire_termination_rate', 0, 0.99) -%}
{%- set auto_enrollment = bool_var('auto_enrollment') -%}
{%- set default_deferral_rate = num_var('default_deferral_rate', 0, 1) -%}
{%- set opt_out_rate = num_var('opt_out_rate', 0, 1) -%}
{%- set levers = ref('comp_levers') -%}
{%- set year_start = "make_date(" ~ sim_year ~ ", 1, 1)" -%}
{%- set year_end = "make_date(" ~ sim_year ~ ", 12, 31)" -%}
{%- set days_in_year = "date_diff('day', make_date(" ~ sim_year ~ ", 1, 1), make_date(" ~ sim_year ~ ", 12, 31)) + 1" -%}

with experienced as (
    select * from {{ ref('int_yearly_experienced_changes') }}
),

plan as (
    select
        count(*) as start_active,
        count(*) filter (where is_terminated) as experienced_terminations,
        cast(round(count(*) * (1 + {{ growth }})) as integer) as target_end
    from experienced
),

needs as (
    select
        *,
        greatest(target_end - (start_active - experienced_terminations), 0) as needed
    from plan
),

sizing as (
    select
        *,
        cast(round(needed / (1 - {{ nh_termination_rate }})) as integer) as total_hires
    from needs
),

sequence as (
    select unnest(range(1, total_hires + 1)) as hire_seq
    from sizing
),

ids as (
    select
        hire_seq,
        'NH' || '{{ sim_year }}' || '_' || lpad(cast(hire_seq as varchar), 6, '0') as employee_id
    from sequence
),

draws as (
    select
        i.*,
        {{ random_uniform('i.employee_id', 'hire_level') }} as u_level,
        {{ random_uniform('i.employee_id', 'hire_salary') }} as u_salary,
        {{ random_uniform('i.employee_id', 'hire_date') }} as u_hire_date,
        {{ random_uniform('i.employee_id', 'hire_age') }} as u_age,
        {{ random_uniform('i.employee_id', 'new_hire_termination') }} as u_nh_termination,
        {{ random_uniform('i.employee_id', 'new_hire_termination_date') }} as u_nh_termination_date,
        {{ random_uniform('i.employee_id', 'opt_out') }} as u_opt_out
    from ids as i
),

level_mix as (
    -- cumulative share of each level: a hire gets the level whose [lower, upper) holds u_level
    select
        level_id,
        min_compensation,
        max_compensation,
        coalesce(sum(new_hire_mix) over (order by level_id rows between unbounded preceding and 1 preceding), 0)
            / sum(new_hire_mix) over () as lower_share,
        case when lead(level_id) over (order by level_id) is null then 2.0
             else sum(new_hire_mix) over (order by level_id rows between unbounded preceding and current row)
                  / sum(new_hire_mix) over ()
        end as upper_share
    from {{ ref('config_job_levels') }}
    where new_hire_mix > 0
),

year_levers as (
    {{ rows_as_of_plan_year(levers, sim_year) }}
),

hired as (
    select
        d.*,
        m.level_id,
        cast(least(greatest(
            round((m.min_compensation + d.u_salary * (m.max_compensation - m.min_compensation))
                  * coalesce(lv.new_hire_salary_adjustment, 1), 2),
            m.min_compensation), m.max_compensation) as decimal(14, 2)) as compensation,
        {{ year_start }} + cast(floor(d.u_hire_date * ({{ days_in_year }})) as integer) as hire_date
    from draws as d
    inner join level_mix as m
        on d.u_level >= m.lower_share and d.u_level < m.upper_share
    left join year_levers as lv on lv.level_id = m.level_id
),

ranked as (
    select
        h.*,
        row_number() over (order by h.u_nh_termination, h.employee_id) as nh_termination_rank
    from hired as h
)

select
    {{ sim_year }} as simulation_year,
    r.employee_id,
    r.hire_date - cast(floor((22 + r.u_age * 33) * 365.25) as integer) as birth_date,
    r.hire_date,
    r.level_id,
    r.compensation,
    r.nh_termination_rank <= (s.total_hires - s.needed) as is_terminated,
    case when r.nh_termination_rank <= (s.total_hires - s.needed)
         then r.hire_date + cast(floor(r.u_nh_termination_date
                                       * (date_diff('day', r.hire_date, {{ year_end }}) + 1)) as integer)
    end as termination_date,
{%- if auto_enrollment %}
    r.u_opt_out >= {{ opt_out_rate }} as enrolled,
    cast(case when r.u_opt_out >= {{ opt_out_rate }} then {{ default_deferral_rate }} else 0 end
         as decimal(7, 4)) as deferral_rate
{%- else %}
    false as enrolled,
    cast(0 as decimal(7, 4)) as deferral_rate
{%- endif %}
from ranked as r
cross join sizing as s
order by r.employee_id
