with

events as (
    select * from {{ ref('int_mimic__events_mapped') }}
    where cdm_domain = 'Observation'
),

units as (
    select * from {{ ref('int_omop__unit_concepts') }}
),

final as (
    select
        row_number() over (
            order by events.event_source, events.source_row_id, events.concept_id
        ) as observation_id,
        events.person_id,
        events.concept_id as observation_concept_id,
        cast(events.start_datetime as date) as observation_date,
        events.start_datetime as observation_datetime,
        events.type_concept_id as observation_type_concept_id,
        events.value_as_number,
        substring(events.value_as_string, 1, 60) as value_as_string,
        cast(null as integer) as value_as_concept_id,
        cast(null as integer) as qualifier_concept_id,
        case when events.unit_source_value is not null then coalesce(units.unit_concept_id, 0) end as unit_concept_id,
        events.provider_id,
        events.visit_occurrence_id,
        events.visit_detail_id,
        events.source_value as observation_source_value,
        events.source_concept_id as observation_source_concept_id,
        events.unit_source_value,
        cast(null as varchar) as qualifier_source_value,
        substring(events.value_as_string, 1, 50) as value_source_value,
        cast(null as integer) as observation_event_id,
        cast(null as integer) as obs_event_field_concept_id
    from events
    left join units on events.unit_source_value = units.unit_source_value
)

{{ cdm_select('final') }}
