with

events as (
    select * from {{ ref('int_mimic__events_mapped') }}
    where cdm_domain = 'Measurement'
),

units as (
    select * from {{ ref('int_omop__unit_concepts') }}
),

final as (
    select
        row_number() over (
            order by events.event_source, events.source_row_id, events.concept_id
        ) as measurement_id,
        events.person_id,
        events.concept_id as measurement_concept_id,
        cast(events.start_datetime as date) as measurement_date,
        events.start_datetime as measurement_datetime,
        cast(null as varchar) as measurement_time,
        events.type_concept_id as measurement_type_concept_id,
        cast(null as integer) as operator_concept_id,
        events.value_as_number,
        cast(null as integer) as value_as_concept_id,
        case when events.unit_source_value is not null then coalesce(units.unit_concept_id, 0) end as unit_concept_id,
        cast(null as {{ type_double() }}) as range_low,
        cast(null as {{ type_double() }}) as range_high,
        events.provider_id,
        events.visit_occurrence_id,
        events.visit_detail_id,
        events.source_value as measurement_source_value,
        events.source_concept_id as measurement_source_concept_id,
        events.unit_source_value,
        cast(null as integer) as unit_source_concept_id,
        substring(events.value_as_string, 1, 50) as value_source_value,
        cast(null as integer) as measurement_event_id,
        cast(null as integer) as meas_event_field_concept_id
    from events
    left join units on events.unit_source_value = units.unit_source_value
)

{{ cdm_select('final') }}
