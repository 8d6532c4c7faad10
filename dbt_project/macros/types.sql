{#- 8-byte floating point: `double` in DuckDB and Trino/Athena, `double precision` in Redshift. -#}
{% macro type_double() -%}{{ return(adapter.dispatch('type_double', 'dataplatform')()) }}{%- endmacro %}
{% macro default__type_double() -%}double{%- endmacro %}
{% macro redshift__type_double() -%}double precision{%- endmacro %}

{#- Epoch seconds (with fractions) -> timestamp without time zone, in UTC. -#}
{% macro epoch_to_timestamp(expression) -%}{{ return(adapter.dispatch('epoch_to_timestamp', 'dataplatform')(expression)) }}{%- endmacro %}
{% macro default__epoch_to_timestamp(expression) -%}make_timestamp(cast({{ expression }} * 1000000 as bigint)){%- endmacro %}
{% macro athena__epoch_to_timestamp(expression) -%}from_unixtime({{ expression }}){%- endmacro %}
{% macro redshift__epoch_to_timestamp(expression) -%}(timestamp 'epoch' + {{ expression }} * interval '1 second'){%- endmacro %}
