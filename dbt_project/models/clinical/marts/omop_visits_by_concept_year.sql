{{ config(schema='omop_results') }}
{#- Achilles-style characterisation: visits and distinct persons per visit concept and start year. -#}
with

visits as (
    select * from {{ ref('visit_occurrence') }}
),

concepts as (
    select * from {{ ref('concept') }}
),

final as (
    select
        visits.visit_concept_id,
        coalesce(concepts.concept_name, 'No matching concept') as visit_concept_name,
        cast(extract(year from visits.visit_start_date) as integer) as visit_year,
        count(*) as visits,
        count(distinct visits.person_id) as persons
    from visits
    left join concepts on visits.visit_concept_id = concepts.concept_id
    group by 1, 2, 3
)

select * from final
