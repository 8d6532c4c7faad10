-- The latest delivery containing an outreach wins for all of that outreach's rows: a re-delivered
-- outreach replaces every earlier answer, also those the new delivery no longer holds.
with

responses as (
    select * from {{ ref('stg_outreach__responses') }}
),

latest_deliveries as (
    select
        outreach_id,
        max(delivery_id) as delivery_id
    from responses
    group by outreach_id
),

latest as (
    select
        responses.outreach_id,
        responses.member_token,
        responses.campaign,
        responses.channel,
        responses.questionnaire,
        responses.question_id,
        responses.question_version,
        responses.answer_seq,
        responses.response_code,
        responses.answered_at,
        responses.delivery_id,
        responses.rule_version
    from responses
    inner join latest_deliveries
        on
            responses.outreach_id = latest_deliveries.outreach_id
            and responses.delivery_id = latest_deliveries.delivery_id
)

select * from latest
