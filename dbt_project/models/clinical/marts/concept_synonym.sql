with

final as (
    select * from {{ omop_vocabulary('concept_synonym') }}
)

{{ cdm_select('final') }}
