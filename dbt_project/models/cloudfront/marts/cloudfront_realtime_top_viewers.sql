{{ config(
    materialized='incremental',
    unique_key=['window_type', 'window_start', 'distribution', 'viewer_rank'],
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}
with

windows as (
    select * from {{ ref('int_cloudfront__realtime_windows') }}
),

per_viewer as (
    select
        window_type,
        window_start,
        window_end,
        distribution,
        client_ip,
        cast(count(*) as bigint) as requests,
        cast(sum(bytes_sent) as bigint) as bytes_sent,
        cast(sum(case when is_bot then 1 else 0 end) as bigint) as bot_requests
    from windows
    where client_ip is not null
    group by window_type, window_start, window_end, distribution, client_ip
),

ranked as (
    select
        *,
        cast(row_number() over (
            partition by window_type, window_start, distribution
            order by bytes_sent desc, client_ip asc
        ) as integer) as viewer_rank
    from per_viewer
)

select
    window_type,
    window_start,
    window_end,
    distribution,
    viewer_rank,
    client_ip,
    requests,
    bytes_sent,
    bot_requests * 2 > requests as is_bot
from ranked
where viewer_rank <= 50
