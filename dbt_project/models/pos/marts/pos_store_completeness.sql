with

deliveries as (
    select * from {{ ref('stg_pos__window_deliveries') }}
),

stores as (
    select
        region,
        business_date,
        store_id,
        max(deliveries_expected) as deliveries_expected,
        count(source_key) filter (where duplicate_of is null) as deliveries_received,
        min(first_seen) filter (where duplicate_of is null) as first_arrival,
        max(first_seen) filter (where duplicate_of is null) as last_arrival
    from deliveries
    group by region, business_date, store_id
)

select
    region,
    business_date,
    store_id,
    cast(deliveries_expected as integer) as deliveries_expected,
    cast(deliveries_received as integer) as deliveries_received,
    first_arrival,
    last_arrival,
    deliveries_received >= deliveries_expected as is_complete
from stores
