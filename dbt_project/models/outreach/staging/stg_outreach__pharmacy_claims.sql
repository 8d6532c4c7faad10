with

source as (
    select * from {{ source('curated_outreach', 'pharmacy_claims') }}
),

renamed as (
    select
        member_token,
        ndc,
        cast(fill_date as date) as fill_date,
        cast(days_supply as integer) as days_supply,
        prescriber_npi,
        delivery_id,
        rule_version
    from source
)

select * from renamed
