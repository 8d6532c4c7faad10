with

requests as (
    select * from {{ ref('int_cloudfront__requests_classified') }}
),

bot_traffic as (
    select
        request_hour,
        distribution_id,
        bot_name,
        cast(count(*) as bigint) as requests,
        cast(sum(bytes_sent) as bigint) as bytes_sent
    from requests
    where is_bot
    group by request_hour, distribution_id, bot_name
)

select * from bot_traffic
