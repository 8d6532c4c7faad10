with

source as (
    select * from {{ source('curated_outreach', 'response_unmapped') }}
),

renamed as (
    select
        outreach_id,
        member_token,
        campaign,
        channel,
        question_code,
        response,
        cast(answered_at as timestamp) as answered_at,
        reason,
        source_key,
        cast(record_number as bigint) as record_number,
        delivery_id,
        rule_version
    from source
)

select * from renamed
