with

caregivers as (
    select * from {{ ref('stg_mimic__caregivers') }}
),

final as (
    select
        cgid as provider_id,
        cast(null as varchar) as provider_name,
        cast(null as varchar) as npi,
        cast(null as varchar) as dea,
        cast(null as integer) as specialty_concept_id,
        cast(null as integer) as care_site_id,
        cast(null as integer) as year_of_birth,
        cast(null as integer) as gender_concept_id,
        cast(cgid as varchar) as provider_source_value,
        label as specialty_source_value,
        cast(null as integer) as specialty_source_concept_id,
        cast(null as varchar) as gender_source_value,
        cast(null as integer) as gender_source_concept_id
    from caregivers
)

{{ cdm_select('final') }}
