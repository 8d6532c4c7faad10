{#- One care site per ICU care unit and per ward of the hospital. -#}
with

transfers as (
    select * from {{ ref('stg_mimic__transfers') }}
),

units as (
    select distinct
        coalesce(curr_careunit, 'WARD ' || cast(curr_wardid as varchar)) as care_site_source_value,
        curr_careunit is not null as is_icu
    from transfers
    where curr_careunit is not null or curr_wardid is not null
),

final as (
    select
        row_number() over (order by care_site_source_value) as care_site_id,
        care_site_source_value as care_site_name,
        case when is_icu then 32037 else 9201 end as place_of_service_concept_id,
        1 as location_id,
        care_site_source_value,
        case when is_icu then 'ICU' else 'WARD' end as place_of_service_source_value
    from units
)

{{ cdm_select('final') }}
