with

source as (
    select * from {{ source('raw_mimic', 'chartevents') }}
),

renamed as (
    select
        row_id as chartevent_id,
        subject_id,
        hadm_id,
        icustay_id,
        itemid,
        charttime,
        cgid,
        value,
        cast(valuenum as {{ type_double() }}) as valuenum,
        valueuom,
        error
    from source
)

select * from renamed
