with

source as (
    select * from {{ source('raw_mimic', 'procedures_icd') }}
),

renamed as (
    select
        row_id as procedure_row_id,
        subject_id,
        hadm_id,
        seq_num,
        icd9_code
    from source
)

select * from renamed
