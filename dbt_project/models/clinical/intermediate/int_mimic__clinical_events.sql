{#- Every MIMIC record that becomes a CDM event, in one shape: who, when, which visit and which
    stay in a care unit (labs, charts and prescriptions: the stay whose [in, out) holds the
    event time), the source code to look up (vocabulary + code), the domain to use when the
    code is not in the vocabulary at all, and the values. Exclusions (documented in the YAML):
    chart events a caregiver marked as errors. -#}
with

admissions as (
    select * from {{ ref('stg_mimic__admissions') }}
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

stays as (
    select * from {{ ref('stg_mimic__transfers') }}
    where eventtype <> 'discharge'
),

diagnosis_events as (
    select
        'diagnoses_icd' as event_source,
        diagnoses.diagnosis_row_id as source_row_id,
        diagnoses.subject_id as person_id,
        diagnoses.hadm_id as visit_occurrence_id,
        admissions.admittime as start_datetime,
        admissions.dischtime as end_datetime,
        'ICD9CM' as source_vocabulary_id,
        {{ icd9cm_dotted('diagnoses.icd9_code') }} as source_code,
        diagnoses.icd9_code as source_value,
        'Condition' as default_domain_id,
        32817 as type_concept_id,
        cast(null as {{ type_double() }}) as value_as_number,
        cast(null as varchar) as value_as_string,
        cast(null as varchar) as unit_source_value,
        cast(null as integer) as provider_id,
        cast(null as varchar) as route_source_value,
        cast(null as varchar) as dose_source_value,
        cast(null as varchar) as dose_unit_source_value,
        diagnoses.seq_num
    from diagnoses
    left join admissions on diagnoses.hadm_id = admissions.hadm_id
),

procedure_events as (
    select
        'procedures_icd' as event_source,
        procedures.procedure_row_id as source_row_id,
        procedures.subject_id as person_id,
        procedures.hadm_id as visit_occurrence_id,
        admissions.admittime as start_datetime,
        admissions.dischtime as end_datetime,
        'ICD9Proc' as source_vocabulary_id,
        {{ icd9proc_dotted('procedures.icd9_code') }} as source_code,
        procedures.icd9_code as source_value,
        'Procedure' as default_domain_id,
        32817 as type_concept_id,
        cast(null as {{ type_double() }}) as value_as_number,
        cast(null as varchar) as value_as_string,
        cast(null as varchar) as unit_source_value,
        cast(null as integer) as provider_id,
        cast(null as varchar) as route_source_value,
        cast(null as varchar) as dose_source_value,
        cast(null as varchar) as dose_unit_source_value,
        procedures.seq_num
    from procedures
    left join admissions on procedures.hadm_id = admissions.hadm_id
),

lab_events as (
    select
        'labevents' as event_source,
        labevent_id as source_row_id,
        subject_id as person_id,
        hadm_id as visit_occurrence_id,
        charttime as start_datetime,
        charttime as end_datetime,
        'MIMIC d_labitems' as source_vocabulary_id,
        cast(itemid as varchar) as source_code,
        cast(itemid as varchar) as source_value,
        'Measurement' as default_domain_id,
        32856 as type_concept_id,
        valuenum as value_as_number,
        value as value_as_string,
        valueuom as unit_source_value,
        cast(null as integer) as provider_id,
        cast(null as varchar) as route_source_value,
        cast(null as varchar) as dose_source_value,
        cast(null as varchar) as dose_unit_source_value,
        cast(null as integer) as seq_num
    from labevents
),

chart_events as (
    select
        'chartevents' as event_source,
        chartevent_id as source_row_id,
        subject_id as person_id,
        hadm_id as visit_occurrence_id,
        charttime as start_datetime,
        charttime as end_datetime,
        'MIMIC d_items' as source_vocabulary_id,
        cast(itemid as varchar) as source_code,
        cast(itemid as varchar) as source_value,
        'Measurement' as default_domain_id,
        32817 as type_concept_id,
        valuenum as value_as_number,
        value as value_as_string,
        valueuom as unit_source_value,
        cgid as provider_id,
        cast(null as varchar) as route_source_value,
        cast(null as varchar) as dose_source_value,
        cast(null as varchar) as dose_unit_source_value,
        cast(null as integer) as seq_num
    from chartevents
    where coalesce(error, 0) = 0
),

drug_events as (
    select
        'prescriptions' as event_source,
        prescription_id as source_row_id,
        subject_id as person_id,
        hadm_id as visit_occurrence_id,
        startdate as start_datetime,
        enddate as end_datetime,
        'MIMIC drugs' as source_vocabulary_id,
        formulary_drug_cd as source_code,
        drug as source_value,
        'Drug' as default_domain_id,
        32838 as type_concept_id,
        cast(null as {{ type_double() }}) as value_as_number,
        cast(null as varchar) as value_as_string,
        cast(null as varchar) as unit_source_value,
        cast(null as integer) as provider_id,
        route as route_source_value,
        trim(coalesce(dose_val_rx, '') || ' ' || coalesce(dose_unit_rx, '')) as dose_source_value,
        dose_unit_rx as dose_unit_source_value,
        cast(null as integer) as seq_num
    from prescriptions
),

all_events as (
    select * from diagnosis_events
    union all
    select * from procedure_events
    union all
    select * from lab_events
    union all
    select * from chart_events
    union all
    select * from drug_events
),

in_stays as (
    select
        all_events.event_source,
        all_events.source_row_id,
        min(stays.transfer_id) as visit_detail_id
    from all_events
    inner join stays
        on
            all_events.visit_occurrence_id = stays.hadm_id
            and all_events.start_datetime >= stays.intime
            and all_events.start_datetime < stays.outtime
    where all_events.event_source in ('labevents', 'chartevents', 'prescriptions')
    group by all_events.event_source, all_events.source_row_id
),

final as (
    select
        all_events.*,
        in_stays.visit_detail_id
    from all_events
    left join in_stays
        on
            all_events.event_source = in_stays.event_source
            and all_events.source_row_id = in_stays.source_row_id
)

select * from final
