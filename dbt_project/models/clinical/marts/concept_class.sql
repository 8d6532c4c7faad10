with

final as (
    select * from {{ omop_vocabulary('concept_class') }}
)

{{ cdm_select('final') }}
