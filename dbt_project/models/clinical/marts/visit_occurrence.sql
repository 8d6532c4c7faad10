with

admissions as (
    select * from {{ ref('stg_mimic__admissions') }}
),

visit_types as (
    select * from {{ ref('source_to_concept_map') }}
    where source_vocabulary_id = 'MIMIC admission_type' and invalid_reason is null
),

final as (
    select
        admissions.hadm_id as visit_occurrence_id,
        admissions.subject_id as person_id,
        coalesce(visit_types.target_concept_id, 0) as visit_concept_id,
        cast(admissions.admittime as date) as visit_start_date,
        admissions.admittime as visit_start_datetime,
        cast(admissions.dischtime as date) as visit_end_date,
        admissions.dischtime as visit_end_datetime,
        32817 as visit_type_concept_id,
        cast(null as integer) as provider_id,
        cast(null as integer) as care_site_id,
        admissions.admission_type as visit_source_value,
        0 as visit_source_concept_id,
        0 as admitted_from_concept_id,
        admissions.admission_location as admitted_from_source_value,
        0 as discharged_to_concept_id,
        admissions.discharge_location as discharged_to_source_value,
        lag(admissions.hadm_id) over (
            partition by admissions.subject_id order by admissions.admittime, admissions.hadm_id
        ) as preceding_visit_occurrence_id
    from admissions
    left join visit_types on admissions.admission_type = visit_types.source_code
)

{{ cdm_select('final') }}
