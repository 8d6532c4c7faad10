with

final as (
    select * from {{ omop_vocabulary('source_to_concept_map') }}
)

{{ cdm_select('final') }}
