{#- Clinical events with their standard concepts: one row per 'Maps to' target, routed to the
    CDM table of the target concept's domain. A code that has no mapping keeps concept 0 and
    its source concept; a code missing from the vocabulary keeps concept 0, source concept 0
    and the domain of the table it came from. Domains without an event table of their own go
    to observation, as the CDM conventions say. -#}
with

events as (
    select * from {{ ref('int_mimic__clinical_events') }}
),

source_to_standard as (
    select * from {{ ref('int_omop__source_to_standard') }}
),

mapped as (
    select
        events.event_source,
        events.source_row_id,
        events.person_id,
        events.visit_occurrence_id,
        events.start_datetime,
        events.end_datetime,
        events.source_vocabulary_id,
        events.source_code,
        events.source_value,
        events.default_domain_id,
        events.type_concept_id,
        events.value_as_number,
        events.value_as_string,
        events.unit_source_value,
        events.provider_id,
        events.route_source_value,
        events.dose_source_value,
        events.dose_unit_source_value,
        events.seq_num,
        events.visit_detail_id,
        coalesce(source_to_standard.target_concept_id, 0) as concept_id,
        coalesce(source_to_standard.source_concept_id, 0) as source_concept_id,
        coalesce(source_to_standard.target_domain_id, events.default_domain_id) as domain_id
    from events
    left join source_to_standard
        on
            events.source_vocabulary_id = source_to_standard.source_vocabulary_id
            and events.source_code = source_to_standard.source_code
),

final as (
    select
        event_source,
        source_row_id,
        person_id,
        visit_occurrence_id,
        start_datetime,
        end_datetime,
        source_vocabulary_id,
        source_code,
        source_value,
        default_domain_id,
        type_concept_id,
        value_as_number,
        value_as_string,
        unit_source_value,
        provider_id,
        route_source_value,
        dose_source_value,
        dose_unit_source_value,
        seq_num,
        visit_detail_id,
        concept_id,
        source_concept_id,
        domain_id,
        case
            when domain_id in ('Condition', 'Procedure', 'Drug', 'Measurement', 'Observation') then domain_id
            else 'Observation'
        end as cdm_domain
    from mapped
)

select * from final
