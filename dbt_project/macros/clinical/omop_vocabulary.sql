{#- Where the vocabulary tables come from: the seeds shipped with the project (default), or a
    site's full OHDSI Athena download (var omop_vocabulary = 'athena', source athena_vocabulary).
    The choice is made at parse time, so dbt's lineage follows it.

    Athena ships the nine vocabulary tables below, not source_to_concept_map: that table holds
    the site's own mappings (here MIMIC gender, race, ethnicity and admission type to standard
    Gender/Race/Ethnicity/Visit concepts, whose ids are the same in every Athena release), so
    it stays the seed in both modes; a site edits seeds/clinical/vocab_source_to_concept_map.csv
    to change them. -#}
{% macro omop_vocabulary(table) -%}
    {%- set athena_tables = [
        'concept', 'vocabulary', 'domain', 'concept_class', 'concept_relationship',
        'relationship', 'concept_synonym', 'concept_ancestor', 'drug_strength'] -%}
    {%- if execute and var('omop_vocabulary') not in ['seed', 'athena'] -%}
        {{ exceptions.raise_compiler_error("var omop_vocabulary must be 'seed' or 'athena', not '" ~ var('omop_vocabulary') ~ "'") }}
    {%- endif -%}
    {%- if var('omop_vocabulary') == 'athena' and table in athena_tables -%}
        {{ source('athena_vocabulary', table) }}
    {%- else -%}
        {{ ref('vocab_' ~ table) }}
    {%- endif -%}
{%- endmacro %}
