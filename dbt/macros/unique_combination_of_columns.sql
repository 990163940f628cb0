{% test unique_combination_of_columns(model, combination_of_columns) %}
{#- Fails with one row per duplicated key combination (a local stand-in for dbt_utils). -#}
{%- set columns_csv = combination_of_columns | join(', ') %}
select {{ columns_csv }}, count(*) as n_records
from {{ model }}
group by {{ columns_csv }}
having count(*) > 1
{% endtest %}
