{#-
  The yearly models' two materializations. A simulated year runs every yearly model once,
  so what dbt does around each model's SQL is paid ten times a year: with dbt-duckdb's own
  table and incremental materializations that was about half of a small workspace's year
  (a temporary copy of every fact slice, two column listings, renames and drops of
  backup tables), and at scale the temporary copy doubled the rows written. These do
  the same work in one statement each, inside one transaction per model, so a failure
  (a full disk, an interrupt) rolls the model back as before.
-#}

{% materialization year_table, adapter='duckdb' %}
{#-
  A table rebuilt whole each year (the simulation's intermediate steps). CREATE OR
  REPLACE is atomic in DuckDB: until the transaction commits, readers see the old table.
-#}
  {%- set target = this.incorporate(type='table') -%}
  {%- set existing = load_cached_relation(this) -%}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {%- do replace_year_table(target, existing, compiled_code) -%}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do adapter.commit() %}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target]}) }}
{% endmaterialization %}

{% materialization year_slice, adapter='duckdb' %}
{#-
  A fact table holding every scenario's years: the run replaces its own slice,
  (scenario_id, simulation_year) = (var scenario_id, var simulation_year), and leaves
  the rest. The delete names the slice by literals, so DuckDB skips the row groups of
  other years by their min/max and a year's cost does not grow with the history; the
  insert goes straight from the model's query (by column name) into the table. A
  model whose columns changed has the table's columns brought in line first (new ones
  added, dropped ones removed, changed types altered: dbt's sync_all_columns), so the
  other slices keep their rows. The engine passes slice_columns_checked for the later
  years of one run, whose first year already brought them in line with the same code:
  the check binds the whole query (about 10 ms a model, every year). A full refresh,
  or a table not there yet, builds the table from this slice alone.
-#}
  {%- set target = this.incorporate(type='table') -%}
  {%- set existing = load_cached_relation(this) -%}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {%- if existing is none or existing.is_view or should_full_refresh() -%}
    {%- do replace_year_table(target, existing, compiled_code) -%}
  {%- else -%}
    {%- if not var('slice_columns_checked', false) -%}
      {%- do sync_slice_columns(target, compiled_code) -%}
    {%- endif -%}
    {% call statement('main') -%}
      delete from {{ target }}
      where scenario_id = {{ scenario_literal() }} and simulation_year = {{ int_var('simulation_year') }};
      insert into {{ target }} by name (
        {{ compiled_code }}
      )
    {%- endcall %}
  {%- endif %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do adapter.commit() %}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target]}) }}
{% endmaterialization %}

{% macro replace_year_table(target, existing, query) %}
{#- The table as this query's rows alone (a view of the same name is dropped first). -#}
  {%- if existing is not none and not existing.is_table -%}
    {{ drop_relation_if_exists(existing) }}
  {%- endif %}
  {% call statement('main') -%}
    create or replace table {{ target }} as (
      {{ query }}
    )
  {%- endcall %}
{% endmacro %}

{% macro sync_slice_columns(target, query) %}
{#-
  Bring the table's columns in line with the query's, in one round trip when nothing
  changed: DESCRIBE of the query binds it without running it.
-#}
  {%- set differences = run_query(
      "select coalesce(q.column_name, t.column_name) as column_name, q.column_type as wanted, t.data_type as present"
      ~ " from (describe (" ~ query ~ ")) as q"
      ~ " full outer join (select column_name, data_type from duckdb_columns()"
      ~ " where database_name = '" ~ target.database ~ "' and schema_name = '" ~ target.schema ~ "'"
      ~ " and table_name = '" ~ target.identifier ~ "') as t on q.column_name = t.column_name"
      ~ " where q.column_type is distinct from t.data_type"
  ) -%}
  {%- for row in differences.rows -%}
    {%- set column = adapter.quote(row['column_name']) -%}
    {%- if row['present'] is none -%}
      {%- do run_query("alter table " ~ target ~ " add column " ~ column ~ " " ~ row['wanted']) -%}
    {%- elif row['wanted'] is none -%}
      {%- do run_query("alter table " ~ target ~ " drop column " ~ column) -%}
    {%- else -%}
      {%- do run_query("alter table " ~ target ~ " alter column " ~ column ~ " type " ~ row['wanted']) -%}
    {%- endif -%}
  {%- endfor -%}
{% endmacro %}
