with

source as (
    select * from {{ source('curated_outreach', 'members') }}
),

renamed as (
    select
        member_token,
        cast(birth_year as integer) as birth_year,
        phone_encrypted,
        email,
        zip3,
        state,
        plan,
        mrn_masked,
        delivery_id,
        cast(delivered_at as timestamp) as delivered_at,
        rule_version
    from source
)

select * from renamed
