{#- Layers land in schemas named after them (staging, intermediate, marts): these
    schema-qualified names are the public interface, identical in every target. In `aws` each
    deployment's schemas carry its namespace (DATAPLATFORM_SCHEMA_PREFIX, set from the bucket
    prefix), so two deployments in one account never share a schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ env_var('DATAPLATFORM_SCHEMA_PREFIX', '') }}{%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
