-- Per campaign, questionnaire, question and response code: how many outreaches gave the response,
-- as a share of those that answered the question. The answers that count: a single-answer
-- question's last answer, each distinct code of a multi-select one (shares of those add up to more than 1).
with

outreaches as (
    select * from {{ ref('int_outreach__outreaches') }}
),

answers as (
    select * from {{ ref('int_outreach__answers') }}
),

campaigns as (
    select
        campaign,
        count(distinct outreach_id) as calls,
        count(distinct case when is_complete then outreach_id end) as completions
    from outreaches
    group by campaign
),

question_respondents as (
    select
        campaign,
        questionnaire,
        question_id,
        count(distinct outreach_id) as respondents
    from answers
    group by campaign, questionnaire, question_id
),

response_respondents as (
    select
        campaign,
        questionnaire,
        question_id,
        response_code,
        count(distinct outreach_id) as respondents
    from answers
    group by campaign, questionnaire, question_id, response_code
)

select
    response_respondents.campaign,
    response_respondents.questionnaire,
    response_respondents.question_id,
    response_respondents.response_code,
    cast(campaigns.calls as integer) as calls,
    cast(campaigns.completions as integer) as completions,
    cast(response_respondents.respondents as integer) as respondents,
    cast(response_respondents.respondents as {{ type_double() }})
    / question_respondents.respondents as share_of_respondents
from response_respondents
inner join question_respondents
    on
        response_respondents.campaign = question_respondents.campaign
        and response_respondents.questionnaire = question_respondents.questionnaire
        and response_respondents.question_id = question_respondents.question_id
inner join campaigns
    on response_respondents.campaign = campaigns.campaign
