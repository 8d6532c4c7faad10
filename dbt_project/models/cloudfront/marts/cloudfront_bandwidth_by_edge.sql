with

requests as (
    select * from {{ ref('int_cloudfront__requests_classified') }}
),

per_edge as (
    select
        request_hour,
        distribution_id,
        edge_location,
        cast(count(*) as bigint) as requests,
        cast(sum(bytes_sent) as bigint) as bytes_sent,
        sum(case when edge_result_type in ('Hit', 'RefreshHit') then 1 else 0 end) as cache_hits
    from requests
    group by request_hour, distribution_id, edge_location
),

bandwidth as (
    select
        request_hour,
        distribution_id,
        edge_location,
        requests,
        bytes_sent,
        -- Average over the whole hour, idle seconds included.
        cast(bytes_sent as {{ type_double() }}) * 8 / 3600 as avg_bandwidth_bps,
        cast(cache_hits as {{ type_double() }}) / requests as cache_hit_ratio
    from per_edge
)

select * from bandwidth
