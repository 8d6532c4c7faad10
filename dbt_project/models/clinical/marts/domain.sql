with

final as (
    select * from {{ omop_vocabulary('domain') }}
)

{{ cdm_select('final') }}
