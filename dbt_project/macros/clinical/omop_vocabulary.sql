{#- Where the vocabulary tables come from: the seeds shipped with the project (default), or a
    site's full OHDSI Athena download (var omop_vocabulary = 'athena', source athena_vocabulary).
    The choice is made at parse time, so dbt's lineage follows it. -#}
{% macro omop_vocabulary(table) -%}
    {%- if var('omop_vocabulary') == 'athena' -%}
        {{ source('athena_vocabulary', table) }}
    {%- else -%}
        {{ ref('vocab_' ~ table) }}
    {%- endif -%}
{%- endmacro %}
