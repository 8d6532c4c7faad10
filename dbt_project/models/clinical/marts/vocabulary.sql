with

final as (
    select * from {{ omop_vocabulary('vocabulary') }}
)

{{ cdm_select('final') }}
