with

source as (
    select * from {{ source('raw_mimic', 'patients') }}
),

renamed as (
    select
        subject_id,
        gender,
        dob,
        dod,
        dod_hosp,
        dod_ssn,
        expire_flag
    from source
)

select * from renamed
