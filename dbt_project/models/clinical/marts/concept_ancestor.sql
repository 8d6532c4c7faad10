with

final as (
    select * from {{ omop_vocabulary('concept_ancestor') }}
)

{{ cdm_select('final') }}
