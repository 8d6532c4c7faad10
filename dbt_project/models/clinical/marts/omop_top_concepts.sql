{{ config(schema='omop_results') }}
{#- Achilles-style characterisation: the 25 most frequent conditions, drugs and measurements
    by number of persons (ties broken by records, then concept id). Concept 0 is included: an
    unmapped code that is frequent is worth seeing. -#}
with

conditions as (
    select * from {{ ref('condition_occurrence') }}
),

drugs as (
    select * from {{ ref('drug_exposure') }}
),

measurements as (
    select * from {{ ref('measurement') }}
),

concepts as (
    select * from {{ ref('concept') }}
),

facts as (
    select
        'Condition' as domain_id,
        condition_concept_id as concept_id,
        person_id
    from conditions
    union all
    select
        'Drug' as domain_id,
        drug_concept_id as concept_id,
        person_id
    from drugs
    union all
    select
        'Measurement' as domain_id,
        measurement_concept_id as concept_id,
        person_id
    from measurements
),

counted as (
    select
        domain_id,
        concept_id,
        count(distinct person_id) as persons,
        count(*) as records
    from facts
    group by domain_id, concept_id
),

ranked as (
    select
        *,
        row_number() over (partition by domain_id order by persons desc, records desc, concept_id asc) as concept_rank
    from counted
),

final as (
    select
        ranked.domain_id,
        ranked.concept_rank,
        ranked.concept_id,
        coalesce(concepts.concept_name, 'No matching concept') as concept_name,
        ranked.persons,
        ranked.records
    from ranked
    left join concepts on ranked.concept_id = concepts.concept_id
    where ranked.concept_rank <= 25
)

select * from final
