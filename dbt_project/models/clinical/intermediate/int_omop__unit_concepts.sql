{#- Standard unit concepts by their code (UCUM-style codes such as mg/dL match MIMIC's units). -#}
with

concepts as (
    select * from {{ ref('concept') }}
),

final as (
    select
        concept_code as unit_source_value,
        min(concept_id) as unit_concept_id
    from concepts
    where domain_id = 'Unit' and standard_concept = 'S' and invalid_reason is null
    group by concept_code
)

select * from final
