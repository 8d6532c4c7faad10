with

requests as (
    select * from {{ ref('int_cloudfront__requests_classified') }}
),

per_viewer as (
    select
        request_date,
        distribution_id,
        client_ip,
        cast(count(*) as bigint) as requests,
        cast(sum(bytes_sent) as bigint) as bytes_sent,
        cast(sum(case when is_bot then 1 else 0 end) as bigint) as bot_requests
    from requests
    where client_ip is not null
    group by request_date, distribution_id, client_ip
),

ranked as (
    select
        request_date,
        distribution_id,
        client_ip,
        requests,
        bytes_sent,
        bot_requests,
        -- Ties broken by address so the ranking is reproducible.
        cast(row_number() over (
            partition by request_date, distribution_id
            order by bytes_sent desc, client_ip asc
        ) as integer) as viewer_rank
    from per_viewer
),

top_viewers as (
    select
        request_date,
        distribution_id,
        viewer_rank,
        client_ip,
        requests,
        bytes_sent,
        bot_requests * 2 > requests as is_bot
    from ranked
    where viewer_rank <= 50
)

select * from top_viewers
