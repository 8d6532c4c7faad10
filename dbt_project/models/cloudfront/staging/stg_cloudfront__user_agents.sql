with

source as (
    select * from {{ source('raw_cloudfront', 'user_agents') }}
),

renamed as (
    select
        user_agent,
        is_bot,
        coalesce(bot_name, case when is_bot then 'unknown bot' end) as bot_name,
        browser,
        browser_version,
        os,
        device_class
    from source
)

select * from renamed
