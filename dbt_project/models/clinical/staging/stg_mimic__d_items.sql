with

source as (
    select * from {{ source('raw_mimic', 'd_items') }}
),

renamed as (
    select
        itemid,
        label,
        dbsource,
        category,
        unitname,
        param_type
    from source
)

select * from renamed
