with

source as (
    select * from {{ source('raw_mimic', 'd_labitems') }}
),

renamed as (
    select
        itemid,
        label,
        fluid,
        category
    from source
)

select * from renamed
