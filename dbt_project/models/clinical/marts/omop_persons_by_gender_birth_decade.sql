{{ config(schema='omop_results') }}
{#- Achilles-style characterisation: persons per gender and decade of birth. -#}
with

persons as (
    select * from {{ ref('person') }}
),

concepts as (
    select * from {{ ref('concept') }}
),

final as (
    select
        persons.gender_concept_id,
        coalesce(concepts.concept_name, 'No matching concept') as gender_concept_name,
        cast(floor(persons.year_of_birth / 10) * 10 as integer) as birth_decade,
        count(*) as persons
    from persons
    left join concepts on persons.gender_concept_id = concepts.concept_id
    group by 1, 2, 3
)

select * from final
