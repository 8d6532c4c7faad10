with

final as (
    select * from {{ omop_vocabulary('relationship') }}
)

{{ cdm_select('final') }}
