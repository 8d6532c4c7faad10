with

source as (
    select * from {{ source('raw_mimic', 'transfers') }}
),

renamed as (
    select
        row_id as transfer_id,
        subject_id,
        hadm_id,
        icustay_id,
        eventtype,
        curr_careunit,
        curr_wardid,
        intime,
        outtime
    from source
)

select * from renamed
