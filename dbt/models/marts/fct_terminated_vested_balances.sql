{#-
  The accounts that stay in the plan after their employee left: one row per
  terminated-vested participant per simulation_year after the year they left (that year's
  account is in fct_workforce_snapshot, account_status 'terminated_vested').
  delete+insert on (scenario_id, simulation_year), one row set per random_seed.

  Year N starts from year N-1: the leavers of N-1 whose vested balance stayed in the plan
  (fct_workforce_snapshot) and the participants of this table still in it. Everything
  is vested (the rest was forfeited at termination). Each source earns the seed's
  investment_return (fct_year_plan) for the year; then a var distribution_rate share of
  the participants takes the whole balance on Dec 31 ('distributed', drawn per
  participant and year), the others stay ('terminated_vested'). start + earnings -
  distributions = end, to the cent (tests/assert_balances_roll_forward.sql).
  In start_year nobody has left yet: the table starts empty.
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set start_year = int_var('start_year') -%}
{%- set sources = ['deferral', 'roth', 'match', 'nonelective'] -%}
{#- refs stay unconditional: the dependencies dbt records at parse time are every year's -#}
{%- set snapshot = ref('fct_workforce_snapshot') -%}
{%- set plans = ref('fct_year_plan') -%}

with opening as (
    {%- if sim_year == start_year %}
    select
        cast(null as bigint) as random_seed,
        cast(null as varchar) as employee_id,
        {%- for source in sources %}
        cast(null as decimal(14, 2)) as start_{{ source }}{{ ',' if not loop.last }}
        {%- endfor %}
    where false
    {%- else %}
    {#- last year's leavers whose vested balance stayed (snapshot), and those this table carried -#}
    {%- for relation in [snapshot, prior_terminated_vested_relation()] %}
    select
        random_seed,
        employee_id,
        {%- for source in sources %}
        end_{{ source }} as start_{{ source }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ relation }}
    where
        scenario_id = {{ scenario_literal() }}
        and simulation_year = {{ sim_year - 1 }}
        and random_seed in (select sv.random_seed from {{ seed_values() }} as sv)
        and account_status = 'terminated_vested'
    {{- '\n\n    union all\n' if not loop.last }}
    {%- endfor %}
    {%- endif %}
),

earned as (
    select
        o.*,
        {%- for source in sources %}
        cast(round(o.start_{{ source }} * py.investment_return, 2) as decimal(14, 2)) as earnings_{{ source }},
        {%- endfor %}
        {{ random_uniform('o.employee_id', 'distribution') }} < {{ num_var('distribution_rate', 0, 1) }} as takes_it
    from opening as o
    inner join {{ plans }} as py
        on
            py.random_seed = o.random_seed
            and py.scenario_id = {{ scenario_literal() }}
            and py.simulation_year = {{ sim_year }}
)

select
    {{ scenario_literal() }} as scenario_id,
    random_seed,
    {{ sim_year }} as simulation_year,
    employee_id,
    case when takes_it then 'distributed' else 'terminated_vested' end as account_status,
    {%- for source in sources %}
    start_{{ source }},
    {%- endfor %}
    cast({% for source in sources %}earnings_{{ source }}{{ ' + ' if not loop.last }}{% endfor %} as decimal(16, 2))
        as earnings,
    cast(case when takes_it
              then {% for source in sources %}start_{{ source }} + earnings_{{ source }}{{ ' + ' if not loop.last }}{% endfor %}
              else 0 end as decimal(16, 2)) as distributions,
    {%- for source in sources %}
    cast(case when takes_it then 0 else start_{{ source }} + earnings_{{ source }} end as decimal(14, 2))
        as end_{{ source }}{{ ',' if not loop.last }}
    {%- endfor %}
from earned
