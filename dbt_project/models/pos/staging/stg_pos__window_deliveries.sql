with

source as (
    select * from {{ source('raw_pos', 'window_deliveries') }}
),

renamed as (
    select
        region,
        cast(business_date as date) as business_date,
        store_id,
        cast(deliveries_expected as integer) as deliveries_expected,
        source_key,
        duplicate_of,
        cast(first_seen as timestamp) as first_seen,
        cast(window_complete as boolean) as window_complete
    from source
)

select * from renamed
