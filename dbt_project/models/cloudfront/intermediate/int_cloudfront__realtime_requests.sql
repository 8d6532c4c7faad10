-- Each request once (the first delivery of a retried record), within the allowed lateness,
-- with its minute and bot classification.
with

records as (
    select * from {{ ref('stg_cloudfront__realtime_records') }}
),

user_agents as (
    select * from {{ ref('stg_cloudfront__user_agents') }}
),

first_delivery as (
    select
        *,
        row_number() over (partition by request_id order by shard_id asc, sequence_number asc) as delivery
    from records
),

requests as (
    select
        first_delivery.request_id,
        first_delivery.requested_at,
        {{ dbt.date_trunc('minute', 'first_delivery.requested_at') }} as request_minute,
        first_delivery.distribution,
        first_delivery.edge_location,
        first_delivery.client_ip,
        first_delivery.bytes_sent,
        coalesce(user_agents.is_bot, false) as is_bot
    from first_delivery
    left join user_agents
        on first_delivery.user_agent = user_agents.user_agent
    where first_delivery.delivery = 1 and not first_delivery.is_late
)

select * from requests
