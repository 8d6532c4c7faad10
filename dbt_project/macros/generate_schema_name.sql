{#- Layers land in schemas named after them (staging, intermediate, marts): these
    schema-qualified names are the public interface, identical in every target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
