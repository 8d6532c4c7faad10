with

source as (
    select * from {{ source('raw_mimic', 'admissions') }}
),

renamed as (
    select
        hadm_id,
        subject_id,
        admittime,
        dischtime,
        deathtime,
        admission_type,
        admission_location,
        discharge_location,
        insurance,
        ethnicity,
        edregtime,
        edouttime,
        diagnosis,
        hospital_expire_flag
    from source
)

select * from renamed
