with

events as (
    select * from {{ ref('int_mimic__events_mapped') }}
    where cdm_domain = 'Drug'
),

final as (
    select
        row_number() over (order by event_source, source_row_id, concept_id) as drug_exposure_id,
        person_id,
        concept_id as drug_concept_id,
        cast(start_datetime as date) as drug_exposure_start_date,
        start_datetime as drug_exposure_start_datetime,
        -- The end date is required; an order without one ran for its start day.
        cast(coalesce(end_datetime, start_datetime) as date) as drug_exposure_end_date,
        coalesce(end_datetime, start_datetime) as drug_exposure_end_datetime,
        cast(end_datetime as date) as verbatim_end_date,
        type_concept_id as drug_type_concept_id,
        cast(null as varchar) as stop_reason,
        cast(null as integer) as refills,
        cast(null as {{ type_double() }}) as quantity,
        cast(null as integer) as days_supply,
        dose_source_value as sig,
        cast(null as integer) as route_concept_id,
        cast(null as varchar) as lot_number,
        provider_id,
        visit_occurrence_id,
        visit_detail_id,
        substring(source_value, 1, 50) as drug_source_value,
        source_concept_id as drug_source_concept_id,
        substring(route_source_value, 1, 50) as route_source_value,
        substring(dose_unit_source_value, 1, 50) as dose_unit_source_value
    from events
)

{{ cdm_select('final') }}
