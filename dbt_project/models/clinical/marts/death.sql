{#- One row per deceased patient: the date from PATIENTS.DOD; the time from the admission in
    which the patient died, when there is one. Hospital records are EHR, others the SSN index. -#}
with

patients as (
    select * from {{ ref('stg_mimic__patients') }}
),

admissions as (
    select * from {{ ref('stg_mimic__admissions') }}
),

hospital_deaths as (
    select
        subject_id,
        max(deathtime) as deathtime
    from admissions
    where deathtime is not null
    group by subject_id
),

final as (
    select
        patients.subject_id as person_id,
        cast(patients.dod as date) as death_date,
        coalesce(hospital_deaths.deathtime, patients.dod) as death_datetime,
        case when patients.dod_hosp is not null then 32817 else 32815 end as death_type_concept_id,
        cast(null as integer) as cause_concept_id,
        cast(null as varchar) as cause_source_value,
        cast(null as integer) as cause_source_concept_id
    from patients
    left join hospital_deaths on patients.subject_id = hospital_deaths.subject_id
    where patients.dod is not null
)

{{ cdm_select('final') }}
