{{ config(schema='omop_results') }}
{#- Source-to-CDM row counts, reconciled on every build. Per MIMIC table: rows delivered =
    rows excluded (documented below) + rows carried into the CDM. Per CDM event table: rows =
    mapped events routed to its domain (one per 'Maps to' target).
    Exclusions: chart events a caregiver marked as errors; transfer rows of type 'discharge'
    (the end of the previous stay, not a stay). -#}
with

patients as (
    select * from {{ ref('stg_mimic__patients') }}
),

admissions as (
    select * from {{ ref('stg_mimic__admissions') }}
),

transfers as (
    select * from {{ ref('stg_mimic__transfers') }}
),

diagnoses as (
    select * from {{ ref('stg_mimic__diagnoses_icd') }}
),

procedures as (
    select * from {{ ref('stg_mimic__procedures_icd') }}
),

labevents as (
    select * from {{ ref('stg_mimic__labevents') }}
),

chartevents as (
    select * from {{ ref('stg_mimic__chartevents') }}
),

prescriptions as (
    select * from {{ ref('stg_mimic__prescriptions') }}
),

events as (
    select * from {{ ref('int_mimic__events_mapped') }}
),

persons as (
    select * from {{ ref('person') }}
),

visits as (
    select * from {{ ref('visit_occurrence') }}
),

visit_details as (
    select * from {{ ref('visit_detail') }}
),

conditions as (
    select * from {{ ref('condition_occurrence') }}
),

procedure_occurrences as (
    select * from {{ ref('procedure_occurrence') }}
),

drugs as (
    select * from {{ ref('drug_exposure') }}
),

measurements as (
    select * from {{ ref('measurement') }}
),

observations as (
    select * from {{ ref('observation') }}
),

counts as (
    select
        'patients' as counted,
        count(*) as n
    from patients
    union all
    select
        'admissions' as counted,
        count(*) as n
    from admissions
    union all
    select
        'transfers' as counted,
        count(*) as n
    from transfers
    union all
    select
        'diagnoses_icd' as counted,
        count(*) as n
    from diagnoses
    union all
    select
        'procedures_icd' as counted,
        count(*) as n
    from procedures
    union all
    select
        'labevents' as counted,
        count(*) as n
    from labevents
    union all
    select
        'chartevents' as counted,
        count(*) as n
    from chartevents
    union all
    select
        'prescriptions' as counted,
        count(*) as n
    from prescriptions
    union all
    select
        'person' as counted,
        count(*) as n
    from persons
    union all
    select
        'visit_occurrence' as counted,
        count(*) as n
    from visits
    union all
    select
        'visit_detail' as counted,
        count(*) as n
    from visit_details
    union all
    select
        'condition_occurrence' as counted,
        count(*) as n
    from conditions
    union all
    select
        'procedure_occurrence' as counted,
        count(*) as n
    from procedure_occurrences
    union all
    select
        'drug_exposure' as counted,
        count(*) as n
    from drugs
    union all
    select
        'measurement' as counted,
        count(*) as n
    from measurements
    union all
    select
        'observation' as counted,
        count(*) as n
    from observations
    union all
    select
        'transfers excluded' as counted,
        count(*) as n
    from transfers
    where eventtype = 'discharge'
    union all
    select
        'chartevents excluded' as counted,
        count(*) as n
    from chartevents
    where coalesce(error, 0) <> 0
    union all
    select
        'events:' || event_source as counted,
        count(distinct source_row_id) as n
    from events
    group by event_source
    union all
    select
        'routed:' || cdm_domain as counted,
        count(*) as n
    from events
    group by cdm_domain
),

pairs as (
    select
        'patients' as source_table,
        'person' as cdm_table,
        'patients' as source_counted,
        '' as excluded_counted,
        'person' as target_counted
    union all
    select
        'admissions' as source_table,
        'visit_occurrence' as cdm_table,
        'admissions' as source_counted,
        '' as excluded_counted,
        'visit_occurrence' as target_counted
    union all
    select
        'transfers' as source_table,
        'visit_detail' as cdm_table,
        'transfers' as source_counted,
        'transfers excluded' as excluded_counted,
        'visit_detail' as target_counted
    union all
    select
        'diagnoses_icd' as source_table,
        'clinical events' as cdm_table,
        'diagnoses_icd' as source_counted,
        '' as excluded_counted,
        'events:diagnoses_icd' as target_counted
    union all
    select
        'procedures_icd' as source_table,
        'clinical events' as cdm_table,
        'procedures_icd' as source_counted,
        '' as excluded_counted,
        'events:procedures_icd' as target_counted
    union all
    select
        'labevents' as source_table,
        'clinical events' as cdm_table,
        'labevents' as source_counted,
        '' as excluded_counted,
        'events:labevents' as target_counted
    union all
    select
        'chartevents' as source_table,
        'clinical events' as cdm_table,
        'chartevents' as source_counted,
        'chartevents excluded' as excluded_counted,
        'events:chartevents' as target_counted
    union all
    select
        'prescriptions' as source_table,
        'clinical events' as cdm_table,
        'prescriptions' as source_counted,
        '' as excluded_counted,
        'events:prescriptions' as target_counted
    union all
    select
        'clinical events' as source_table,
        'condition_occurrence' as cdm_table,
        'routed:Condition' as source_counted,
        '' as excluded_counted,
        'condition_occurrence' as target_counted
    union all
    select
        'clinical events' as source_table,
        'procedure_occurrence' as cdm_table,
        'routed:Procedure' as source_counted,
        '' as excluded_counted,
        'procedure_occurrence' as target_counted
    union all
    select
        'clinical events' as source_table,
        'drug_exposure' as cdm_table,
        'routed:Drug' as source_counted,
        '' as excluded_counted,
        'drug_exposure' as target_counted
    union all
    select
        'clinical events' as source_table,
        'measurement' as cdm_table,
        'routed:Measurement' as source_counted,
        '' as excluded_counted,
        'measurement' as target_counted
    union all
    select
        'clinical events' as source_table,
        'observation' as cdm_table,
        'routed:Observation' as source_counted,
        '' as excluded_counted,
        'observation' as target_counted
),

final as (
    select
        pairs.source_table,
        pairs.cdm_table,
        coalesce(sources.n, 0) as source_rows,
        coalesce(excluded.n, 0) as excluded_rows,
        coalesce(targets.n, 0) as target_rows,
        coalesce(sources.n, 0) - coalesce(excluded.n, 0) = coalesce(targets.n, 0) as reconciles
    from pairs
    left join counts as sources on pairs.source_counted = sources.counted
    left join counts as excluded on pairs.excluded_counted = excluded.counted
    left join counts as targets on pairs.target_counted = targets.counted
)

select * from final
