-- Each request in its windows: the tumbling minute it falls in, and the five sliding
-- 5-minute windows (1-minute hop) that contain its minute.
with

requests as (
    select * from {{ ref('int_cloudfront__realtime_requests') }}
),

hops as (
    select 0 as hop
    union all
    select 1
    union all
    select 2
    union all
    select 3
    union all
    select 4
),

tumbling as (
    select
        'tumbling_1m' as window_type,
        request_minute as window_start,
        {{ dbt.dateadd('minute', 1, 'request_minute') }} as window_end,
        60 as window_seconds,
        distribution,
        edge_location,
        client_ip,
        bytes_sent,
        is_bot
    from requests
),

sliding as (
    select
        'sliding_5m' as window_type,
        {{ dbt.dateadd('minute', '-hops.hop', 'requests.request_minute') }} as window_start,
        {{ dbt.dateadd('minute', '5 - hops.hop', 'requests.request_minute') }} as window_end,
        300 as window_seconds,
        requests.distribution,
        requests.edge_location,
        requests.client_ip,
        requests.bytes_sent,
        requests.is_bot
    from requests
    cross join hops
)

select * from tumbling
union all
select * from sliding
