with

source as (
    select * from {{ source('raw_mimic', 'prescriptions') }}
),

renamed as (
    select
        row_id as prescription_id,
        subject_id,
        hadm_id,
        icustay_id,
        startdate,
        enddate,
        drug,
        formulary_drug_cd,
        prod_strength,
        dose_val_rx,
        dose_unit_rx,
        route
    from source
)

select * from renamed
