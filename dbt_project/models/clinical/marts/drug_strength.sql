with

final as (
    select * from {{ omop_vocabulary('drug_strength') }}
)

{{ cdm_select('final') }}
