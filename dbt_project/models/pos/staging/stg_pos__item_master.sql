with

source as (
    select * from {{ source('raw_pos', 'item_master') }}
),

renamed as (
    select
        region,
        cast(business_date as date) as business_date,
        item_id,
        item_name,
        category,
        cast(valid_from as date) as valid_from
    from source
)

select * from renamed
