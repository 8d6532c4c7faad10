{#- Every OMOP data quality check (the generic tests tagged omop_dq) with the numbers its
    test computes: one row per check, table and field. It reads the CDM tables only through
    the checks, so dbt needs the dependencies spelled out: -#}
{%- for table in omop_cdm_tables() %}
-- depends_on: {{ ref(table) }}
{%- endfor %}

with results as (
    {{ omop_dq_results() }}
)

{{ cdm_select('results') }}
