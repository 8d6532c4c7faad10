with

final as (
    select * from {{ omop_vocabulary('concept_relationship') }}
)

{{ cdm_select('final') }}
