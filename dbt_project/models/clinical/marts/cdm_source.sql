with

vocabularies as (
    select * from {{ ref('vocabulary') }}
),

final as (
    select
        'DataPlatform clinical warehouse (MIMIC-III shaped)' as cdm_source_name,
        'DP-MIMIC' as cdm_source_abbreviation,
        'team:clinical-data' as cdm_holder,
        'MIMIC-III-shaped deliveries converted to the OMOP CDM v5.4 by the dataplatform dbt project.'
            as source_description,
        'https://mimic.mit.edu/docs/iii/' as source_documentation_reference,
        'dbt_project/models/clinical' as cdm_etl_reference,
        current_date as source_release_date,
        current_date as cdm_release_date,
        'v5.4' as cdm_version,
        {{ var('cdm_version_concept_id') }} as cdm_version_concept_id,
        (
            select max(vocabulary_version) from vocabularies
            where vocabulary_id = 'None'
        ) as vocabulary_version
)

{{ cdm_select('final') }}
