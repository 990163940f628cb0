{% macro scenario_literal() -%}
  {#- The var scenario_id as a SQL string literal. The engine only passes names that
      match [a-z0-9][a-z0-9_-]* (planalign_orchestrator.scenarios); refusing anything
      else here too means no var value can ever carry SQL into a model. -#}
  {%- set name = var('scenario_id') | string -%}
  {%- if not modules.re.fullmatch('[a-z0-9][a-z0-9_-]{0,62}', name) -%}
    {{- exceptions.raise_compiler_error("var 'scenario_id' must match [a-z0-9][a-z0-9_-]*, got: " ~ name) -}}
  {%- endif -%}
  {{- "'" ~ name ~ "'" -}}
{%- endmacro %}
