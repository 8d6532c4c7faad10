{#- Where the vocabulary tables come from: the seeds shipped with the project (default), or a
    site's full OHDSI Athena download (var omop_vocabulary = 'athena', source athena_vocabulary).
    The choice is made at parse time, so dbt's lineage follows it.

    Athena ships the nine vocabulary tables below, not source_to_concept_map: that table holds
    the site's own mappings (here MIMIC gender, race, ethnicity and admission type to standard
    Gender/Race/Ethnicity/Visit concepts, whose ids are the same in every Athena release), so
    it stays the seed in both modes; a site edits seeds/clinical/vocab_source_to_concept_map.csv
    to change them.

    Athena does not ship the platform's local content either: the vocabularies listed in var
    omop_local_vocabularies (MIMIC d_labitems, MIMIC d_items, MIMIC drugs: the source codes of
    lab, chart and drug events; DataPlatform Local: the standard concepts they map to). So in
    athena mode each table is the download UNION ALL the seed rows local to the platform
    (omop_vocabulary__local_rows); a row the download already has (same key) is not added
    again, the download's wins. The seeds' other concepts (ICD9CM, ICD9Proc, Gender, ...) are
    not added: the download has the real ones. -#}
{% macro omop_vocabulary(table) -%}
    {%- set athena_tables = [
        'concept', 'vocabulary', 'domain', 'concept_class', 'concept_relationship',
        'relationship', 'concept_synonym', 'concept_ancestor', 'drug_strength'] -%}
    {%- if execute and var('omop_vocabulary') not in ['seed', 'athena'] -%}
        {{ exceptions.raise_compiler_error("var omop_vocabulary must be 'seed' or 'athena', not '" ~ var('omop_vocabulary') ~ "'") }}
    {%- endif -%}
    {%- if var('omop_vocabulary') == 'athena' and table in athena_tables -%}
        {%- set columns = omop_vocabulary__columns(table) | join(', ') -%}
(
    select {{ columns }} from {{ source('athena_vocabulary', table) }}
    union all
    select {{ columns }} from ({{ omop_vocabulary__local_rows(table) }}) as seed_local_{{ table }}
) as athena_and_local_{{ table }}
    {%- else -%}
        {{ ref('vocab_' ~ table) }}
    {%- endif -%}
{%- endmacro %}


{#- The CDM v5.4 columns of an Athena table, in the download's order. -#}
{% macro omop_vocabulary__columns(table) -%}
    {%- set columns = {
        'concept': ['concept_id', 'concept_name', 'domain_id', 'vocabulary_id', 'concept_class_id',
                    'standard_concept', 'concept_code', 'valid_start_date', 'valid_end_date', 'invalid_reason'],
        'vocabulary': ['vocabulary_id', 'vocabulary_name', 'vocabulary_reference', 'vocabulary_version',
                       'vocabulary_concept_id'],
        'domain': ['domain_id', 'domain_name', 'domain_concept_id'],
        'concept_class': ['concept_class_id', 'concept_class_name', 'concept_class_concept_id'],
        'concept_relationship': ['concept_id_1', 'concept_id_2', 'relationship_id', 'valid_start_date',
                                 'valid_end_date', 'invalid_reason'],
        'relationship': ['relationship_id', 'relationship_name', 'is_hierarchical', 'defines_ancestry',
                         'reverse_relationship_id', 'relationship_concept_id'],
        'concept_synonym': ['concept_id', 'concept_synonym_name', 'language_concept_id'],
        'concept_ancestor': ['ancestor_concept_id', 'descendant_concept_id', 'min_levels_of_separation',
                             'max_levels_of_separation'],
        'drug_strength': ['drug_concept_id', 'ingredient_concept_id', 'amount_value', 'amount_unit_concept_id',
                          'numerator_value', 'numerator_unit_concept_id', 'denominator_value',
                          'denominator_unit_concept_id', 'box_size', 'valid_start_date', 'valid_end_date',
                          'invalid_reason'],
    } -%}
    {{- return(columns[table]) -}}
{%- endmacro %}


{#- `<column> in (<var omop_local_vocabularies>)`, quoted; false when the list is empty. -#}
{% macro omop_vocabulary__in_local_vocabularies(column) -%}
    {%- set vocabularies = var('omop_local_vocabularies', []) -%}
    {%- if vocabularies is string -%}
        {{ exceptions.raise_compiler_error("var omop_local_vocabularies must be a list of vocabulary_id, not a string") }}
    {%- endif -%}
    {%- if vocabularies | length == 0 -%}
        1 = 0
    {%- else -%}
        {%- set quoted = [] -%}
        {%- for vocabulary in vocabularies -%}
            {%- do quoted.append("'" ~ (vocabulary | replace("'", "''")) ~ "'") -%}
        {%- endfor -%}
        {{ column }} in ({{ quoted | join(', ') }})
    {%- endif -%}
{%- endmacro %}


{#- Ids of the seed's local concepts: >= 2,000,000,000 (the range OMOP leaves to sites) and in a
    local vocabulary. Whether or not the download has them: that only decides which rows are
    added, not which relationships count as local. -#}
{% macro omop_vocabulary__local_concept_ids() -%}
select local_vocabulary_concept.concept_id
from {{ ref('vocab_concept') }} as local_vocabulary_concept
where
    local_vocabulary_concept.concept_id >= 2000000000
    and {{ omop_vocabulary__in_local_vocabularies('local_vocabulary_concept.vocabulary_id') }}
{%- endmacro %}


{#- The seed rows of `table` that athena mode adds to the download: the platform's local
    content, minus any row whose key the download already has.
      concept: the local concepts, and the seed's metadata concepts (ids >= 2,000,000,000) the
        vocabulary/domain/concept_class/relationship rows added below point to;
      concept_relationship, concept_ancestor, drug_strength: rows between two local concepts
        (both directions; the seeds' ICD9CM/ICD9Proc 'Maps to' rows are not local);
      concept_synonym: the synonyms of local concepts;
      vocabulary: the local vocabularies; domain, concept_class: those the local concepts use;
      relationship: those the local concept_relationship rows use.
    The metadata concepts' own vocabulary/domain/class (Vocabulary, Domain, Concept Class,
    Relationship, Metadata) are in every Athena download. -#}
{% macro omop_vocabulary__local_rows(table) -%}
    {%- set keys = {
        'concept': ['concept_id'],
        'vocabulary': ['vocabulary_id'],
        'domain': ['domain_id'],
        'concept_class': ['concept_class_id'],
        'relationship': ['relationship_id'],
        'concept_relationship': ['concept_id_1', 'concept_id_2', 'relationship_id'],
        'concept_ancestor': ['ancestor_concept_id', 'descendant_concept_id'],
        'concept_synonym': ['concept_id', 'concept_synonym_name', 'language_concept_id'],
        'drug_strength': ['drug_concept_id', 'ingredient_concept_id'],
    } -%}
    {%- set seed = 'seed_' ~ table -%}
    {%- set download = 'download_' ~ table -%}
    {%- set key_match = [] -%}
    {%- for key in keys[table] -%}
        {%- do key_match.append(download ~ '.' ~ key ~ ' = ' ~ seed ~ '.' ~ key) -%}
    {%- endfor -%}
select {{ seed }}.*
from {{ ref('vocab_' ~ table) }} as {{ seed }}
where
    not exists (
        select 1 from {{ source('athena_vocabulary', table) }} as {{ download }}
        where {{ key_match | join(' and ') }}
    )
    and
    {%- if table == 'concept' %} {{ seed }}.concept_id >= 2000000000 and (
        {{ omop_vocabulary__in_local_vocabularies(seed ~ '.vocabulary_id') }}
        or {{ seed }}.concept_id in (select vocabulary_concept_id from ({{ omop_vocabulary__local_rows('vocabulary') }}) as meta_vocabulary)
        or {{ seed }}.concept_id in (select domain_concept_id from ({{ omop_vocabulary__local_rows('domain') }}) as meta_domain)
        or {{ seed }}.concept_id in (select concept_class_concept_id from ({{ omop_vocabulary__local_rows('concept_class') }}) as meta_concept_class)
        or {{ seed }}.concept_id in (select relationship_concept_id from ({{ omop_vocabulary__local_rows('relationship') }}) as meta_relationship)
    )
    {%- elif table == 'vocabulary' %} {{ omop_vocabulary__in_local_vocabularies(seed ~ '.vocabulary_id') }}
    {%- elif table in ['domain', 'concept_class'] %} {{ seed }}.{{ table }}_id in (
        select used_{{ table }}.{{ table }}_id from {{ ref('vocab_concept') }} as used_{{ table }}
        where used_{{ table }}.concept_id in ({{ omop_vocabulary__local_concept_ids() }})
    )
    {%- elif table == 'relationship' %} {{ seed }}.relationship_id in (
        select used_relationship.relationship_id from {{ ref('vocab_concept_relationship') }} as used_relationship
        where
            used_relationship.concept_id_1 in ({{ omop_vocabulary__local_concept_ids() }})
            and used_relationship.concept_id_2 in ({{ omop_vocabulary__local_concept_ids() }})
    )
    {%- elif table == 'concept_relationship' %} {{ seed }}.concept_id_1 in ({{ omop_vocabulary__local_concept_ids() }})
    and {{ seed }}.concept_id_2 in ({{ omop_vocabulary__local_concept_ids() }})
    {%- elif table == 'concept_ancestor' %} {{ seed }}.ancestor_concept_id in ({{ omop_vocabulary__local_concept_ids() }})
    and {{ seed }}.descendant_concept_id in ({{ omop_vocabulary__local_concept_ids() }})
    {%- elif table == 'drug_strength' %} {{ seed }}.drug_concept_id in ({{ omop_vocabulary__local_concept_ids() }})
    and {{ seed }}.ingredient_concept_id in ({{ omop_vocabulary__local_concept_ids() }})
    {%- elif table == 'concept_synonym' %} {{ seed }}.concept_id in ({{ omop_vocabulary__local_concept_ids() }})
    {%- endif %}
{%- endmacro %}
