{#- Gender, race and ethnicity through source_to_concept_map (vocabularies 'MIMIC gender',
    'MIMIC race', 'MIMIC ethnicity'); MIMIC records race and ethnicity in one field of the
    admission, so the first admission's value is the person's. -#}
with

patients as (
    select * from {{ ref('stg_mimic__patients') }}
),

admissions as (
    select * from {{ ref('stg_mimic__admissions') }}
),

source_maps as (
    select * from {{ ref('source_to_concept_map') }}
    where invalid_reason is null
),

first_admissions as (
    select
        subject_id,
        ethnicity,
        row_number() over (partition by subject_id order by admittime, hadm_id) as admission_order
    from admissions
),

final as (
    select
        patients.subject_id as person_id,
        coalesce(genders.target_concept_id, 0) as gender_concept_id,
        extract(year from patients.dob) as year_of_birth,
        extract(month from patients.dob) as month_of_birth,
        extract(day from patients.dob) as day_of_birth,
        patients.dob as birth_datetime,
        coalesce(races.target_concept_id, 0) as race_concept_id,
        coalesce(ethnicities.target_concept_id, 0) as ethnicity_concept_id,
        1 as location_id,
        cast(null as integer) as provider_id,
        cast(null as integer) as care_site_id,
        cast(patients.subject_id as varchar) as person_source_value,
        patients.gender as gender_source_value,
        0 as gender_source_concept_id,
        first_admissions.ethnicity as race_source_value,
        0 as race_source_concept_id,
        first_admissions.ethnicity as ethnicity_source_value,
        0 as ethnicity_source_concept_id
    from patients
    left join first_admissions
        on
            patients.subject_id = first_admissions.subject_id
            and first_admissions.admission_order = 1
    left join source_maps as genders
        on genders.source_vocabulary_id = 'MIMIC gender' and patients.gender = genders.source_code
    left join source_maps as races
        on races.source_vocabulary_id = 'MIMIC race' and first_admissions.ethnicity = races.source_code
    left join source_maps as ethnicities
        on
            ethnicities.source_vocabulary_id = 'MIMIC ethnicity'
            and first_admissions.ethnicity = ethnicities.source_code
)

{{ cdm_select('final') }}
