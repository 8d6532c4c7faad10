-- Every byte and request in the logs is in exactly one (hour, distribution, edge) row.
{{ config(meta={'dagster': {'ref': {'name': 'cloudfront_bandwidth_by_edge'}}}) }}

with

mart as (
    select sum(requests) as requests, sum(bytes_sent) as bytes_sent
    from {{ ref('cloudfront_bandwidth_by_edge') }}
),

logs as (
    select count(*) as requests, sum(bytes_sent) as bytes_sent
    from {{ ref('stg_cloudfront__access_logs') }}
)

select mart.requests, logs.requests as log_requests, mart.bytes_sent, logs.bytes_sent as log_bytes_sent
from mart
cross join logs
where mart.requests <> logs.requests or mart.bytes_sent <> logs.bytes_sent
