with

source as (
    select * from {{ source('raw_mimic', 'labevents') }}
),

renamed as (
    select
        row_id as labevent_id,
        subject_id,
        hadm_id,
        itemid,
        charttime,
        value,
        cast(valuenum as {{ type_double() }}) as valuenum,
        valueuom,
        flag
    from source
)

select * from renamed
