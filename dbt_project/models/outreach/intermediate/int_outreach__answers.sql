-- The answers that count, per outreach and catalogue question: for a single-answer question its
-- last answer (highest answer_seq), for a multi-select question each distinct response code.
-- Answers to a question the catalogue does not hold (any more) have no answer type and are left out.
with

responses as (
    select * from {{ ref('int_outreach__responses_latest') }}
),

questions as (
    select * from {{ ref('int_outreach__catalogue_questions') }}
),

ranked as (
    select
        responses.outreach_id,
        responses.member_token,
        responses.campaign,
        responses.channel,
        responses.questionnaire,
        responses.question_id,
        questions.answers,
        responses.response_code,
        responses.answered_at,
        row_number() over (
            partition by responses.outreach_id, responses.questionnaire, responses.question_id
            order by responses.answer_seq desc
        ) as answer_rank
    from responses
    inner join questions
        on
            responses.questionnaire = questions.questionnaire
            and responses.question_id = questions.question_id
)

select
    outreach_id,
    member_token,
    campaign,
    channel,
    questionnaire,
    question_id,
    answers,
    response_code,
    min(answered_at) as answered_at
from ranked
where answers = 'multi' or answer_rank = 1
group by outreach_id, member_token, campaign, channel, questionnaire, question_id, answers, response_code
