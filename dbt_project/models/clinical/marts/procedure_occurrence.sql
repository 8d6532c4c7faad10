with

events as (
    select * from {{ ref('int_mimic__events_mapped') }}
    where cdm_domain = 'Procedure'
),

final as (
    select
        row_number() over (order by event_source, source_row_id, concept_id) as procedure_occurrence_id,
        person_id,
        concept_id as procedure_concept_id,
        cast(start_datetime as date) as procedure_date,
        start_datetime as procedure_datetime,
        cast(end_datetime as date) as procedure_end_date,
        end_datetime as procedure_end_datetime,
        type_concept_id as procedure_type_concept_id,
        cast(null as integer) as modifier_concept_id,
        cast(null as integer) as quantity,
        provider_id,
        visit_occurrence_id,
        visit_detail_id,
        source_value as procedure_source_value,
        source_concept_id as procedure_source_concept_id,
        cast(null as varchar) as modifier_source_value
    from events
)

{{ cdm_select('final') }}
