{#- Every source concept of the vocabularies MIMIC codes come from, with each standard concept
    it 'Maps to' (one row per mapping). A source concept without a valid mapping keeps one row
    with target concept 0 and its own domain, so its records are still routed and loaded. -#}
with

concepts as (
    select * from {{ ref('concept') }}
),

relationships as (
    select * from {{ ref('concept_relationship') }}
),

source_concepts as (
    select
        concept_id as source_concept_id,
        vocabulary_id as source_vocabulary_id,
        concept_code as source_code,
        domain_id as source_domain_id
    from concepts
    where vocabulary_id in ({{ "'" ~ var('mimic_source_vocabularies') | join("', '") ~ "'" }})
),

valid_maps as (
    select
        relationships.concept_id_1 as source_concept_id,
        targets.concept_id as target_concept_id,
        targets.domain_id as target_domain_id
    from relationships
    inner join concepts as targets on relationships.concept_id_2 = targets.concept_id
    where
        relationships.relationship_id = 'Maps to'
        and relationships.invalid_reason is null
        and targets.standard_concept = 'S'
        and targets.invalid_reason is null
),

final as (
    select
        source_concepts.source_vocabulary_id,
        source_concepts.source_code,
        source_concepts.source_concept_id,
        coalesce(valid_maps.target_concept_id, 0) as target_concept_id,
        coalesce(valid_maps.target_domain_id, source_concepts.source_domain_id) as target_domain_id
    from source_concepts
    left join valid_maps on source_concepts.source_concept_id = valid_maps.source_concept_id
)

select * from final
