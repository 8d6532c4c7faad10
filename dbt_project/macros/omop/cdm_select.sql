{#- The final select of a CDM model: every column of the model's YAML, in YAML order, cast
    to its data_type, so the types live in one place (the YAML generated from the OMOP spec):

        {{ cdm_select('final') }}

    `model.columns` (the YAML's columns, in YAML order) is only filled at compile/run time:
    while dbt parses a model the YAML is not attached yet, so then (and under sqlfluff) this
    renders `select * from <relation>`. A compiled model without YAML columns is an error. -#}
{% macro cdm_select(relation) -%}
    {%- set columns = model.columns.values() | list if model is defined and model.columns else [] -%}
    {%- if execute and not columns -%}
        {{ exceptions.raise_compiler_error("cdm_select: model " ~ model.name ~ " has no columns in its YAML") }}
    {%- endif -%}
select
{%- for column in columns %}
    cast({{ column.name }} as {{ column.data_type }}) as {{ column.name }}{{ "," if not loop.last }}
{%- else %}
    *
{%- endfor %}
from {{ relation }}
{%- endmacro %}
