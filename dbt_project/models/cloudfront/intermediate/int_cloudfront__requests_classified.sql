with

requests as (
    select * from {{ ref('stg_cloudfront__access_logs') }}
),

user_agents as (
    select * from {{ ref('stg_cloudfront__user_agents') }}
),

classified as (
    select
        requests.distribution_id,
        requests.requested_at,
        {{ dbt.date_trunc('hour', 'requests.requested_at') }} as request_hour,
        cast(requests.requested_at as date) as request_date,
        requests.edge_location,
        requests.client_ip,
        requests.edge_result_type,
        requests.bytes_sent,
        coalesce(user_agents.is_bot, false) as is_bot,
        user_agents.bot_name
    from requests
    left join user_agents
        on requests.user_agent = user_agents.user_agent
)

select * from classified
