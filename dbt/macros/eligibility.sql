{% macro eligibility_ctes(name) -%}
{#-
  Hours, plan eligibility and entry, vesting service and the year's deferral elections of
  everyone employed in simulation_year (the Jan 1 population and the year's hires).
  Refs int_yearly_experienced_changes and int_yearly_new_hires.

  Hours (29 CFR 2530.200b-2/-3): an employee scheduled for H hours a year (census
  annual_hours or standard_weekly_hours x 52, or a part-time hire's
  part_time_annual_hours) works H x the share of the year employed; without a schedule,
  190 hours are credited for each month employed (the DOL monthly equivalency), 2,280
  in a full year. The schedule is the employee's for good: a 12-month period holds H
  hours (2,280 without a schedule).

  Eligibility to defer (IRC 410(a)(1)(A); var service_requirement, minimum_age):
  - none: from the hire date; elapsed_months: service_months after the hire date
    (elapsed time: hours do not matter);
  - one_year: a year of service, the 12 months from the hire date with 1,000 hours, so
    met on the first hire anniversary when H >= 1,000 and never otherwise;
  - long-term part-time (SECURE 2.0 s.125, var long_term_part_time, only with
    one_year): 500 hours in each of two consecutive 12-month periods, so met on the
    second anniversary when 500 <= H < 1,000, with entry no earlier than the 2025 plan
    year. Such employees may defer, but get no employer money (the plan excludes them,
    as SECURE 2.0 allows);
  - and age minimum_age (at most 21). The requirements are met on the later date; the
    employee enters on the plan's next entry date (next_entry_date, var entry_dates).
  Employer money (var employer_service_requirement): same as deferrals (without the
  long-term part-time path), or its own stricter rule: one_year, or two_years (IRC
  410(a)(1)(B)(i): only with immediate vesting, which the config enforces); never
  before the deferral entry date.

  Vesting service (IRC 411(a)(5)): plan years (calendar years) with at least 1,000
  hours, from the hire year to this year (the year of termination for a leaver); past
  years at the employee's schedule. With count_service_before_eligibility false, plan
  years before the year of entry do not count. vested_percent applies var schedule
  (vested_fraction) to that service.

  Elections, effective Jan 1 unless said otherwise, only for employees who can defer:
  - auto-escalation: participants deferring before Jan 1 and below escalation_cap get
    +escalation_rate, except a standing escalation_opt_out_rate share;
  - re-enrollment sweep (reenrollment_sweep): non-participants eligible before Jan 1 are
    enrolled at default_deferral_rate unless they opt out again (opt_out_rate, drawn
    every year);
  - auto-enrollment (auto_enrollment): whoever enters the plan this year without an
    election is enrolled at default_deferral_rate on the entry date (not the hire date)
    unless they opt out (opt_out_rate). With immediate entry that is the hire date.
  A census election before the entry date waits for it: deferrals start at entry
  (fct_workforce_snapshot prorates pay from it).

  Emits CTEs (no trailing comma) for fct_workforce_snapshot; the last one is called
  `name`: the snapshot's population (the Jan 1 population and the hires, with what the
  snapshot reports of them) with its hours, eligibility, vesting and elections. A macro,
  like contribution_ctes: computed once a year inside the snapshot's query, neither
  written as a table of its own nor compiled as a separate (ephemeral) node.
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set service = choice_var('service_requirement', ['none', 'elapsed_months', 'one_year']) -%}
{%- set employer_service = choice_var('employer_service_requirement', ['same', 'one_year', 'two_years']) -%}
{%- set long_term_part_time = bool_var('long_term_part_time') and service == 'one_year' -%}
{%- set count_prior_service = bool_var('count_service_before_eligibility') -%}
{%- set minimum_age = int_var('minimum_age') -%}
{%- set auto_enrollment = bool_var('auto_enrollment') -%}
{%- set auto_escalation = bool_var('auto_escalation') -%}
{%- set reenrollment_sweep = bool_var('reenrollment_sweep') -%}
{%- set default_deferral_rate = num_var('default_deferral_rate', 0, 1) -%}
{%- set year_start = "make_date(" ~ sim_year ~ ", 1, 1)" -%}
{%- set year_end = "make_date(" ~ sim_year ~ ", 12, 31)" -%}
{%- set days_in_year = "(date_diff('day', " ~ year_start ~ ", " ~ year_end ~ ") + 1)" -%}
{%- set full_year_hours = 2280 -%}

{{ name }}__workforce as (
    -- everyone employed in the year, with what fct_workforce_snapshot reports of them
    select
        random_seed,
        employee_id,
        birth_date,
        hire_date,
        termination_date,
        separation_type as termination_reason,
        false as is_new_hire,
        level_id,
        range_min as level_range_min,
        range_max as level_range_max,
        starting_compensation,
        compensation,
        prior_year_wages,
        scheduled_annual_hours,
        starting_deferral_rate,
        start_deferral,
        start_roth,
        start_match,
        start_nonelective
    from {{ ref('int_yearly_experienced_changes') }}

    union all

    select
        random_seed,
        employee_id,
        birth_date,
        hire_date,
        termination_date,
        case when is_terminated then 'new_hire' end as termination_reason,
        true as is_new_hire,
        level_id,
        range_min as level_range_min,
        range_max as level_range_max,
        compensation as starting_compensation,
        compensation,
        cast(0 as decimal(14, 2)) as prior_year_wages,
        scheduled_annual_hours,
        cast(0 as decimal(7, 4)) as starting_deferral_rate,
        cast(0 as decimal(14, 2)) as start_deferral,
        cast(0 as decimal(14, 2)) as start_roth,
        cast(0 as decimal(14, 2)) as start_match,
        cast(0 as decimal(14, 2)) as start_nonelective
    from {{ ref('int_yearly_new_hires') }}
),

{{ name }}__periods as (
    select
        w.*,
        greatest(w.hire_date, {{ year_start }}) as employed_from,
        coalesce(w.termination_date, {{ year_end }}) as employed_to,
        coalesce(w.scheduled_annual_hours, {{ full_year_hours }}) as hours_a_year,
        year(w.hire_date) as hire_year,
        -- hours of the hire year (up to the termination date when it falls in it)
        case
            when w.scheduled_annual_hours is null
                then 190 * (month(least(coalesce(w.termination_date, make_date(year(w.hire_date), 12, 31)),
                                        make_date(year(w.hire_date), 12, 31))) - month(w.hire_date) + 1)
            else round(w.scheduled_annual_hours
                       * (date_diff('day', w.hire_date, least(coalesce(w.termination_date, make_date(year(w.hire_date), 12, 31)),
                                                                make_date(year(w.hire_date), 12, 31))) + 1)
                       / (date_diff('day', make_date(year(w.hire_date), 1, 1), make_date(year(w.hire_date), 12, 31)) + 1))
        end as hire_year_hours,
        {{ 'w.birth_date' if minimum_age == 0 else 'cast(w.birth_date + interval ' ~ minimum_age ~ ' year as date)' }}
            as age_met_on
    from {{ name }}__workforce as w
),

{{ name }}__worked as (
    select
        p.*,
        cast(case
            when p.scheduled_annual_hours is null then 190 * (month(p.employed_to) - month(p.employed_from) + 1)
            else round(p.scheduled_annual_hours * (date_diff('day', p.employed_from, p.employed_to) + 1) / {{ days_in_year }})
        end as integer) as hours_worked,
        -- the date each service requirement is met (null: never, at the employee's schedule)
        {%- if service == 'none' %}
        p.hire_date as service_met_on,
        {%- elif service == 'elapsed_months' %}
        cast(p.hire_date + interval {{ int_var('service_months') }} month as date) as service_met_on,
        {%- else %}
        case when p.hours_a_year >= 1000 then cast(p.hire_date + interval 1 year as date) end as service_met_on,
        {%- endif %}
        {%- if long_term_part_time %}
        case when p.hours_a_year >= 500 and p.hours_a_year < 1000
             then cast(p.hire_date + interval 2 year as date) end as part_time_service_met_on,
        {%- else %}
        cast(null as date) as part_time_service_met_on,
        {%- endif %}
        -- employer money's own rule, when it has one (computed only then)
        {%- if employer_service == 'same' %}
        cast(null as date) as employer_service_met_on
        {%- else %}
        case when p.hours_a_year >= 1000
             then cast(p.hire_date + interval {{ 1 if employer_service == 'one_year' else 2 }} year as date) end
            as employer_service_met_on
        {%- endif %}
    from {{ name }}__periods as p
),

{{ name }}__entry as (
    select
        wk.*,
        {{ next_entry_date('case when wk.service_met_on is not null then greatest(wk.service_met_on, wk.age_met_on) end') }}
            as regular_entry_date,
        -- (greatest() skips nulls: each greatest below is guarded, so "never" stays null)
        case when wk.part_time_service_met_on is not null
             then greatest({{ next_entry_date('greatest(wk.part_time_service_met_on, wk.age_met_on)') }},
                           make_date(2025, 1, 1)) end as part_time_entry_date
    from {{ name }}__worked as wk
),

{{ name }}__entered as (
    select
        en.*,
        coalesce(en.regular_entry_date, en.part_time_entry_date) as eligibility_entry_date,
        en.regular_entry_date is null and en.part_time_entry_date is not null as is_long_term_part_time,
        {%- if employer_service == 'same' %}
        en.regular_entry_date as employer_entry_date
        {%- else %}
        case when en.regular_entry_date is not null and en.employer_service_met_on is not null
             then greatest(en.regular_entry_date,
                           {{ next_entry_date('greatest(en.employer_service_met_on, en.age_met_on)') }}) end
            as employer_entry_date
        {%- endif %}
    from {{ name }}__entry as en
),

{{ name }}__service as (
    -- plan years with 1,000 hours: the hire year, the full years between, this year
    select
        e.*,
        {%- if count_prior_service %}
        e.hire_year as first_counted_year
        {%- else %}
        case when e.eligibility_entry_date is null then {{ sim_year + 1 }}
             else greatest(e.hire_year, year(e.eligibility_entry_date)) end as first_counted_year
        {%- endif %}
    from {{ name }}__entered as e
),

{{ name }}__vesting as (
    select
        s.*,
        cast(
            case when s.hire_year < {{ sim_year }} and s.hire_year >= s.first_counted_year
                      and s.hire_year_hours >= 1000 then 1 else 0 end
            + case when s.hours_a_year >= 1000
                   then greatest({{ sim_year }} - greatest(s.first_counted_year, s.hire_year + 1), 0) else 0 end
            + case when {{ sim_year }} >= s.first_counted_year and s.hours_worked >= 1000 then 1 else 0 end
            as integer) as vesting_service_years
    from {{ name }}__service as s
),

{{ name }}__elections as (
    select
        v.*,
        v.eligibility_entry_date is not null and v.eligibility_entry_date <= v.employed_to as is_eligible,
        {% if auto_escalation or reenrollment_sweep or auto_enrollment -%}
        case
            {%- if auto_escalation %}
            when v.starting_deferral_rate > 0
                 and v.starting_deferral_rate < {{ num_var('escalation_cap', 0, 1) }}
                 and v.eligibility_entry_date < {{ year_start }}
                 and {{ random_uniform('v.employee_id', 'escalation_opt_out', year='standing') }}
                     >= {{ num_var('escalation_opt_out_rate', 0, 1) }}
                then 'escalation'
            {%- endif %}
            {%- if reenrollment_sweep %}
            when v.starting_deferral_rate = 0
                 and v.eligibility_entry_date < {{ year_start }}
                 and {{ random_uniform('v.employee_id', 'reenrollment_opt_out') }} >= {{ num_var('opt_out_rate', 0, 1) }}
                then 'reenrollment'
            {%- endif %}
            {%- if auto_enrollment %}
            when v.starting_deferral_rate = 0
                 and v.eligibility_entry_date between {{ year_start }} and v.employed_to
                 and {{ random_uniform('v.employee_id', 'opt_out') }} >= {{ num_var('opt_out_rate', 0, 1) }}
                then 'auto_enrollment'
            {%- endif %}
        end
        {%- else -%}
        cast(null as varchar)
        {%- endif %} as deferral_change
    from {{ name }}__vesting as v
),

{{ name }}__decided as (
    select
        el.*,
        cast(case el.deferral_change
            when 'escalation'
                then least(el.starting_deferral_rate + {{ num_var('escalation_rate', 0, 1) }},
                           {{ num_var('escalation_cap', 0, 1) }})
            when 'reenrollment' then {{ default_deferral_rate }}
            when 'auto_enrollment' then {{ default_deferral_rate }}
            else el.starting_deferral_rate
        end as decimal(7, 4)) as deferral_rate
    from {{ name }}__elections as el
),

{{ name }} as (
    select
        random_seed,
        employee_id,
        birth_date,
        hire_date,
        termination_date,
        termination_reason,
        is_new_hire,
        level_id,
        level_range_min,
        level_range_max,
        starting_compensation,
        compensation,
        prior_year_wages,
        start_deferral,
        start_roth,
        start_match,
        start_nonelective,
        employed_from,
        employed_to,
        scheduled_annual_hours,
        hours_worked,
        eligibility_entry_date,
        employer_entry_date,
        is_eligible,
        is_long_term_part_time,
        employer_entry_date is not null and employer_entry_date <= employed_to as is_employer_eligible,
        case when deferral_change = 'auto_enrollment' then eligibility_entry_date end as enrollment_date,
        vesting_service_years,
        {{ vested_fraction('vesting_service_years') }} as vested_percent,
        starting_deferral_rate,
        deferral_rate,
        -- an auto-enrollment enrolls even at a 0% default, as it always has
        is_eligible and (coalesce(deferral_change = 'auto_enrollment', false) or deferral_rate > 0) as enrolled,
        deferral_change
    from {{ name }}__decided
)
{%- endmacro %}
