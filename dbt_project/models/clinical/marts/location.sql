{#- MIMIC comes from one hospital; patients' addresses are not in the data. -#}
with

final as (
    select
        1 as location_id,
        cast(null as varchar) as address_1,
        cast(null as varchar) as address_2,
        'Boston' as city,
        'MA' as state,
        cast(null as varchar) as zip,
        'Suffolk' as county,
        'hospital' as location_source_value,
        cast(null as integer) as country_concept_id,
        'United States' as country_source_value,
        cast(null as {{ type_double() }}) as latitude,
        cast(null as {{ type_double() }}) as longitude
)

{{ cdm_select('final') }}
