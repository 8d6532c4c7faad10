with

source as (
    select * from {{ source('curated_outreach', 'responses') }}
),

renamed as (
    select
        outreach_id,
        member_token,
        campaign,
        channel,
        questionnaire,
        question_id,
        cast(question_version as integer) as question_version,
        cast(answer_seq as integer) as answer_seq,
        response_code,
        cast(answered_at as timestamp) as answered_at,
        delivery_id,
        rule_version
    from source
)

select * from renamed
