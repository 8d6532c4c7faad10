{#- 8-byte floating point: `double` in DuckDB and Trino/Athena, `double precision` in Redshift. -#}
{% macro type_double() -%}{{ return(adapter.dispatch('type_double', 'dataplatform')()) }}{%- endmacro %}
{% macro default__type_double() -%}double{%- endmacro %}
{% macro redshift__type_double() -%}double precision{%- endmacro %}
