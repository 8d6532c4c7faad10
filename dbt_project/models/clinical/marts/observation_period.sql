{#- One period per person, from the first to the last date of any of their visits and events
    (MIMIC has no enrolment: the span of captured care is the best evidence of observation). -#}
with

visits as (
    select * from {{ ref('stg_mimic__admissions') }}
),

events as (
    select * from {{ ref('int_mimic__clinical_events') }}
),

spans as (
    select
        subject_id as person_id,
        admittime as start_datetime,
        dischtime as end_datetime
    from visits
    union all
    select
        person_id,
        start_datetime,
        coalesce(end_datetime, start_datetime) as end_datetime
    from events
),

final as (
    select
        person_id as observation_period_id,
        person_id,
        cast(min(start_datetime) as date) as observation_period_start_date,
        cast(max(end_datetime) as date) as observation_period_end_date,
        32817 as period_type_concept_id
    from spans
    where person_id is not null and start_datetime is not null
    group by person_id
)

{{ cdm_select('final') }}
