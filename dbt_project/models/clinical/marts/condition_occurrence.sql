with

events as (
    select * from {{ ref('int_mimic__events_mapped') }}
    where cdm_domain = 'Condition'
),

final as (
    select
        row_number() over (order by event_source, source_row_id, concept_id) as condition_occurrence_id,
        person_id,
        concept_id as condition_concept_id,
        cast(start_datetime as date) as condition_start_date,
        start_datetime as condition_start_datetime,
        cast(end_datetime as date) as condition_end_date,
        end_datetime as condition_end_datetime,
        type_concept_id as condition_type_concept_id,
        cast(null as integer) as condition_status_concept_id,
        cast(null as varchar) as stop_reason,
        provider_id,
        visit_occurrence_id,
        visit_detail_id,
        source_value as condition_source_value,
        source_concept_id as condition_source_concept_id,
        cast(seq_num as varchar) as condition_status_source_value
    from events
)

{{ cdm_select('final') }}
