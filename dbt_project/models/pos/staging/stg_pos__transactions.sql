with

source as (
    select * from {{ source('raw_pos', 'transactions') }}
),

renamed as (
    select
        region,
        store_id,
        cast(business_date as date) as business_date,
        vendor_id,
        item_id,
        cast(trans_type as integer) as trans_type,
        cast(trans_amount as decimal(18, 2)) as trans_amount,
        cast(trans_date as date) as trans_date,
        source_key,
        cast(line_number as bigint) as line_number
    from source
)

select * from renamed
