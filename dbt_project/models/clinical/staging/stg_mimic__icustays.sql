with

source as (
    select * from {{ source('raw_mimic', 'icustays') }}
),

renamed as (
    select
        icustay_id,
        hadm_id,
        subject_id,
        first_careunit,
        last_careunit,
        intime,
        outtime,
        cast(los as {{ type_double() }}) as los_days
    from source
)

select * from renamed
