{{ config(
    materialized='incremental',
    unique_key=['window_type', 'window_start', 'distribution', 'edge_location'],
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}
-- Upserted by window: a replayed range recomputes its windows to the same values.
with

windows as (
    select * from {{ ref('int_cloudfront__realtime_windows') }}
),

bandwidth as (
    select
        window_type,
        window_start,
        window_end,
        distribution,
        edge_location,
        cast(count(*) as bigint) as requests,
        cast(sum(bytes_sent) as bigint) as bytes_sent,
        cast(sum(bytes_sent) as {{ type_double() }}) * 8 / max(window_seconds) as bandwidth_bps,
        cast(sum(case when is_bot then 1 else 0 end) as bigint) as bot_requests
    from windows
    group by window_type, window_start, window_end, distribution, edge_location
)

select
    window_type,
    window_start,
    window_end,
    distribution,
    edge_location,
    requests,
    bytes_sent,
    bandwidth_bps,
    bot_requests,
    cast(bot_requests as {{ type_double() }}) / requests as bot_request_share
from bandwidth
