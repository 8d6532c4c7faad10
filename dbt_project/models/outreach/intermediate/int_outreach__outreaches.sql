-- One row per outreach and questionnaire: when it was answered, how many of the questionnaire's
-- catalogue questions it answered, and whether it answered all of them.
with

responses as (
    select * from {{ ref('int_outreach__responses_latest') }}
),

answers as (
    select * from {{ ref('int_outreach__answers') }}
),

questions as (
    select * from {{ ref('int_outreach__catalogue_questions') }}
),

outreaches as (
    select
        outreach_id,
        member_token,
        campaign,
        channel,
        questionnaire,
        min(answered_at) as first_answered_at,
        max(answered_at) as last_answered_at,
        max(delivery_id) as delivery_id
    from responses
    group by outreach_id, member_token, campaign, channel, questionnaire
),

answered as (
    select
        outreach_id,
        questionnaire,
        count(distinct question_id) as questions_answered
    from answers
    group by outreach_id, questionnaire
),

catalogue as (
    select
        questionnaire,
        count(*) as questions
    from questions
    group by questionnaire
)

select
    outreaches.outreach_id,
    outreaches.member_token,
    outreaches.campaign,
    outreaches.channel,
    outreaches.questionnaire,
    outreaches.first_answered_at,
    outreaches.last_answered_at,
    outreaches.delivery_id,
    cast(coalesce(answered.questions_answered, 0) as integer) as questions_answered,
    cast(coalesce(catalogue.questions, 0) as integer) as questions_in_catalogue,
    coalesce(catalogue.questions > 0 and answered.questions_answered >= catalogue.questions, false) as is_complete
from outreaches
left join answered
    on
        outreaches.outreach_id = answered.outreach_id
        and outreaches.questionnaire = answered.questionnaire
left join catalogue
    on outreaches.questionnaire = catalogue.questionnaire
