with

source as (
    select * from {{ source('raw_mimic', 'caregivers') }}
),

renamed as (
    select
        cgid,
        label,
        description
    from source
)

select * from renamed
