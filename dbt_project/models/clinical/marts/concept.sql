with

final as (
    select * from {{ omop_vocabulary('concept') }}
)

{{ cdm_select('final') }}
