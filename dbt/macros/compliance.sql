{#-
  The arithmetic of the nondiscrimination tests (DOMAIN.md "Nondiscrimination testing"),
  shared by fct_compliance_employees and fct_compliance.
-#}

{% macro nondiscrimination_limit(nhce_expr) -%}
  {#- The highest HCE average that passes the ADP test (IRC 401(k)(3)(A)(ii)) or the ACP
      test (401(m)(2)(A)) for an NHCE average `nhce_expr` (fractions): 1.25 x NHCE, or
      the lesser of 2 x NHCE and NHCE + 2 percentage points, whichever is higher. -#}
  greatest(1.25 * ({{ nhce_expr }}), least(2 * ({{ nhce_expr }}), ({{ nhce_expr }}) + 0.02))
{%- endmacro %}


{% macro nhce_average_to_pass(hce_expr) -%}
  {#- The lowest NHCE average whose limit (nondiscrimination_limit) reaches the HCE
      average `hce_expr`: the limit is 2 x NHCE up to an NHCE average of 2%, NHCE + 2 pp
      up to 8%, and 1.25 x NHCE above, so it is inverted piece by piece. -#}
  (case when ({{ hce_expr }}) <= 0.04 then ({{ hce_expr }}) / 2
        when ({{ hce_expr }}) <= 0.10 then ({{ hce_expr }}) - 0.02
        else ({{ hce_expr }}) / 1.25 end)
{%- endmacro %}


{% macro level_ctes(source, name) -%}
{#-
  The leveling that corrects a failed ADP or ACP test (Treas. Reg. 1.401(k)-2(b)(2)):
  the highest values are brought down to one level until the values sum to a target.

  `source` has random_seed, employee_id, level_value (a ratio, or dollars) and
  level_target (the sum the values must come down to, the same on every row of a seed).
  Emits CTEs (no trailing comma); the last one, `name`, has random_seed and level: the L
  for which the sum over the seed's rows of least(level_value, L) is level_target. With
  the values in descending order v1 >= v2 >= ... and the top k brought down,
  k x L + (v(k+1) + ... + vn) = target, so L = (target - the values after the k-th) / k;
  the level is the one of the smallest k that lands between v(k+1) and vk. A seed whose
  values already sum to no more than the target has no row.
-#}
{{ name }}__ordered as (
    select
        random_seed,
        level_value,
        level_target,
        row_number() over by_value as level_rank,
        sum(level_value) over (
            partition by random_seed order by level_value desc, employee_id
            rows between unbounded preceding and current row
        ) as level_prefix,
        sum(level_value) over (partition by random_seed) as level_total,
        lead(level_value) over by_value as next_value
    from {{ source }}
    window by_value as (partition by random_seed order by level_value desc, employee_id)
),

{{ name }}__candidates as (
    select
        random_seed,
        level_rank,
        level_total,
        level_target,
        next_value,
        level_value,
        (level_target - (level_total - level_prefix)) / level_rank as candidate
    from {{ name }}__ordered
),

{{ name }} as (
    select
        random_seed,
        min_by(candidate, level_rank) as level
    from {{ name }}__candidates
    where
        level_total > level_target + 1e-12
        and candidate <= level_value + 1e-12
        and (next_value is null or candidate >= next_value - 1e-12)
    group by random_seed
)
{%- endmacro %}


{% macro ratio_test_ctes(source, name) -%}
{#-
  The ADP and ACP tests per seed (IRC 401(k)(3), 401(m)(2); DOMAIN.md
  "Nondiscrimination testing"), from `source`: random_seed, test ('adp' or 'acp'),
  is_hce, ratio (the employee's actual deferral or contribution ratio; null when not
  eligible: eligible non-participants are in at 0%) and compensation.

  The NHCE average the limit is taken from (nhce_basis) is this year's under the
  current-year method; under the prior-year method (var testing_method) it is last
  year's NHCE average as fct_compliance recorded it, and var prior_year_nhce_percentage
  in start_year (IRC 401(k)(3)(E) deems 3% for a plan's first year). Emits CTEs (no
  trailing comma); the last one, `name`, has per random_seed and test: hce_count,
  nhce_count, hce_average, nhce_average, nhce_basis, limit_value, nhce_compensation,
  margin (limit - HCE average; positive passes) and passed. A test without eligible
  HCEs, or without an NHCE figure to compare with, passes with no margin.
-#}
{%- set sim_year = int_var('simulation_year') -%}
{%- set method = choice_var('testing_method', ['current_year', 'prior_year']) -%}
{%- set first_nhce = num_var('prior_year_nhce_percentage', 0, 1) -%}
{{ name }}__groups as (
    select
        random_seed,
        test,
        count(*) filter (where is_hce and ratio is not null) as hce_count,
        count(*) filter (where not is_hce and ratio is not null) as nhce_count,
        avg(ratio) filter (where is_hce) as hce_average,
        avg(ratio) filter (where not is_hce) as nhce_average,
        coalesce(sum(compensation) filter (where not is_hce and ratio is not null), 0) as nhce_compensation
    from {{ source }}
    group by random_seed, test
),

{{ name }}__basis as (
    select
        g.*,
        {%- if method == 'current_year' %}
        g.nhce_average as nhce_basis
        {%- elif sim_year == int_var('start_year') %}
        cast({{ first_nhce }} as double) as nhce_basis
        {%- else %}
        prior.nhce_value as nhce_basis
        {%- endif %}
    from {{ name }}__groups as g
    {%- if method == 'prior_year' and sim_year != int_var('start_year') %}
    left join {{ compliance_relation() }} as prior
        on
            prior.scenario_id = {{ scenario_literal() }}
            and prior.simulation_year = {{ sim_year - 1 }}
            and prior.random_seed = g.random_seed
            and prior.test = g.test
    {%- endif %}
),

{{ name }} as (
    select
        b.*,
        {{ nondiscrimination_limit('b.nhce_basis') }} as limit_value,
        case when b.hce_count > 0 then {{ nondiscrimination_limit('b.nhce_basis') }} - b.hce_average end as margin,
        coalesce(b.hce_count = 0 or b.hce_average <= {{ nondiscrimination_limit('b.nhce_basis') }} + 1e-9, true)
            as passed
    from {{ name }}__basis as b
)
{%- endmacro %}


{% macro compliance_relation() -%}
  {#- fct_compliance addressed without ref(): year N's prior-year method reads the NHCE
      averages fct_compliance recorded for year N-1 (downstream of the model reading it,
      so a ref would be a cycle). -#}
  {{- return(api.Relation.create(database=target.database, schema=target.schema, identifier='fct_compliance')) -}}
{%- endmacro %}


{% macro safe_harbor_deemed() -%}
  {#- Which tests the plan's safe harbor design (var safe_harbor_design) is deemed to pass
      (DOMAIN.md "Nondiscrimination testing"): ADP whenever the plan is safe harbor (IRC
      401(k)(12)); ACP when, besides, its match is the design's own (basic or enhanced,
      QACA or not) or, under a non-elective design, meets 401(m)(11)(B): no match on
      deferrals above 6% of pay, no rate rising with the deferral, at most 4% of pay in
      all (Treas. Reg. 1.401(m)-3(d)); top-heavy when the plan is then nothing but
      deferrals and safe harbor money (IRC 416(g)(4)(H)). Returns {adp, acp, top_heavy}. -#}
  {%- set design = safe_harbor_design() -%}
  {%- if design == 'none' -%}
    {{- return({'adp': false, 'acp': false, 'top_heavy': false}) -}}
  {%- endif -%}
  {%- set qualifies = namespace(value=true) -%}
  {%- if not design.endswith('_match') -%}
    {%- set formula = choice_var('match_formula', ['tiers', 'service_bands', 'points_bands']) -%}
    {%- set tier_lists = [match_tiers()] if formula == 'tiers' else match_bands() | map(attribute='tiers') | list -%}
    {%- for tiers in tier_lists -%}
      {%- set reach = namespace(lower=0.0, total=0.0, rate=none) -%}
      {%- for tier in tiers -%}
        {%- if tier.rate > 0 and (tier.up_to > 0.06 or (reach.rate is not none and tier.rate > reach.rate)) -%}
          {%- set qualifies.value = false -%}
        {%- endif -%}
        {%- set reach.total = reach.total + tier.rate * (tier.up_to - reach.lower) -%}
        {%- set reach.lower = tier.up_to -%}
        {%- set reach.rate = tier.rate -%}
      {%- endfor -%}
      {%- if reach.total > 0.04 + 1e-9 -%}
        {%- set qualifies.value = false -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {{- return({'adp': true, 'acp': qualifies.value, 'top_heavy': qualifies.value}) -}}
{%- endmacro %}
