{#- One visit detail per stay in a care unit or ward (MIMIC transfers; discharge events are the
    end of the last stay, not a stay). -#}
with

transfers as (
    select * from {{ ref('stg_mimic__transfers') }}
),

care_sites as (
    select * from {{ ref('care_site') }}
),

stays as (
    select
        *,
        coalesce(curr_careunit, 'WARD ' || cast(curr_wardid as varchar)) as unit
    from transfers
    where eventtype <> 'discharge'
),

final as (
    select
        stays.transfer_id as visit_detail_id,
        stays.subject_id as person_id,
        case when stays.curr_careunit is not null then 32037 else 9201 end as visit_detail_concept_id,
        cast(stays.intime as date) as visit_detail_start_date,
        stays.intime as visit_detail_start_datetime,
        cast(coalesce(stays.outtime, stays.intime) as date) as visit_detail_end_date,
        coalesce(stays.outtime, stays.intime) as visit_detail_end_datetime,
        32817 as visit_detail_type_concept_id,
        cast(null as integer) as provider_id,
        care_sites.care_site_id,
        stays.unit as visit_detail_source_value,
        0 as visit_detail_source_concept_id,
        0 as admitted_from_concept_id,
        cast(null as varchar) as admitted_from_source_value,
        cast(null as varchar) as discharged_to_source_value,
        0 as discharged_to_concept_id,
        lag(stays.transfer_id) over (
            partition by stays.hadm_id order by stays.intime, stays.transfer_id
        ) as preceding_visit_detail_id,
        cast(null as integer) as parent_visit_detail_id,
        stays.hadm_id as visit_occurrence_id
    from stays
    left join care_sites on stays.unit = care_sites.care_site_source_value
)

{{ cdm_select('final') }}
