{#- Whole days from one date to a later one (negative if earlier): dbt's datediff, except on Athena,
    where dbt-athena's version goes through to_milliseconds() of a date difference; Trino's own
    date_diff counts the days directly. -#}
{% macro days_between(first_date, second_date) -%}{{ return(adapter.dispatch('days_between', 'dataplatform')(first_date, second_date)) }}{%- endmacro %}
{% macro default__days_between(first_date, second_date) -%}{{ dbt.datediff(first_date, second_date, 'day') }}{%- endmacro %}
{% macro athena__days_between(first_date, second_date) -%}date_diff('day', {{ first_date }}, {{ second_date }}){%- endmacro %}
